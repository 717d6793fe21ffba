/**
 * `src/events/event.schema.json` against the events the code really emits: every event of
 * every vector, and hand-built connections (encoded with the project's own WebSocket and SPDY
 * encoders) that reach the event types and fields no vector produces. Plus negative cases, so
 * the schema is known to reject what it must.
 */
import Ajv2020 from 'ajv/dist/2020.js';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { describe, expect, it } from 'vitest';
import { AnomalyCode } from '../../src/events/anomaly-codes.js';
import { decodeCaptureSync } from '../../src/codec/capture-decode.js';
import type { ConnectionDecoderOptions } from '../../src/codec/connection-decoder.js';
import {
  encodeControlFrame,
  encodeDataFrame,
  encodeGoaway,
  encodeHeaders,
  encodePing,
  encodeRstStream,
  encodeSettings,
  encodeSynReply,
  encodeSynStream,
  encodeWindowUpdate,
  SpdyHeaderBlockDeflater,
} from '../../src/codec/spdy-encode.js';
import { encodeClosePayload, encodeWsFrame, type WsFrameSpec } from '../../src/codec/websocket-encode.js';
import { EVENT_SCHEMA } from '../../src/events/schema.js';
import { frameOf } from '../../src/events/frames.js';
import { EventStamper, timestampMicros } from '../../src/events/stamp.js';
import { EVENT_SCHEMA_VERSION, type KubewireEvent } from '../../src/events/types.js';
import { decodeAll } from '../support/decode.js';
import { loadVector, vectorNames, vectorsAvailable } from '../support/vectors.js';

// ajv is CommonJS: under NodeNext the default import is the module object for TypeScript.
const Ajv = Ajv2020 as unknown as typeof Ajv2020.default;
const ajv = new Ajv({ strict: true, allErrors: true });
const validate = ajv.compile(EVENT_SCHEMA);
const validateSummary = ajv.getSchema(`${EVENT_SCHEMA.$id}#/$defs/ConnectionSummary`)!;

// -- reporting ----------------------------------------------------------------------------------

function shorten(v: unknown): unknown {
  if (typeof v === 'string') return v.length > 120 ? `${v.slice(0, 120)}…(${v.length} chars)` : v;
  if (Array.isArray(v)) return v.map(shorten);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, shorten(x)]));
  return v;
}

/** ajv's errors, one per line, without the `must match "then" schema` echo of each if/then. */
function describeErrors(errors: ErrorObject[] | null | undefined): string {
  return (errors ?? [])
    .filter((e) => e.keyword !== 'if')
    .map((e) => `  ${e.instancePath || '/'} ${e.message ?? e.keyword} ${JSON.stringify(e.params)} (${e.schemaPath})`)
    .join('\n');
}

/** The first event that does not validate, described readably; null when all do. */
function firstInvalid(events: readonly unknown[], label: string, check: ValidateFunction = validate): string | null {
  for (const ev of events) {
    if (check(ev)) continue;
    return `${label}: invalid event\n${JSON.stringify(shorten(ev), null, 2)}\n${describeErrors(check.errors)}`;
  }
  return null;
}

// -- hand-built connections ---------------------------------------------------------------------

const MASK = Buffer.from([0x11, 0x22, 0x33, 0x44]);
const bytes = (data: string | number[] | Uint8Array): Buffer =>
  typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data);
/** A client frame (masked, as RFC 6455 requires) and a server frame (unmasked). */
const cf = (opcode: number, data: string | number[] | Uint8Array = [], spec: Partial<WsFrameSpec> = {}): Buffer =>
  encodeWsFrame({ opcode, payload: bytes(data), mask: MASK, ...spec });
const sf = (opcode: number, data: string | number[] | Uint8Array = [], spec: Partial<WsFrameSpec> = {}): Buffer =>
  encodeWsFrame({ opcode, payload: bytes(data), ...spec });
