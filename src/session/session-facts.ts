/**
 * One kubectl command: every connection and request that shares its `session` id (the proxy
 * takes it from the `Kubectl-Session` header, which the pod GET, the WebSocket attempt and its
 * SPDY fallback all carry; src/session/connection-ids.ts), and the story they tell. Each rule
 * of that story is stated once, here:
 *
 * - **Fallback.** kubectl 1.30+ tries WebSocket first and, when the upgrade fails for any
 *   reason, retries over SPDY on a new connection at once (client-go
 *   tools/remotecommand/fallback.go, protocol.md B §8). A failed WebSocket attempt followed,
 *   within FALLBACK_GRACE_MS of its end, by a SPDY upgrade for the same pod subresource is a
 *   fallback, unless the API server refused both with the same Status: then the request itself
 *   was wrong (a container that does not exist, a pod that is gone), not its transport.
 * - **The stream.** The connection that carried the command: the last upgrade kubectl
 *   accepted (the handshake verdict), or for `logs -f` and `get -w` the streaming GET. kubectl
 *   cp's `test -d` probe runs before the copy and is not the stream.
 * - **Exit code.** The status of the stream connection, and only of it (a probe's exit 1 or a
 *   refused attempt's Status never counts).
 * - **Target.** The stream's request, else the last upgrade's, else the first request that
 *   names a pod.
 * - **Verb.** src/session/verb.ts.
 * - **State.** `live` while a connection is open; `failed` when nothing carried the command,
 *   the stream reported a failure, or it was cut (no status where one is due, closed by the
 *   upstream or by an error); else `done`.
 *
 * The facts are updated in O(1) per event; the story is derived on demand and cached until
 * the next event.
 */
import type { K8sRequestInfo, KubewireEvent, SessionTarget, SessionUser, Transport } from '../events/types.js';
import { parseTsMillis } from '../events/stamp.js';
import { attribute, clip, type AnsweredBy } from './answered-by.js';
import { ConnectionFacts } from './connection-facts.js';
import { isCopyProbe, streamingQuery, verbOf, type SessionVerb } from './verb.js';

/** How long after a failed WebSocket attempt kubectl's SPDY retry may start and still be its fallback. */
export const FALLBACK_GRACE_MS = 3000;
/** Connections remembered per session; a kubectl command makes a handful. */
const MAX_CONNECTIONS = 256;
/** API-server refusals that are about the upgrade, not the request (apimachinery httpstream, upgradeaware). */
const TRANSPORT_REFUSAL = /Upgrade request required|missing upgrade headers|no tunneling spdy protocols|unable to upgrade|unable to negotiate protocol/i;
/** Session-level errors remembered. */
const MAX_SESSION_ERRORS = 8;
/** Rule ids remembered per session. */
const MAX_FINDING_RULES = 64;
/** Semantics whose servers always write a status before they end a remote command. */
const STATUS_SEMANTICS = new Set(['channel-v4', 'base64-v4', 'channel-v5', 'spdy-v4', 'spdy-v5']);

export type ConnectionRole = 'request' | 'attempt' | 'fallback' | 'stream';
export type SessionState = 'live' | 'done' | 'failed';

export interface ConnectionStory {
  id: string;
  role: ConnectionRole;
  status: number | null;
  /** The upgrade's transport (`websocket+spdy` for the tunnel), or `http` for a plain request. */
  transport: Transport | 'http';
  protocol: string | null;
  /** The request's path without its query: what a connection asked for when it names no pod (a watch, a service proxy). */
  path: string | null;
}

export interface FallbackStory {
  /** The failed attempt's HTTP status, or null when it got no answer. */
  status: number | null;
  /** Why kubectl rejected it: `403 Forbidden`, `101 rejected: …`, `no answer`. */
  reason: string;
  answeredBy: AnsweredBy;
  from: string;
  to: string;
}

export interface TranslationStory {
  from: string;
  to: string;
  /** The upstream leg's conn id. */
  upstream: string;
  /** What kubewire negotiated upstream. */
  protocol: string | null;
  /** The upstream leg's bytes: what the cluster received and sent (the story's are kubectl's). */
  bytes: { c2s: number; s2c: number };
}

