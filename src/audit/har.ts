/**
 * A kubewire log as a HAR 1.2 archive (http://www.softwareishard.com/blog/har-12-spec/), so the
 * API traffic of a kubectl command opens in browser devtools, Charles, Fiddler or any HAR viewer.
 * Sans-IO: fed events one at a time, it hands back each entry as soon as it is finished, and
 * `HarLines` turns head, entries and tail into the lines of one JSON document, so an archive of
 * a log of many GiB is written as the log is read.
 *
 * Streaming: an entry is finished when its connection's `conn.close` arrives (the proxy logs it
 * as a connection's last event), when a new kubewire run starts (`audit.start` / `proxy.start`:
 * conn ids restart, so an earlier run's connection can get no more events), or at the end of
 * the log for connections that never closed. It is then forgotten, so memory is bounded by the
 * connections open at one time and their WebSocket messages (and the session model's own
 * bound, src/session/session-model.ts), not by the log; an event logged
 * for a connection after its `conn.close` is not in its entry. Entries therefore come in the
 * order their connections finished, not the order they started; HAR 1.2 does not require an
 * order and viewers sort by `startedDateTime`.
 *
 * - One entry per plain request (`http.request` / `http.response` / `http.body` sharing a conn
 *   id like `r12`) and per upgrade (`upgrade.request` / `upgrade.response`, conn `c3`).
 * - The URL is the cluster's server (`audit.start.cluster.server`, else the URL in
 *   `proxy.start.upstream`) plus the request target; without either, the Host header kubectl sent.
 * - WebSocket messages go in `_webSocketMessages`, the custom field Chrome devtools writes and
 *   reads: `{type: 'send'|'receive', time: epoch seconds, opcode, data}`. A message is rebuilt
 *   from its frames (`ws.frame`, or the frame folded into a data event) and the bytes decoded inside them: binary channel protocols as
 *   base64 of channel byte + payload (opcode 2), the base64 channel protocols as the text sent
 *   (channel digit + base64, opcode 1), unknown subprotocols from `ws.data`, control frames from
 *   the frame's own payload (base64). A message whose bytes the log does not fully hold
 *   (`--payload head|none`, or the SPDY frames inside the port-forward tunnel) is marked
 *   `_truncated: true`.
 * - Timings come from the events' `ts`: `wait` until the response head, `receive` until the
 *   connection's last event (for an upgrade: the whole stream).
 * - kubewire's own facts per entry are under `_kubewire` (session, conn, transport, exit code),
 *   read from the connection's facts in the session model (src/session/connection-facts.ts),
 *   which the builder feeds as it reads: the decoder's transport, the protocol of the answer,
 *   the exit code of the connection's status.
 */
import { foldedFrameOf } from '../events/frames.js';
import type { HeaderLines, HttpBodyEvent, HttpRequestEvent, HttpResponseEvent, KubewireEvent } from '../events/types.js';
import { parseTsMicros } from '../events/stamp.js';
import type { ConnectionFacts } from '../session/connection-facts.js';
import { LogReplay } from '../session/log-replay.js';
import { sessionKeyOf } from '../session/session-model.js';
import { payloadBytes } from './terminal-session.js';

export interface HarNameValue {
  name: string;
  value: string;
}

export interface HarWebSocketMessage {
  type: 'send' | 'receive';
  time: number;
  opcode: number;
  data: string;
  _truncated?: boolean;
}

export interface HarContent {
  size: number;
  mimeType: string;
  text?: string;
  encoding?: 'base64';
  comment?: string;
}

export interface HarEntry {
  startedDateTime: string;
  time: number;
  request: {
    method: string;
    url: string;
    httpVersion: string;
    cookies: HarNameValue[];
    headers: HarNameValue[];
    queryString: HarNameValue[];
    postData?: { mimeType: string; text: string; comment?: string };
    headersSize: number;
    bodySize: number;
  };
  response: {
    status: number;
    statusText: string;
    httpVersion: string;
    cookies: HarNameValue[];
    headers: HarNameValue[];
    content: HarContent;
    redirectURL: string;
    headersSize: number;
    bodySize: number;
    _error?: string;
  };
  cache: Record<string, never>;
  timings: { blocked: number; dns: number; connect: number; send: number; wait: number; receive: number; ssl: number };
  connection: string;
  _resourceType?: 'websocket';
  _webSocketMessages?: HarWebSocketMessage[];
  _kubewire: {
    session: string | null;
    conn: string;
    kind: 'http' | 'upgrade';
    transport: string | null;
    protocol: string | null;
    exitCode: number | null;
  };
}