/** A k8s channel message body: the channel byte, then the payload. */
const ch = (channel: number, data: string | number[] = []): Buffer => Buffer.concat([Buffer.from([channel]), bytes(data)]);

const EXEC_TARGET = '/api/v1/namespaces/default/pods/p1/exec?command=sh&stdin=true&stdout=true';
const PF_TARGET = '/api/v1/namespaces/default/pods/p1/portforward';

const wsRequest = (target: string, protocol: string): string =>
  `GET ${target} HTTP/1.1\r\nHost: k\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n`
  + `Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: ${protocol}\r\nUser-Agent: kubectl/v1.33.0\r\nKubectl-Session: 5e55-10n\r\n`
  + 'Kubectl-Command: kubectl exec\r\nAuthorization: Bearer abc.def\r\n\r\n';
const wsResponse = (protocol: string): string =>
  `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Protocol: ${protocol}\r\n\r\n`;
const spdyRequest = (target: string, versions: string[]): string =>
  `POST ${target} HTTP/1.1\r\nHost: k\r\nUpgrade: SPDY/3.1\r\nConnection: Upgrade\r\n`
  + versions.map((v) => `X-Stream-Protocol-Version: ${v}\r\n`).join('') + '\r\n';
const spdyResponse = (version: string): string =>
  `HTTP/1.1 101 Switching Protocols\r\nUpgrade: SPDY/3.1\r\nConnection: Upgrade\r\nX-Stream-Protocol-Version: ${version}\r\n\r\n`;

interface Scenario {
  name: string;
  c2s: Buffer;
  s2c: Buffer;
}

const scenario = (name: string, c2s: (string | Buffer)[], s2c: (string | Buffer)[]): Scenario => ({
  name,
  c2s: Buffer.concat(c2s.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : p))),
  s2c: Buffer.concat(s2c.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : p))),
});

const EXIT3 = JSON.stringify({
  metadata: {}, status: 'Failure', message: 'command terminated with non-zero exit code: 3', reason: 'NonZeroExitCode',
  details: { causes: [{ reason: 'ExitCode', message: '3' }] },
});
const SUCCESS = JSON.stringify({ metadata: {}, status: 'Success' });

function wsExecV5(): Scenario {
  return scenario('websocket v5 exec', [
    wsRequest(EXEC_TARGET, 'v5.channel.k8s.io, v4.channel.k8s.io'),
    cf(2, ch(0, 'ls -l\n')),
    cf(2, ch(4, '{"Width":80,"Height":24}')),
    cf(9, 'ping'),
    cf(2, [0xff, 0]),
    cf(8, encodeClosePayload(1000, 'bye')),
  ], [
    wsResponse('v5.channel.k8s.io'),
    sf(2, [1]),
    sf(2, ch(1, 'total 0\n')),
    sf(2, ch(2, 'warn'), { fin: false }),
    sf(10, 'ping'),
    sf(0, 'ing\n'),
    sf(2, ch(3, EXIT3.slice(0, 20))),
    sf(2, ch(3, EXIT3.slice(20))),
    sf(8, encodeClosePayload(1000)),
  ]);
}

function wsAnomalies(): Scenario {
  return scenario('websocket v5 anomalies, server cut off mid-frame', [
    wsRequest(EXEC_TARGET, 'v5.channel.k8s.io'),
    sf(2, ch(0, 'unmasked')),
    cf(2, ch(0, 'rsv'), { rsv: 4 }),
    cf(3, 'reserved'),
    cf(2, ch(7, 'seven')),
    cf(2, [0xff, 0, 1]),
    cf(1, ch(0, 'text')),
    cf(2, ch(4, '{"Width":"wide"}')),
    cf(2, ch(4, '{"Width":')),
    cf(9, new Uint8Array(126)),
    cf(8, [3]),
    cf(2, ch(0, 'after close')),
  ], [
    wsResponse('v5.channel.k8s.io'),
    sf(2, ch(1, 'hello')).subarray(0, 4),
  ]);
}