export interface SessionStory {
  session: string;
  verb: SessionVerb;
  target: SessionTarget;
  connections: ConnectionStory[];
  /** The stream connection's id, or null when nothing carried the command. */
  stream: string | null;
  transport: Transport | null;
  protocol: string | null;
  fallback: FallbackStory | null;
  /**
   * `--translate`: kubewire answered the client's upgrade and carried it over another
   * transport upstream. The stream is the client's leg (what kubectl saw); `upstream` is the
   * leg kubewire opened, with its transport and protocol.
   */
  translation: TranslationStory | null;
  exitCode: number | null;
  /** The stream's `Status.status` (Success, Failure), or null. */
  status: string | null;
  statusReason: string | null;
  bytes: { c2s: number; s2c: number };
  /** Payload bytes of the stream's stdin, stdout and stderr. */
  streams: { stdin: number; stdout: number; stderr: number };
  start: string | null;
  end: string | null;
  durationMs: number | null;
  findings: string[];
  state: SessionState;
  /** Why the session failed, in plain words; null unless `state` is `failed`. */
  failure: string | null;
  kubectlCommand: string | null;
  userAgent: string | null;
  requests: number;
  ports: number[];
  /**
   * `kubewire gateway`: the user who made the session's connections (the first that names one;
   * the gateway keeps one user's connections out of another's session), or null.
   */
  user: SessionUser | null;
}

export class SessionFacts {
  readonly conns = new Map<string, ConnectionFacts>();
  /** Connections that made an upgrade request (WebSocket or SPDY), in order. */
  readonly upgrades: ConnectionFacts[] = [];
  /** Bumped by every event. */
  version = 0;
  firstTs: string | null = null;
  lastTs: string | null = null;
  kubectlCommand: string | null = null;
  userAgent: string | null = null;
  requests = 0;
  anomalies = 0;
  readonly findingRules: string[] = [];
  /** kubewire's own errors about the session that name no connection (bounded). */
  readonly errors: string[] = [];
  findingCount = 0;
  /** Set by the model once no more connections can join (every one ended, the grace passed). */
  settled = false;
  /**
   * How it settled: `quiet` (every connection ended and the grace passed) or `end` (the input
   * ended first: the proxy stopped, the log was read to its end); null while unsettled. The
   * audit record says whether a command was over or cut short by kubewire stopping.
   */
  settledBy: 'quiet' | 'end' | null = null;
  private cached: { version: number; story: SessionStory } | undefined;

  constructor(readonly id: string) {}

  /** Takes one event of this session; returns the connection it was about, and whether it ended with it. */
  add(e: KubewireEvent): { conn: ConnectionFacts | null; connEnded: boolean } {
    this.version++;
    if (e.type !== 'finding' && e.ts !== undefined) {
      // A finding is about the session, not activity of it: it neither moves its clock nor keeps it from settling.
      this.firstTs ??= e.ts;
      this.lastTs = e.ts;
    }
    if (e.type === 'finding') {
      this.findingCount++;
      if (!this.findingRules.includes(e.rule) && this.findingRules.length < MAX_FINDING_RULES) this.findingRules.push(e.rule);
      return { conn: null, connEnded: false };
    }
    if (e.conn === undefined && e.session !== undefined) {
      // About the session, not a connection (kubewire refused a request before it had one:
      // closed-mode audit's 503). It must not become a connection that never ends.
      if (e.type === 'proxy.error' && this.errors.length < MAX_SESSION_ERRORS) this.errors.push(e.message);
      return { conn: null, connEnded: false };
    }
    const c = this.conn(e.conn ?? '');
    const hadRequest = c.request !== null;
    const connEnded = c.add(e);
    if (e.type === 'decode.anomaly') this.anomalies++;
    if (!hadRequest && c.request !== null) {
      this.requests++;
      this.kubectlCommand ??= c.request.kubectlCommand;
      this.userAgent ??= c.request.userAgent;
      if (c.request.type === 'upgrade.request') this.upgrades.push(c);
    }
    return { conn: c, connEnded };
  }