export interface Har {
  log: {
    version: '1.2';
    creator: { name: string; version: string };
    entries: HarEntry[];
  };
}

export interface HarOptions {
  creatorVersion: string;
  /** Only this session's entries. */
  session?: string;
}

interface PendingMessage {
  type: 'send' | 'receive';
  timeUs: number;
  opcode: number;
  /** Channel protocols: the channel of the first data event. */
  channel: number | null;
  parts: Buffer[];
  /** `ws.data` of an unknown subprotocol: the bytes are the message as is. */
  raw: boolean;
  complete: boolean;
  sawData: boolean;
  /** The data frame with FIN arrived; the bytes decoded from it may still follow. */
  fin: boolean;
}

interface ConnState {
  key: string;
  conn: string;
  session: string | null;
  server: string | null;
  /** The session model's facts of this connection: its answer, decoder stack, status, close. */
  facts: ConnectionFacts;
  request: HttpRequestEvent;
  requestUs: number | null;
  requestTs: string | null;
  /** The bodies with their payload (the facts keep none). */
  requestBody: HttpBodyEvent | null;
  responseBody: HttpBodyEvent | null;
  lastUs: number | null;
  messages: HarWebSocketMessage[];
  open: { c2s: PendingMessage | null; s2c: PendingMessage | null };
}

const TEXT_TYPES = /^(text\/|application\/(json|yaml|xml|x-yaml|vnd\.kubernetes\.protobuf;?\s*stream=watch)|application\/[\w.+-]*\+(json|xml|yaml))/i;
const SERVER_URL = /^(https?:\/\/[^\s]+)/;

export class HarBuilder {
  private server: string | null = null;
  /** Bumped at each proxy.start / audit.start: conn ids restart with every kubewire run. */
  private run = 0;
  private lastStart: 'audit' | 'proxy' | null = null;
  private readonly conns = new Map<string, ConnState>();
  private readonly replay = new LogReplay();

  constructor(private readonly options: HarOptions) {}

  /** Connections started and not yet finished: what the builder holds in memory. */
  get openConnections(): number {
    return this.conns.size;
  }