function wsBase64V4(): Scenario {
  const b64 = (channel: number, data: string): string => `${channel}${Buffer.from(data).toString('base64')}`;
  return scenario('websocket v4 base64 exec', [
    wsRequest(EXEC_TARGET, 'v4.base64.channel.k8s.io'),
    cf(1, b64(0, 'echo hi\n')),
    cf(1, '0not*base64'),
    cf(1, 'xAAAA'),
  ], [
    wsResponse('v4.base64.channel.k8s.io'),
    sf(1, b64(1, 'hi\n')),
    sf(1, b64(3, SUCCESS)),
    sf(8, encodeClosePayload(4000, 'app')),
  ]);
}

function wsOpaque(): Scenario {
  return scenario('websocket with an unknown subprotocol (ws.data)', [
    wsRequest('/api/v1/namespaces/default/pods/p1/attach?stdin=true', 'x.kubewire.test'),
    cf(1, 'hello'),
    cf(2, [1, 2, 3], { fin: false }),
    cf(0, [4, 5]),
    cf(0, 'orphan continuation'),
  ], [
    wsResponse('x.kubewire.test'),
    sf(2, new Uint8Array(300)),
    sf(8),
  ]);
}

function wsLegacyPortForward(): Scenario {
  return scenario('legacy websocket port-forward (pf.error with requestId null, channel)', [
    wsRequest(`${PF_TARGET}?ports=8080`, 'v4.channel.k8s.io'),
    cf(2, ch(0, 'GET / HTTP/1.1\r\n\r\n')),
    cf(2, ch(2, 'nothing here')),
  ], [
    wsResponse('v4.channel.k8s.io'),
    sf(2, [0, 0x90, 0x1f]),
    sf(2, [1, 0x91, 0x1f, ...bytes('connection refused')]),
    sf(2, ch(0, 'HTTP/1.1 200 OK\r\n\r\n')),
  ]);
}

function spdyExec(): Scenario {
  const dc = new SpdyHeaderBlockDeflater();
  const ds = new SpdyHeaderBlockDeflater();
  const syn = (streamId: number, type: string, fin = false): Buffer =>
    encodeSynStream({ streamId, fin, priority: 2, headerBlock: dc.deflate([['streamtype', type]]) });
  const reply = (streamId: number, fin = false): Buffer => encodeSynReply({ streamId, fin, headerBlock: ds.deflate([]) });
  return scenario('SPDY v4 exec with every frame type', [
    spdyRequest(`${EXEC_TARGET}&tty=true`, ['v4.channel.k8s.io', 'v3.channel.k8s.io']),
    syn(1, 'error'),
    syn(3, 'stdin'),
    syn(5, 'stdout'),
    syn(7, 'resize'),
    encodeSettings([{ id: 7, value: 65536 }, { id: 4, flags: 1, value: 100 }], true),
    encodePing(1),
    encodeDataFrame(3, bytes('ls\n')),
    encodeDataFrame(3, new Uint8Array(0), true),
    encodeDataFrame(7, bytes('{"Width":80,"Height":24}{"Width":100,"Height":30}')),
    encodeWindowUpdate(5, 1000),
    encodeHeaders({ streamId: 5, headerBlock: dc.deflate([['x-extra', ['a', 'b']]]) }),
    encodeControlFrame(5, 0, bytes([0, 0, 0, 1])),
    encodeControlFrame(10, 0, bytes([0, 1, 2])),
    encodeControlFrame(6, 0, bytes([0, 0, 0, 2]), 2),
    encodeControlFrame(6, 0, bytes([0, 0, 0])),
    encodeDataFrame(99, bytes('?')),
    encodeSynStream({ streamId: 4, unidirectional: true, assocStreamId: 1, slot: 3, headerBlock: dc.deflate([['streamtype', 'data']]) }),
    encodeDataFrame(5, bytes('abc')).subarray(0, 9),
  ], [
    spdyResponse('v4.channel.k8s.io'),
    reply(1),
    reply(3, true),
    reply(5),
    reply(7),
    encodePing(1),
    encodeDataFrame(5, bytes('total 0\n')),
    encodeDataFrame(5, new Uint8Array(0), true),
    encodeDataFrame(1, bytes(EXIT3), true),
    encodeRstStream(7, 5),
    encodeRstStream(9, 99),
    encodeGoaway(7, 0),
    encodeGoaway(7, 42),
  ]);
}