  get lastMs(): number | null {
    return parseTsMillis(this.lastTs);
  }

  /** Every connection has ended (its facts are complete). */
  allEnded(): boolean {
    for (const c of this.conns.values()) if (!c.ended) return false;
    return true;
  }

  story(): SessionStory {
    if (this.cached?.version !== this.version) this.cached = { version: this.version, story: this.tell() };
    return this.cached.story;
  }

  private tell(): SessionStory {
    const conns = [...this.conns.values()].filter((c) => c.request !== null || c.open !== null || c.proxyErrors.length > 0);
    const roles = new Map<ConnectionFacts, ConnectionRole>();
    for (const c of conns) roles.set(c, 'request');
    const fallback = this.fallback(roles);
    const stream = this.stream(conns);
    if (stream && !roles.has(stream)) roles.set(stream, 'stream');
    else if (stream && roles.get(stream) === 'request') roles.set(stream, 'stream');
    const streamInfo = stream?.request?.k8s ?? null;
    const named = streamInfo ?? last(this.upgrades)?.request?.k8s ?? conns.find((c) => c.request?.k8s)?.request?.k8s ?? null;
    const verb = verbOf(streamInfo ?? last(this.upgrades)?.request?.k8s ?? null, this.kubectlCommand, conns.some((c) => c.request?.k8s?.operation === 'log'),
      conns.some((c) => streamingQuery(c.request?.target) === 'watch'));
    const live = conns.some((c) => !c.ended);
    const bytes = { c2s: 0, s2c: 0 };
    // A translation's upstream leg carries the same command again: the bytes are kubectl's.
    for (const c of conns) {
      if (isUpstreamLeg(c)) continue;
      const b = c.bytes;
      bytes.c2s += b.c2s;
      bytes.s2c += b.s2c;
    }
    const start = parseTsMillis(this.firstTs);
    const end = parseTsMillis(this.lastTs);
    const failure = live ? null : this.failure(conns, stream, verb);
    return {
      session: this.id,
      verb,
      target: targetOf(named),
      connections: conns.map((c) => ({ id: c.conn, role: roles.get(c)!, status: c.response?.status ?? null, transport: transportOf(c), protocol: c.response?.protocol ?? null, path: c.request?.path ?? null })),
      stream: stream?.conn ?? null,
      transport: stream?.isUpgrade ? transportOf(stream) as Transport : null,
      protocol: stream?.isUpgrade ? stream.response?.protocol ?? null : null,
      fallback,
      translation: translationOf(conns),
      exitCode: stream?.exitCode ?? null,
      status: stream?.status?.status ?? null,
      statusReason: stream?.status?.reason ?? null,
      bytes,
      streams: {
        stdin: stream?.streamBytes.get('stdin') ?? 0,
        stdout: stream?.streamBytes.get('stdout') ?? 0,
        stderr: stream?.streamBytes.get('stderr') ?? 0,
      },
      start: this.firstTs,
      end: live ? null : this.lastTs,
      durationMs: start !== null && end !== null ? Math.max(0, Math.round(end - start)) : null,
      findings: [...this.findingRules],
      state: live ? 'live' : failure ? 'failed' : 'done',
      failure,
      kubectlCommand: this.kubectlCommand,
      userAgent: this.userAgent,
      requests: this.requests,
      ports: portsOf(conns, named),
      user: conns.find((c) => c.user !== null)?.user ?? null,
    };
  }

  /** Marks attempts and fallbacks in `roles`; returns the last fallback, if any. */
  private fallback(roles: Map<ConnectionFacts, ConnectionRole>): FallbackStory | null {
    let found: FallbackStory | null = null;
    this.upgrades.forEach((c, i) => {
      if (!c.failedUpgrade) return;
      roles.set(c, 'attempt');
      const retry = retryOf(c, this.upgrades, i);
      // Until the retry's answer is complete, a same refusal cannot be told from a fallback.
      if (!retry || !answerComplete(retry) || sameRefusal(c, retry)) return;
      roles.set(retry, retry.failedUpgrade ? 'attempt' : 'fallback');
      found = { status: c.response?.status ?? null, reason: refusalOf(c), answeredBy: attribute(c).answeredBy, from: c.conn, to: retry.conn };
    });
    return found;
  }