  /**
   * Takes one event; returns the entries it finished (usually none; one at a `conn.close`; at a
   * new run's start, the earlier run's connections that never closed). The builder keeps
   * nothing of a returned entry.
   */
  push(e: KubewireEvent): HarEntry[] {
    this.replay.ingest(e);
    // Conn ids restart with every kubewire run; an audit run logs audit.start, then proxy.start.
    if (e.type === 'audit.start' || e.type === 'proxy.start') {
      const done = this.finish();
      this.run++;
      if (e.type === 'audit.start') {
        this.server = e.cluster.server.replace(/\/$/, '');
        this.lastStart = 'audit';
      } else if (e.type === 'proxy.start') {
        // The audit record names the server exactly; a plain log's upstream reads "URL (context X)".
        const m = SERVER_URL.exec(e.upstream);
        if (this.lastStart !== 'audit') this.server = m ? m[1]!.replace(/\/$/, '') : null;
        this.lastStart = 'proxy';
      }
      return done;
    }
    if (e.conn === undefined) return [];
    if (this.options.session !== undefined && e.session !== this.options.session) return [];
    const key = `${this.run}\0${e.conn}`;
    const us = parseTsMicros(e.ts);
    if (e.type === 'http.request' || e.type === 'upgrade.request') {
      // A second request on a conn id still open (not seen from kubewire): the first is over.
      const previous = this.conns.get(key);
      const done = previous ? [this.take(previous)] : [];
      const session = sessionKeyOf(e);
      const facts = session === null ? undefined : this.replay.observer.model.get(session)?.conns.get(e.conn);
      if (!facts) return done;
      this.conns.set(key, {
        key, conn: e.conn, session: e.session ?? null, server: this.server, facts, request: e, requestUs: us, requestTs: e.ts ?? null,
        requestBody: null, responseBody: null, lastUs: us, messages: [], open: { c2s: null, s2c: null },
      });
      return done;
    }
    const c = this.conns.get(key);
    if (!c) return [];
    if (us !== null && (c.lastUs === null || us > c.lastUs)) c.lastUs = us;
    const at = us ?? c.lastUs ?? 0;
    // A plain WebSocket frame rides in its data event (schema version 2); it came first.
    const folded = e.type === 'k8s.data' || e.type === 'pf.data' || e.type === 'ws.data' ? foldedFrameOf(e) : null;
    if (folded?.type === 'ws.frame') this.frame(c, folded.dir, folded.kind, folded.opcode, folded.fin, folded.payload, at);
    switch (e.type) {
      case 'http.body':
        if (e.dir === 'c2s') c.requestBody = e;
        else c.responseBody = e;
        break;
      case 'conn.close':
        // The connection's last event: its entry is complete.
        return [this.take(c)];
      case 'ws.frame':
        this.frame(c, e.dir, e.kind, e.opcode, e.fin, e.payload, at);
        break;
      case 'k8s.data':
        this.data(c, e.dir, e.channel, payloadBytes(e), e.size, false);
        break;
      case 'k8s.close':
        // The v5 close signal is the message [0xFF, channel].
        this.data(c, e.dir, 0xff, Buffer.from([e.channel]), 1, false);
        break;
      case 'pf.data':
        if (!e.tunnel && e.channel !== undefined) this.data(c, e.dir, e.channel, payloadBytes(e), e.size, false);
        break;
      case 'ws.data':
        this.data(c, e.dir, null, payloadBytes(e), e.size, true);
        break;
      default:
        break;
    }
    return [];
  }

  /**
   * At the end of the log: the entries of the connections that never closed (kubewire was
   * stopped, or the log was cut), in order of their start. The builder is empty afterwards.
   */
  finish(): HarEntry[] {
    const open = [...this.conns.values()].sort((a, b) => (a.requestUs ?? 0) - (b.requestUs ?? 0));
    return open.map((c) => this.take(c));
  }

  /** The connection's entry; the builder forgets the connection. */
  private take(c: ConnState): HarEntry {
    this.conns.delete(c.key);
    return this.entry(c);
  }

  private frame(c: ConnState, dir: 'c2s' | 's2c', kind: string, opcode: number, fin: boolean, payload: string | undefined, atUs: number): void {
    const type = dir === 'c2s' ? 'send' : 'receive';
    if (kind === 'close' || kind === 'ping' || kind === 'pong') {
      // A finished message's bytes were all decoded before this frame; control frames may
      // also sit between the fragments of an unfinished one (RFC 6455 §5.4), which stays open.
      if (c.open[dir]?.fin) this.flush(c, dir);
      c.messages.push({ type, time: epochSeconds(atUs), opcode, data: payload ?? '' });
      return;
    }
    const open = c.open[dir];
    if (kind === 'continuation' && open && !open.fin) {
      open.fin = fin;
      return;
    }
    if (open) this.flush(c, dir);
    c.open[dir] = { type, timeUs: atUs, opcode, channel: null, parts: [], raw: false, complete: true, sawData: false, fin };
  }

  private data(c: ConnState, dir: 'c2s' | 's2c', channel: number | null, bytes: Buffer, size: number, raw: boolean): void {
    const m = c.open[dir];
    if (!m) return;
    if (!m.sawData) {
      m.channel = channel;
      m.raw = raw;
    }
    m.sawData = true;
    m.parts.push(bytes);
    if (bytes.length < size) m.complete = false;
  }