function spdyPortForward(): Scenario {
  const dc = new SpdyHeaderBlockDeflater();
  const ds = new SpdyHeaderBlockDeflater();
  return scenario('SPDY port-forward', [
    spdyRequest(PF_TARGET, ['portforward.k8s.io']),
    encodeSynStream({ streamId: 1, headerBlock: dc.deflate([['streamtype', 'error'], ['port', '8080'], ['requestid', '0']]) }),
    encodeSynStream({ streamId: 3, headerBlock: dc.deflate([['streamtype', 'data'], ['port', '8080'], ['requestid', '0']]) }),
    encodeDataFrame(3, bytes('GET / HTTP/1.1\r\n\r\n')),
    encodeDataFrame(1, new Uint8Array(0), true),
    encodeSynStream({ streamId: 5, headerBlock: dc.deflate([['streamtype', 'data'], ['port', 'http']]) }),
    encodeDataFrame(5, bytes('x')),
  ], [
    spdyResponse('portforward.k8s.io'),
    encodeSynReply({ streamId: 1, headerBlock: ds.deflate([]) }),
    encodeSynReply({ streamId: 3, headerBlock: ds.deflate([]) }),
    encodeDataFrame(3, bytes('HTTP/1.1 200 OK\r\n\r\n')),
    encodeDataFrame(1, bytes('error forwarding port 8080 to pod p1: connection refused'), true),
  ]);
}

function tunnelPortForward(): Scenario {
  const dc = new SpdyHeaderBlockDeflater();
  const ds = new SpdyHeaderBlockDeflater();
  const c2sSpdy = Buffer.concat([
    encodeSynStream({ streamId: 1, headerBlock: dc.deflate([['streamtype', 'error'], ['port', '80'], ['requestid', '0']]) }),
    encodeSynStream({ streamId: 3, headerBlock: dc.deflate([['streamtype', 'data'], ['port', '80'], ['requestid', '0']]) }),
    encodeDataFrame(3, bytes('GET /')),
    encodeDataFrame(3, bytes('more')).subarray(0, 10),
  ]);
  const s2cSpdy = Buffer.concat([
    encodeSynReply({ streamId: 1, headerBlock: ds.deflate([]) }),
    encodeSynReply({ streamId: 3, headerBlock: ds.deflate([]) }),
    encodeDataFrame(3, bytes('HTTP/1.1 200 OK')),
    encodeDataFrame(1, bytes('tunnel error'), true),
    encodeRstStream(3, 5),
  ]);
  return scenario('port-forward tunnel (SPDY in WebSocket)', [
    wsRequest(PF_TARGET, 'SPDY/3.1+portforward.k8s.io'),
    cf(2, c2sSpdy.subarray(0, 4)),
    cf(2, c2sSpdy.subarray(4, 30)),
    cf(1, 'text is refused'),
    cf(2, c2sSpdy.subarray(30)),
  ], [
    wsResponse('SPDY/3.1+portforward.k8s.io'),
    sf(2, s2cSpdy.subarray(0, 7), { fin: false }),
    sf(0, s2cSpdy.subarray(7)),
  ]);
}

