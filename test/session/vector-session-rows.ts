/**
 * What each of these real-kubectl sessions was, written by hand from the vectors' own records
 * (test/fixtures/vectors/INDEX.tsv: the request line, the answer, kubectl's exit code and last
 * line; NAME.json: serverConfig and expectedSummary) and the rules stated in
 * src/session/session-facts.ts, never from the model's output.
 *
 * `vector` is the session's first connection; `conns` are its connections in order, with the
 * HTTP status each got (null: the socket closed unanswered). `rc` is kubectl's own exit code
 * from INDEX.tsv, which is not always the remote command's (kubectl exits 1 on a failed
 * status, 124 under the harness's timeout). Every vector's namespace is `default` and pod `p1`.
 */
import type { ConnectionRole, FallbackStory, SessionState } from '../../src/session/session-facts.js';
import type { SessionVerb } from '../../src/session/verb.js';
import type { SessionTarget, Transport } from '../../src/events/types.js';

export interface SessionRow {
  vector: string;
  rc: number;
  verb: SessionVerb;
  target: SessionTarget;
  conns: [ConnectionRole, number | null][];
  transport: Transport | null;
  protocol: string | null;
  fallback: Pick<FallbackStory, 'status' | 'reason' | 'answeredBy'> | null;
  exitCode: number | null;
  state: SessionState;
  /** Who closed the TCP connections: the server after a status or a refusal; kubectl stops a port-forward itself (its GOAWAY comes first). */
  closedBy: 'client' | 'upstream';
}

const target = (command: string[], o: { tty?: boolean; stdin?: boolean } = {}): SessionTarget => ({
  namespace: 'default', pod: 'p1', container: 'c1', command, tty: o.tty ?? false, stdin: o.stdin ?? false,
});
const ECHO_HI = target(['echo', 'hi']);
const EXIT_3 = target(['sh', '-c', 'exit 3']);
const TTY_SH = target(['sh'], { tty: true, stdin: true });
const CP_IN = target(['tar', '-xmf', '-', '-C', '/tmp'], { stdin: true });
const PORT_FORWARD: SessionTarget = { namespace: 'default', pod: 'p1', container: null, command: [], tty: false, stdin: false };

const V4 = 'v4.channel.k8s.io';
const V5 = 'v5.channel.k8s.io';
const PF = 'portforward.k8s.io';
const TUNNEL = 'SPDY/3.1+portforward.k8s.io';

/** kubectl's exec: a WebSocket exec or a SPDY one that ran to its status. */
const exec = (vector: string, transport: 'websocket' | 'spdy', t: SessionTarget, exitCode: number, rc = exitCode): SessionRow => ({
  vector, rc, verb: 'exec', target: t, conns: [['stream', 101]], transport, protocol: transport === 'websocket' ? V5 : V4,
  fallback: null, exitCode, state: 'done', closedBy: 'upstream',
});

/** A WebSocket exec refused (`status`, `reason`), then its SPDY retry that ran `echo hi`. */
const execFallback = (vector: string, status: number, reason: string, answeredBy: FallbackStory['answeredBy']): SessionRow => ({
  vector, rc: 0, verb: 'exec', target: ECHO_HI, conns: [['attempt', status], ['fallback', 101]], transport: 'spdy', protocol: V4,
  fallback: { status, reason, answeredBy }, exitCode: 0, state: 'done', closedBy: 'upstream',
});

/** The same for port-forward's tunnel and its SPDY retry. */
const pfFallback = (vector: string, status: number, reason: string, answeredBy: FallbackStory['answeredBy']): SessionRow => ({
  vector, rc: 0, verb: 'port-forward', target: PORT_FORWARD, conns: [['attempt', status], ['fallback', 101]], transport: 'spdy', protocol: PF,
  fallback: { status, reason, answeredBy }, exitCode: null, state: 'done', closedBy: 'client',
});

/** A remote command whose status is a Failure without an exit code: kubectl prints it and exits 1. */
const statusFailure = (vector: string, command: string[]): SessionRow => ({
  vector, rc: 1, verb: 'exec', target: target(command), conns: [['stream', 101]], transport: 'spdy', protocol: V4,
  fallback: null, exitCode: null, state: 'failed', closedBy: 'upstream',
});

const NO_PROTOCOL = '101 rejected: the 101 has no Sec-WebSocket-Protocol';
const chose = (p: string): string => `101 rejected: the 101 chose the subprotocol ${p}, which kubectl did not offer`;
// RFC 6455 §4.2.2 for the key kubectl sent (gyXjzYHx8xHwtVbf5Uwerw==): base64(SHA-1(key + GUID)).
const BAD_ACCEPT = '101 rejected: the 101 has a wrong Sec-WebSocket-Accept (AAAAAAAAAAAAAAAAAAAAAAAAAAA=, expected HyX5oWLehXB0gGIoy3aSH4XiW38= for the key kubectl sent)';