  private flush(c: ConnState, dir: 'c2s' | 's2c'): void {
    const m = c.open[dir];
    if (!m) return;
    c.open[dir] = null;
    const body = Buffer.concat(m.parts);
    let data: string;
    if (!m.sawData) data = '';
    else if (m.raw) data = m.opcode === 1 ? body.toString('utf8') : body.toString('base64');
    else if (isBase64Semantics(c.facts.stack?.semantics ?? null) && m.channel !== null && m.channel !== 0xff) data = `${m.channel}${body.toString('base64')}`;
    else data = Buffer.concat([Buffer.from([m.channel ?? 0]), body]).toString('base64');
    const message: HarWebSocketMessage = { type: m.type, time: epochSeconds(m.timeUs), opcode: m.opcode, data };
    if (!m.complete || (!m.sawData && c.facts.stack?.transport !== 'websocket')) message._truncated = true;
    c.messages.push(message);
  }

  private entry(c: ConnState): HarEntry {
    this.flush(c, 'c2s');
    this.flush(c, 's2c');
    const f = c.facts;
    const req = c.request;
    const res = f.response;
    const responseUs = parseTsMicros(res?.ts);
    const closeBytes = f.close?.bytes ?? null;
    const transport = f.stack?.transport ?? null;
    const startUs = c.requestUs ?? 0;
    const endUs = Math.max(c.lastUs ?? startUs, startUs);
    const waitUs = res && responseUs !== null ? Math.max(0, responseUs - startUs) : endUs - startUs;
    const receiveUs = Math.max(0, endUs - startUs - waitUs);
    const isUpgrade = req.type === 'upgrade.request';
    const websocket = isUpgrade && res?.status === 101 && (transport === 'websocket' || transport === 'websocket+spdy' || f.upgradeKind === 'websocket');
    const entry: HarEntry = {
      startedDateTime: c.requestTs ?? new Date(startUs / 1000).toISOString(),
      time: ms(waitUs + receiveUs),
      request: {
        method: req.method,
        url: requestUrl(c.server, req),
        httpVersion: httpVersion(req.version),
        cookies: [],
        headers: headers(req.headers),
        queryString: queryString(req.target),
        headersSize: -1,
        bodySize: c.requestBody?.size ?? (isUpgrade ? 0 : closeBytes?.c2s ?? -1),
      },
      response: {
        status: res?.status ?? 0,
        statusText: res?.reason ?? '',
        httpVersion: res ? httpVersion(res.version) : '',
        cookies: [],
        headers: res ? headers(res.headers) : [],
        content: content(res, c.responseBody),
        redirectURL: (res && headerValue(res.headers, 'location')) ?? '',
        headersSize: -1,
        bodySize: c.responseBody?.size ?? (res?.status === 101 ? 0 : !isUpgrade && closeBytes ? closeBytes.s2c : -1),
      },
      cache: {},
      timings: { blocked: -1, dns: -1, connect: -1, send: 0, wait: ms(waitUs), receive: ms(receiveUs), ssl: -1 },
      connection: c.conn,
      _kubewire: { session: c.session, conn: c.conn, kind: isUpgrade ? 'upgrade' : 'http', transport, protocol: res?.protocol ?? null, exitCode: f.exitCode },
    };
    const error = f.proxyErrors.at(-1)?.message ?? f.close?.error ?? null;
    if (error !== null) entry.response._error = error;
    const postData = requestBody(c.requestBody);
    if (postData) entry.request.postData = postData;
    if (websocket) {
      entry._resourceType = 'websocket';
      // In time order; a control frame inside a fragmented message was listed before it.
      entry._webSocketMessages = c.messages.sort((a, b) => a.time - b.time);
    }
    return entry;
  }
}

/**
 * Writes an archive as lines as its entries come: the head `{"log":{"version":"1.2",
 * "creator":…,"entries":[`, one entry per line (each after the first starts with the comma that
 * separates it from the one before, since whether an entry is the last is not known when it is
 * written), and the tail `]}}`; together one JSON document.
 */
export class HarLines {
  private entries = 0;

  constructor(private readonly creatorVersion: string) {}

  /** Entries written so far. */
  get count(): number {
    return this.entries;
  }