  private stream(conns: ConnectionFacts[]): ConnectionFacts | null {
    const accepted = this.upgrades.filter((c) => c.accepted && !isUpstreamLeg(c));
    const real = accepted.filter((c) => !isCopyProbe(c.request?.k8s?.command ?? []));
    const upgrade = last(real) ?? last(accepted);
    if (upgrade) return upgrade;
    return last(conns.filter((c) => !c.isUpgrade && (c.request?.k8s?.operation === 'log' || streamingQuery(c.request?.target) !== null))) ?? null;
  }

  private failure(conns: ConnectionFacts[], stream: ConnectionFacts | null, verb: SessionVerb): string | null {
    const broken = conns.find((c) => c.proxyErrors.length > 0 && c.response === null);
    if (broken) return broken.proxyErrors[0]!.message;
    if (conns.length === 0 && this.errors.length > 0) return this.errors[0]!;
    if (this.upgrades.length > 0 && !this.upgrades.some((c) => c.accepted)) {
      const tried = last(this.upgrades)!;
      return `${this.upgrades.length > 1 ? 'every upgrade refused, last: ' : 'upgrade refused: '}${describeRefusal(tried)}`;
    }
    if (!stream) {
      const answered = last(conns.filter((c) => c.response !== null));
      if (!answered) return conns.length ? 'no response' : null;
      return answered.response!.status >= 400 ? describeRefusal(answered) : null;
    }
    if (!stream.isUpgrade) {
      if (stream.response && stream.response.status >= 400) return describeRefusal(stream);
      return stream.close?.closedBy === 'error' ? stream.close.error ?? 'connection error' : null;
    }
    const s = stream.status;
    if (s && s.exitCode === null && s.status !== null && s.status !== 'Success') {
      return `${s.status}${s.reason ? ` ${s.reason}` : ''}${s.message ? `: ${clip(s.message, 200)}` : ''}`;
    }
    if (stream.close?.closedBy === 'error') return stream.close.error ?? 'connection error';
    if (s || stream.statusData !== null || stream.clientEnded) return null;
    const remoteCommand = verb === 'exec' || verb === 'cp' || verb === 'attach';
    if (remoteCommand && STATUS_SEMANTICS.has(stream.stack?.semantics ?? '')) return 'the stream ended without a status: the exit code is unknown';
    if (!remoteCommand && stream.close?.closedBy === 'upstream') return 'the upstream closed the stream';
    return null;
  }

  private conn(id: string): ConnectionFacts {
    let c = this.conns.get(id);
    if (c) return c;
    if (this.conns.size >= MAX_CONNECTIONS) {
      for (const [key, old] of this.conns) {
        if (old.ended && !this.upgrades.includes(old)) {
          this.conns.delete(key);
          break;
        }
      }
    }
    c = new ConnectionFacts(id);
    this.conns.set(id, c);
    return c;
  }
}

/** The two connections ask for the same thing (same subresource of the same pod). */
export function sameTarget(a: ConnectionFacts, b: ConnectionFacts): boolean {
  const x = a.request?.k8s;
  const y = b.request?.k8s;
  if (!x || !y) return a.request?.path === b.request?.path;
  return x.operation === y.operation && x.namespace === y.namespace && x.pod === y.pod;
}

/**
 * kubectl's SPDY retry of a WebSocket attempt it gave up on: the next SPDY upgrade for the same
 * pod subresource, started within FALLBACK_GRACE_MS of the attempt's end. It is the fallback
 * unless the API server refused both the same way; either way it, not the attempt, holds
 * kubectl's last word (diagnosis asks this of every refusal).
 */
/** The leg kubewire opened upstream for a translated upgrade. */
function isUpstreamLeg(c: ConnectionFacts): boolean {
  return c.open?.translated?.leg === 'upstream';
}