export const SESSION_ROWS: SessionRow[] = [
  // Plain exec, both transports and all three kubectl versions.
  exec('kubectl1.33-exec-ws-v5', 'websocket', ECHO_HI, 0),
  exec('kubectl1.30-exec-ws-v5', 'websocket', ECHO_HI, 0),
  exec('kubectl1.33-exec-spdy', 'spdy', ECHO_HI, 0),
  exec('kubectl1.27-exec-spdy', 'spdy', ECHO_HI, 0),
  // A non-zero exit is the command's, not a failed session.
  exec('kubectl1.33-exec-exit3-ws-v5', 'websocket', EXIT_3, 3),
  exec('kubectl1.27-exec-exit3-spdy', 'spdy', EXIT_3, 3),
  exec('kubectl1.30-exec-statussplit-ws-v5', 'websocket', target(['sh', '-c', 'exit 4']), 4),
  exec('kubectl1.33-exec-tty-ws-v5', 'websocket', TTY_SH, 5),
  exec('kubectl1.27-exec-tty-spdy', 'spdy', TTY_SH, 5),
  exec('kubectl1.33-exec-stdin-ws-v5', 'websocket', target(['cat'], { stdin: true }), 0),

  // cp into the pod: `test -d` probes the destination (it exits 1: a file, not a directory), then tar runs.
  { vector: 'kubectl1.33-exec-cpin-ws-v5', rc: 0, verb: 'cp', target: CP_IN, conns: [['request', 101], ['stream', 101]], transport: 'websocket', protocol: V5, fallback: null, exitCode: 0, state: 'done', closedBy: 'upstream' },
  { vector: 'kubectl1.27-exec-cpin-spdy', rc: 0, verb: 'cp', target: CP_IN, conns: [['request', 101], ['stream', 101]], transport: 'spdy', protocol: V4, fallback: null, exitCode: 0, state: 'done', closedBy: 'upstream' },
  { vector: 'kubectl1.33-exec-cpinbig-spdy', rc: 0, verb: 'cp', target: CP_IN, conns: [['request', 101], ['stream', 101]], transport: 'spdy', protocol: V4, fallback: null, exitCode: 0, state: 'done', closedBy: 'upstream' },
  // cp out of the pod: one tar, no probe.
  { vector: 'kubectl1.33-exec-cpout-ws-v5', rc: 0, verb: 'cp', target: target(['tar', 'cf', '-', '/data/remote.txt']), conns: [['stream', 101]], transport: 'websocket', protocol: V5, fallback: null, exitCode: 0, state: 'done', closedBy: 'upstream' },
  { vector: 'kubectl1.27-exec-cpoutbig-spdy', rc: 0, verb: 'cp', target: target(['tar', 'cf', '-', '/data/big.bin']), conns: [['stream', 101]], transport: 'spdy', protocol: V4, fallback: null, exitCode: 0, state: 'done', closedBy: 'upstream' },

  // Every way the WebSocket exec was refused, and the SPDY retry that followed. The refusals are
  // the fake API server's Status bodies; a 101 kubectl rejects names nothing but the headers.
  execFallback('kubectl1.33-exec-fb-400-ws-rejected-400', 400, '400 Bad Request', 'api-server'),
  execFallback('kubectl1.30-exec-fb-400-ws-rejected-400', 400, '400 Bad Request', 'api-server'),
  execFallback('kubectl1.33-exec-fb-403-ws-rejected-403', 403, '403 Forbidden', 'api-server'),
  execFallback('kubectl1.30-exec-fb-403-ws-rejected-403', 403, '403 Forbidden', 'api-server'),
  execFallback('kubectl1.33-exec-fb-404-ws-rejected-404', 404, '404 Not Found', 'api-server'),
  execFallback('kubectl1.33-exec-fb-500-ws-rejected-500', 500, '500 Internal Server Error', 'api-server'),
  execFallback('kubectl1.33-exec-fb-noproto-ws-101-noproto', 101, NO_PROTOCOL, 'unknown'),
  execFallback('kubectl1.30-exec-fb-noproto-ws-101-noproto', 101, NO_PROTOCOL, 'unknown'),
  execFallback('kubectl1.33-exec-fb-wrongproto-ws-101-wrongproto', 101, chose('v99.bogus.k8s.io'), 'unknown'),
  execFallback('kubectl1.33-exec-fb-badaccept-ws-badaccept-v5', 101, BAD_ACCEPT, 'unknown'),
  // kubectl 1.33 offers only v5 over WebSocket; a v4 answer is a protocol it did not offer.
  execFallback('kubectl1.33-exec-fb-v4answer-ws-v4', 101, chose(V4), 'unknown'),
  // The socket closed unanswered: kubectl does not retry ("error: unexpected EOF", exit 1).
  { vector: 'kubectl1.33-exec-fb-close-ws-rejected-close', rc: 1, verb: 'exec', target: ECHO_HI, conns: [['attempt', null]], transport: null, protocol: null, fallback: null, exitCode: null, state: 'failed', closedBy: 'upstream' },
  { vector: 'kubectl1.30-exec-fb-close-ws-rejected-close', rc: 1, verb: 'exec', target: ECHO_HI, conns: [['attempt', null]], transport: null, protocol: null, fallback: null, exitCode: null, state: 'failed', closedBy: 'upstream' },

  // Both refused: the fallback happened (the refusals differ: "websocket upgrade" and "SPDY upgrade"), and failed too.
  { vector: 'kubectl1.33-exec-fbboth-403-403-ws-rejected-403', rc: 1, verb: 'exec', target: ECHO_HI, conns: [['attempt', 403], ['attempt', 403]], transport: null, protocol: null, fallback: { status: 403, reason: '403 Forbidden', answeredBy: 'api-server' }, exitCode: null, state: 'failed', closedBy: 'upstream' },
  { vector: 'kubectl1.33-exec-fbboth-400-close-ws-rejected-400', rc: 1, verb: 'exec', target: ECHO_HI, conns: [['attempt', 400], ['attempt', null]], transport: null, protocol: null, fallback: { status: 400, reason: '400 Bad Request', answeredBy: 'api-server' }, exitCode: null, state: 'failed', closedBy: 'upstream' },
  { vector: 'kubectl1.33-exec-fbboth-noproto-403-ws-101-noproto', rc: 1, verb: 'exec', target: ECHO_HI, conns: [['attempt', 101], ['attempt', 403]], transport: null, protocol: null, fallback: { status: 101, reason: NO_PROTOCOL, answeredBy: 'unknown' }, exitCode: null, state: 'failed', closedBy: 'upstream' },
  // kubectl 1.27 speaks only SPDY: its refusal is no fallback.
  { vector: 'kubectl1.27-exec-spdyrej-403-spdy-rejected-403', rc: 1, verb: 'exec', target: ECHO_HI, conns: [['attempt', 403]], transport: null, protocol: null, fallback: null, exitCode: null, state: 'failed', closedBy: 'upstream' },

  // Port-forward: SPDY, the WebSocket tunnel, and the tunnel's fallbacks.
  { vector: 'kubectl1.33-portforward-spdy', rc: 0, verb: 'port-forward', target: PORT_FORWARD, conns: [['stream', 101]], transport: 'spdy', protocol: PF, fallback: null, exitCode: null, state: 'done', closedBy: 'client' },
  { vector: 'kubectl1.27-portforward-spdy', rc: 0, verb: 'port-forward', target: PORT_FORWARD, conns: [['stream', 101]], transport: 'spdy', protocol: PF, fallback: null, exitCode: null, state: 'done', closedBy: 'client' },
  { vector: 'kubectl1.33-portforward-ws-tunnel-spdy', rc: 0, verb: 'port-forward', target: PORT_FORWARD, conns: [['stream', 101]], transport: 'websocket+spdy', protocol: TUNNEL, fallback: null, exitCode: null, state: 'done', closedBy: 'client' },
  { vector: 'kubectl1.30-portforward-ws-tunnel-spdy', rc: 0, verb: 'port-forward', target: PORT_FORWARD, conns: [['stream', 101]], transport: 'websocket+spdy', protocol: TUNNEL, fallback: null, exitCode: null, state: 'done', closedBy: 'client' },
  pfFallback('kubectl1.33-portforward-pffb-400-ws-rejected-400', 400, '400 Bad Request', 'api-server'),
  pfFallback('kubectl1.33-portforward-pffb-403-ws-rejected-403', 403, '403 Forbidden', 'api-server'),
  pfFallback('kubectl1.30-portforward-pffb-403-ws-rejected-403', 403, '403 Forbidden', 'api-server'),
  pfFallback('kubectl1.33-portforward-pffb-404-ws-rejected-404', 404, '404 Not Found', 'api-server'),
  pfFallback('kubectl1.33-portforward-pffb-noproto-ws-101-noproto', 101, NO_PROTOCOL, 'unknown'),
  { vector: 'kubectl1.33-portforward-pffb-close-ws-rejected-close', rc: 1, verb: 'port-forward', target: PORT_FORWARD, conns: [['attempt', null]], transport: null, protocol: null, fallback: null, exitCode: null, state: 'failed', closedBy: 'upstream' },
  { vector: 'kubectl1.33-portforward-pffbboth-403-403-ws-rejected-403', rc: 1, verb: 'port-forward', target: PORT_FORWARD, conns: [['attempt', 403], ['attempt', 403]], transport: null, protocol: null, fallback: { status: 403, reason: '403 Forbidden', answeredBy: 'api-server' }, exitCode: null, state: 'failed', closedBy: 'upstream' },

  // Status failures: the command never gave an exit code.
  statusFailure('kubectl1.27-exec-status1-spdy', ['__status', '{"metadata":{},"status":"Failure","message":"Internal error occurred: error executing command in container: fake failure","reason":"InternalError","details":{"causes":[{"message":"error executing command in container: fake failure"}]},"code":500}', 'out1']),
  statusFailure('kubectl1.27-exec-status3-spdy', ['__status', '{"metadata":{},"status":"Failure","message":"plain failure without reason"}', 'out3']),
  statusFailure('kubectl1.33-exec-status4-spdy', ['__status', 'not json at all', 'out4']),
];