  head(): string {
    const open = JSON.stringify({ log: { version: '1.2', creator: { name: 'kubewire', version: this.creatorVersion }, entries: [] } } satisfies Har);
    // `{"log":{…,"entries":[]}}` cut before its `]}}`.
    return open.slice(0, -3);
  }

  entry(entry: HarEntry): string {
    return (this.entries++ === 0 ? '' : ',') + JSON.stringify(entry);
  }

  tail(): string {
    return ']}}';
  }
}

function isBase64Semantics(semantics: string | null): boolean {
  return semantics === 'base64-v1' || semantics === 'base64-v4' || semantics === 'portforward-ws-base64';
}

function epochSeconds(us: number): number {
  return Math.round(us) / 1e6;
}

/** Milliseconds with microsecond precision. */
function ms(us: number): number {
  return Math.round(us) / 1000;
}

function httpVersion(v: string): string {
  return /^\d/.test(v) ? `HTTP/${v}` : v;
}

function headers(lines: HeaderLines): HarNameValue[] {
  return lines.map(([name, value]) => ({ name, value }));
}

function headerValue(lines: HeaderLines, name: string): string | null {
  const lower = name.toLowerCase();
  return lines.find(([n]) => n.toLowerCase() === lower)?.[1] ?? null;
}

function requestUrl(server: string | null, req: HttpRequestEvent): string {
  const target = req.target.startsWith('/') ? req.target : `/${req.target}`;
  if (/^https?:\/\//i.test(req.target)) return req.target;
  if (server) return `${server}${target}`;
  // No proxy.start or audit.start in the log (a fragment): the address kubectl talked to.
  const host = headerValue(req.headers, 'host') ?? 'localhost';
  return `http://${host}${target}`;
}

function queryString(target: string): HarNameValue[] {
  const q = target.indexOf('?');
  if (q < 0) return [];
  const out: HarNameValue[] = [];
  for (const [name, value] of new URLSearchParams(target.slice(q + 1))) out.push({ name, value });
  return out;
}

function isText(body: HttpBodyEvent, contentType: string | null): boolean {
  return body.text !== null || (contentType !== null && TEXT_TYPES.test(contentType));
}

function bodyText(body: HttpBodyEvent, contentType: string | null): { text: string; encoding?: 'base64'; comment?: string } | null {
  if (body.payload === undefined) return null;
  const bytes = payloadBytes(body);
  const comment = bytes.length < body.size ? `kubewire recorded ${bytes.length} of ${body.size} bytes (--payload head); record with --payload full or --audit for all` : undefined;
  const out: { text: string; encoding?: 'base64'; comment?: string } = isText(body, contentType)
    ? { text: bytes.toString('utf8') }
    : { text: bytes.toString('base64'), encoding: 'base64' };
  if (comment) out.comment = comment;
  return out;
}

function content(res: HttpResponseEvent | null, body: HttpBodyEvent | null): HarContent {
  const mimeType = body?.contentType ?? res?.contentType ?? (res ? headerValue(res.headers, 'content-type') : null) ?? '';
  const out: HarContent = { size: body?.size ?? 0, mimeType };
  if (!body) return out;
  const t = bodyText(body, mimeType || null);
  if (!t) {
    out.comment = `kubewire recorded the size only (${body.size} bytes, --payload none)`;
    return out;
  }
  out.text = t.text;
  if (t.encoding) out.encoding = t.encoding;
  if (t.comment) out.comment = t.comment;
  return out;
}

function requestBody(body: HttpBodyEvent | null): HarEntry['request']['postData'] | null {
  if (!body) return null;
  const mimeType = body.contentType ?? '';
  const t = bodyText(body, mimeType || null);
  if (!t) return { mimeType, text: '', comment: `kubewire recorded the size only (${body.size} bytes, --payload none)` };
  // HAR's postData has no encoding field; a binary request body is given as base64 and said so.
  const out: NonNullable<HarEntry['request']['postData']> = { mimeType, text: t.text };
  const notes = [t.encoding ? 'text is base64' : null, t.comment ?? null].filter((n): n is string => n !== null);
  if (notes.length) out.comment = notes.join('; ');
  return out;
}