function plainHttp(): Scenario {
  const created = '{"kind":"Pod","metadata":{"name":"p1"}}';
  return scenario('plain HTTP with bodies', [
    `POST /api/v1/namespaces/default/pods HTTP/1.1\r\nHost: k\r\nContent-Type: application/json\r\nContent-Length: ${created.length}\r\n\r\n${created}`,
    'PUT /upload HTTP/1.1\r\nHost: k\r\nContent-Length: 4\r\n\r\n',
    bytes([0, 1, 2, 3]),
    'GET /api/v1/namespaces/default/pods/p1/log?container=c1 HTTP/1.1\r\nHost: k\r\n\r\n',
  ], [
    `HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nAudit-Id: 0b8c\r\nServer: kube\r\nContent-Length: ${created.length}\r\n\r\n${created}`,
    'HTTP/1.1 100 Continue\r\n\r\n',
    'HTTP/1.1 204 No Content\r\n\r\n',
    'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n',
  ]);
}

function refusedUpgrade(): Scenario {
  const status = '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"pods \\"p1\\" is forbidden","reason":"Forbidden","code":403}';
  return scenario('refused upgrade with a Status body', [wsRequest(EXEC_TARGET, 'v5.channel.k8s.io')], [
    `HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\nContent-Length: ${status.length}\r\n\r\n${status}`,
  ]);
}

function brokenHttp(): Scenario {
  return scenario('bytes that are not HTTP; a cut-off head', ['\x16\x03\x01\x02\x00 not http\r\n\r\n'], ['HTTP/1.1 200 OK\r\nContent-Le']);
}

function unanswered(): Scenario {
  return scenario('upgrade never answered, client bytes held', [
    spdyRequest('/exec/default/p1/c1?cmd=ls&output=1', ['v4.channel.k8s.io']),
    encodePing(1),
  ], []);
}

function spdyNoVersion(): Scenario {
  return scenario('SPDY 101 without a version; a header block that does not inflate', [
    spdyRequest(EXEC_TARGET, ['v5.channel.k8s.io']),
  ], [
    'HTTP/1.1 101 Switching Protocols\r\nUpgrade: SPDY/3.1\r\nConnection: Upgrade\r\n\r\n',
    encodeDataFrame(1, bytes('x')),
    encodeSynReply({ streamId: 1, headerBlock: bytes('not zlib at all') }),
    encodePing(3),
  ]);
}

function unknownUpgrade(): Scenario {
  return scenario('101 for an upgrade kubewire does not decode; a header line without a colon', [
    'GET / HTTP/1.1\r\nHost: k\r\nno colon here\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n',
    bytes([0x50, 0x52, 0x49]),
  ], [
    'HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n',
    bytes([0, 0, 0, 4]),
  ]);
}

const SCENARIOS: Scenario[] = [
  wsExecV5(), wsAnomalies(), wsBase64V4(), wsOpaque(), wsLegacyPortForward(), spdyExec(), spdyPortForward(),
  tunnelPortForward(), plainHttp(), refusedUpgrade(), brokenHttp(), unanswered(), spdyNoVersion(), unknownUpgrade(),
];

const MODES: [string, ConnectionDecoderOptions][] = [
  ['payload full', {}],
  ['payload head (2 bytes)', { payload: 'head', headBytes: 2 }],
  ['payload none', { payload: 'none' }],
  ['payload head, no digests', { payload: 'head', digests: false }],
];

/** The parts of the schema the tests read. */
const SCHEMA = EVENT_SCHEMA as unknown as {
  properties: { type: { enum: string[] } };
  $defs: Record<string, { const?: unknown; enum?: unknown[] }>;
};
const ALL_TYPES = SCHEMA.properties.type.enum;

// -- tests ------------------------------------------------------------------------------------------