function translationOf(conns: readonly ConnectionFacts[]): TranslationStory | null {
  const up = conns.find(isUpstreamLeg);
  const t = up?.open?.translated;
  if (!up || !t) return null;
  return { from: t.from, to: t.to, upstream: up.conn, protocol: up.response?.protocol ?? null, bytes: { ...up.bytes } };
}

export function retryOf(attempt: ConnectionFacts, upgrades: readonly ConnectionFacts[], at = upgrades.indexOf(attempt)): ConnectionFacts | null {
  if (at < 0 || attempt.upgradeKind !== 'websocket' || !attempt.failedUpgrade) return null;
  for (let i = at + 1; i < upgrades.length; i++) {
    const u = upgrades[i]!;
    if (u.upgradeKind === 'spdy' && sameTarget(attempt, u)) return withinGrace(attempt, u) ? u : null;
  }
  return null;
}

/** The retry started within the grace after the attempt's answer or end (always, without a clock). */
function withinGrace(attempt: ConnectionFacts, retry: ConnectionFacts): boolean {
  const from = parseTsMillis(attempt.close?.ts ?? attempt.response?.ts ?? attempt.lastEvent?.ts);
  const to = parseTsMillis(retry.open?.ts ?? retry.request?.ts);
  return from === null || to === null || to - from <= FALLBACK_GRACE_MS;
}

/**
 * The API server refused both with the same Status: the request was wrong, not the path. A
 * refusal that is about the upgrade itself (a hop dropped the upgrade headers, so both
 * transports get `Upgrade request required`) is about the path, so it is not one.
 */
function sameRefusal(a: ConnectionFacts, b: ConnectionFacts): boolean {
  const x = a.response;
  const y = b.response;
  if (!x || !y || x.status === 101 || x.status !== y.status) return false;
  const m = a.body?.k8sStatus?.message ?? null;
  return m !== null && !TRANSPORT_REFUSAL.test(m) && m === (b.body?.k8sStatus?.message ?? null);
}

/** `403 Forbidden`, `101 rejected: the 101 has no Sec-WebSocket-Protocol`, `no answer`. */
export function refusalOf(c: ConnectionFacts): string {
  const r = c.response;
  if (!r) return c.proxyErrors[0]?.message ?? 'no answer';
  if (r.status === 101) return `101 rejected: ${c.handshake.problem ?? 'unknown'}`;
  return `${r.status}${r.reason ? ` ${r.reason}` : ''}`;
}

/** The answer is all in: a 101, a body (or none due), or the connection is over. */
function answerComplete(c: ConnectionFacts): boolean {
  const r = c.response;
  if (!r) return c.ended;
  return r.status === 101 || c.body !== null || c.ended || c.kind === 'http';
}

/** The refusal with its Status message, when there is one. */
function describeRefusal(c: ConnectionFacts): string {
  const message = c.body?.k8sStatus?.message;
  return `${refusalOf(c)}${message ? `: ${clip(message, 200)}` : ''}`;
}

function transportOf(c: ConnectionFacts): Transport | 'http' {
  if (!c.isUpgrade) return 'http';
  const decoded = c.stack?.transport ?? c.summary?.transport;
  if (decoded && decoded !== 'none') return decoded;
  return c.upgradeKind === 'spdy' ? 'spdy' : 'websocket';
}

function targetOf(k: K8sRequestInfo | null): SessionTarget {
  return {
    namespace: k?.namespace ?? null,
    pod: k?.pod ?? null,
    container: k?.container ?? null,
    command: k?.command ?? [],
    tty: k?.tty ?? false,
    stdin: k?.stdin ?? false,
  };
}

function portsOf(conns: ConnectionFacts[], k: K8sRequestInfo | null): number[] {
  const set = new Set<number>(k?.ports ?? []);
  for (const c of conns) for (const p of c.ports) set.add(p);
  return [...set].sort((a, b) => a - b);
}

function last<T>(xs: readonly T[]): T | undefined {
  return xs[xs.length - 1];
}