describe('event.schema.json', () => {
  it('is in step with the code', () => {
    expect(EVENT_SCHEMA.$id).toBe('https://kubewire.dev/schemas/event-v2.json');
    expect(SCHEMA.$defs['SchemaVersion']?.const).toBe(EVENT_SCHEMA_VERSION);
    expect([...(SCHEMA.$defs['AnomalyCode']?.enum ?? [])].sort()).toEqual(Object.values(AnomalyCode).sort());
  });

  describe('accepts every event of hand-built connections', () => {
    const seenTypes = new Set<string>();
    const seenFrames = new Set<string>();
    const seenCodes = new Set<string>();
    for (const s of SCENARIOS) {
      for (const [mode, options] of MODES) {
        it(`${s.name}, ${mode}`, () => {
          const { events } = decodeAll([s.c2s], [s.s2c], options);
          expect(events.length).toBeGreaterThan(0);
          for (const e of events) {
            seenTypes.add(e.type);
            const frame = frameOf(e);
            if (frame?.type === 'spdy.frame') seenFrames.add(frame.frame);
            if (e.type === 'decode.anomaly') seenCodes.add(e.code);
          }
          expect(firstInvalid(events, s.name)).toBeNull();
        });
      }
    }

    it('as live events too (ts, session, conn)', () => {
      for (const s of SCENARIOS) {
        const stamper = new EventStamper();
        const events: KubewireEvent[] = [];
        decodeCaptureSync([s.c2s], [s.s2c], ({ body, note }) =>
          events.push(stamper.stamp(body, note, { ts: timestampMicros(Date.now(), 123.4), session: 'sess-1', conn: 'conn-7' })));
        expect(events[0]).toHaveProperty('ts');
        expect(firstInvalid(events, `${s.name} (live)`)).toBeNull();
      }
    });

    it('reaches every decoder event type, SPDY frame type and several anomaly codes', () => {
      // Events of the proxy shell (proxy.*, conn.open/close, sink.*) are checked by the proxy
      // tests, the audit chain's (audit.*) by the audit tests.
      const decoderTypes = ALL_TYPES.filter((t) => !/^(proxy\.|sink\.|audit\.|conn\.(open|close)$|finding$)/.test(t));
      expect([...seenTypes].sort()).toEqual([...decoderTypes].sort());
      expect([...seenFrames].sort()).toEqual(
        ['CREDENTIAL', 'DATA', 'GOAWAY', 'HEADERS', 'PING', 'RST_STREAM', 'SETTINGS', 'SYN_REPLY', 'SYN_STREAM', 'UNKNOWN', 'WINDOW_UPDATE'],
      );
      expect(seenCodes.size).toBeGreaterThanOrEqual(15);
    });
  });

  describe('rejects events that break it', () => {
    const { events } = decodeAll([wsExecV5().c2s], [wsExecV5().s2c]);
    const find = (type: string): Record<string, unknown> => {
      const e = events.find((x) => x.type === type);
      if (!e) throw new Error(`no ${type} event`);
      return structuredClone(e) as unknown as Record<string, unknown>;
    };
    const cases: [name: string, event: () => Record<string, unknown>, keyword: string, path: string][] = [
      ['unknown type', () => ({ ...find('k8s.data'), type: 'k8s.bogus' }), 'enum', '/type'],
      ['missing note', () => { const e = find('k8s.data'); delete e['note']; return e; }, 'required', ''],
      ['missing seq', () => { const e = find('conn.end'); delete e['seq']; return e; }, 'required', ''],
      ['extra property', () => ({ ...find('k8s.data'), extra: 1 }), 'additionalProperties', ''],
      ['a field of another type', () => ({ ...find('k8s.resize'), channel: 4 }), 'additionalProperties', ''],
      ['bad dir', () => ({ ...find('ws.frame'), dir: 'up' }), 'enum', '/dir'],
      ['dir fixed by the type', () => ({ ...find('k8s.resize'), dir: 's2c' }), 'const', '/dir'],
      ['schema version 3', () => ({ ...find('k8s.data'), v: 3 }), 'const', '/v'],
      ['seq 0', () => ({ ...find('k8s.data'), seq: 0 }), 'minimum', '/seq'],
      ['ts not RFC 3339', () => ({ ...find('k8s.data'), ts: '21/11/2026 10:57' }), 'pattern', '/ts'],
      ['payload not base64', () => ({ ...find('k8s.data'), payload: 'no base64!' }), 'pattern', '/payload'],
      ['size not an integer', () => ({ ...find('k8s.data'), size: 1.5 }), 'type', '/size'],
      ['truncated not boolean', () => ({ ...find('k8s.data'), truncated: 'yes' }), 'type', '/truncated'],
      ['bad ws kind', () => ({ ...find('ws.frame'), kind: 'binaryish' }), 'enum', '/kind'],
      ['bad stream name', () => ({ ...find('k8s.data'), stream: 'stdout2' }), 'pattern', '/stream'],
      ['bad spdy frame name', () => ({ ...find('k8s.data'), type: 'spdy.frame', frame: 'PUSH_PROMISE', flags: 0, fin: false, length: 0, channel: undefined, stream: undefined, size: undefined }), 'enum', '/frame'],
      ['unknown anomaly code', () => ({ v: 1, seq: 1, type: 'decode.anomaly', layer: 'websocket', code: 'KW_NOPE', message: 'x', opaque: false, note: '' }), 'enum', '/code'],
      ['unknown anomaly layer', () => ({ v: 1, seq: 1, type: 'decode.anomaly', layer: 'tls', code: 'KW_TRUNCATED', message: 'x', opaque: false, note: '' }), 'enum', '/layer'],
      ['bad stack semantics', () => ({ ...find('decode.stack'), semantics: 'channel-v6' }), 'enum', '/semantics'],
      ['summary missing a key', () => { const e = find('conn.summary'); delete (e['summary'] as Record<string, unknown>)['anomalies']; return e; }, 'required', '/summary'],
      ['summary with an extra key', () => { const e = find('conn.summary'); (e['summary'] as Record<string, unknown>)['extra'] = 0; return e; }, 'additionalProperties', '/summary'],
      ['digest not sha256 hex', () => { const e = find('conn.summary'); ((e['summary'] as { streams: Record<string, { sha256: string }> }).streams['stdout']!).sha256 = 'abc'; return e; }, 'pattern', '/summary/streams/stdout/sha256'],
      ['header line not a pair', () => ({ ...find('upgrade.request'), headers: [['Host']] }), 'minItems', '/headers/0'],
    ];
    for (const [name, make, keyword, path] of cases) {
      it(name, () => {
        const ev = JSON.parse(JSON.stringify(make())) as unknown;
        expect(validate(ev), `accepted ${JSON.stringify(shorten(ev))}`).toBe(false);
        const hits = (validate.errors ?? []).filter((e) => e.keyword === keyword && e.instancePath === path);
        expect(hits, `expected a ${keyword} error at ${path || '/'}, got\n${describeErrors(validate.errors)}`).not.toEqual([]);
      });
    }
  });
});

const available = vectorsAvailable();

describe.skipIf(!available)('event.schema.json accepts every event of every vector', () => {
  const names = available ? vectorNames() : [];
  // A handful of different kinds, decoded again with the reduced payload modes.
  const reduced = new Set(
    ['-ws-v5', '-spdy', 'ws-tunnel', 'pferr-spdy', 'rejected-403', 'cpoutbig', 'statussplit', 'noproto']
      .map((part) => names.find((n) => n.includes(part)))
      .filter((n): n is string => n !== undefined),
  );
  for (const name of names) {
    it(name, () => {
      const v = loadVector(name);
      expect(firstInvalid([v.expectedSummary], `${name} expectedSummary`, validateSummary)).toBeNull();
      const { events } = decodeAll([v.c2s], [v.s2c]);
      expect(firstInvalid(events, name)).toBeNull();
      if (!reduced.has(name)) return;
      for (const payload of ['head', 'none'] as const) {
        expect(firstInvalid(decodeAll([v.c2s], [v.s2c], { payload }).events, `${name} --payload ${payload}`)).toBeNull();
      }
    });
  }
});
