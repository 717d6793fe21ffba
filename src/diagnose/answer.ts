/**
 * Reading a connection's request and answer the way the rules need them: which transport and
 * operation it was, whether kubectl would accept the handshake, what the answer said, and who
 * wrote it (hop attribution).
 *
 * Attribution, in order: a kubewire `proxy.error` → kubewire; texts only a kubelet writes
 * (`error forwarding port`, `query parameter "port" is required`, an empty x/net 403 to a
 * WebSocket exec) → kubelet, even when the API server relayed them; `Audit-Id` or a `Status`
 * body (`apiVersion: v1`, `kind: Status`) → api-server; HTML, a `Server`/`Via` header of a
 * known proxy, a gateway's plain-text message → intermediary; else unknown.
 */
import { createHash } from 'node:crypto';
import type { FindingHop, HeaderLines } from '../events/types.js';
import { connEnded } from './session-view.js';
import type { ConnView, SessionView } from './types.js';

export type TransportKind = 'websocket' | 'spdy';

const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

export function header(headers: HeaderLines | undefined, name: string): string | null {
  const lower = name.toLowerCase();
  for (const [n, v] of headers ?? []) if (n.toLowerCase() === lower) return v;
  return null;
}

export function transportOf(c: ConnView): TransportKind | null {
  const up = c.request?.upgrade?.trim() ?? '';
  if (/^websocket$/i.test(up)) return 'websocket';
  if (/^spdy\//i.test(up)) return 'spdy';
  return null;
}

export function operationOf(c: ConnView): string | null {
  return c.request?.k8s?.operation ?? null;
}

/** exec and attach carry a remote command (channels, a status); port-forward carries ports. */
export function isRemoteCommand(c: ConnView): boolean {
  const op = operationOf(c);
  return op === 'exec' || op === 'attach';
}

/** The port-forward tunnel (KEP-4006): SPDY inside WebSocket. */
export function isTunnelRequest(c: ConnView): boolean {
  return transportOf(c) === 'websocket' && (c.request?.offered ?? []).some((p) => /^SPDY\/3\.1\+/i.test(p));
}

/** The two connections ask for the same thing (same subresource of the same pod). */
export function sameTarget(a: ConnView, b: ConnView): boolean {
  const x = a.request?.k8s;
  const y = b.request?.k8s;
  if (!x || !y) return a.request?.path === b.request?.path;
  return x.operation === y.operation && x.namespace === y.namespace && x.pod === y.pod;
}

export function isHttp2(version: string | undefined | null): boolean {
  return !!version && /^(HTTP\/)?2(\.0)?$/i.test(version.trim());
}

/** RFC 6455 §4.2.2: base64(SHA-1(key + GUID)). */
export function webSocketAccept(key: string): string {
  return createHash('sha1').update(key.trim() + WS_GUID).digest('base64');
}

export interface Handshake {
  ok: boolean;
  /** Why kubectl (client-go) rejects it, in plain words; null when it accepts it. */
  problem: string | null;
}

/**
 * Whether kubectl accepts the answer to its upgrade: a 101 with the right Upgrade/Connection,
 * for WebSocket a correct Sec-WebSocket-Accept and a subprotocol it offered (client-go
 * roundtripper.go), for SPDY the SPDY/3.1 upgrade headers (AM spdy/roundtripper.go).
 */
export function handshake(c: ConnView): Handshake {
  const r = c.response;
  const t = transportOf(c);
  if (!r) return { ok: false, problem: 'no answer' };
  if (r.status !== 101) return { ok: false, problem: `HTTP ${r.status} instead of 101` };
  const upgrade = header(r.headers, 'upgrade') ?? '';
  const connection = header(r.headers, 'connection') ?? '';
  if (t === 'websocket') {
    if (!/^websocket$/i.test(upgrade.trim())) return { ok: false, problem: `the 101 has Upgrade: ${JSON.stringify(upgrade)}, not websocket` };
    if (!/\bupgrade\b/i.test(connection)) return { ok: false, problem: 'the 101 has no Connection: Upgrade' };
    const key = header(c.request?.headers, 'sec-websocket-key');
    const accept = header(r.headers, 'sec-websocket-accept');
    if (key !== null && accept === null) return { ok: false, problem: 'the 101 has no Sec-WebSocket-Accept' };
    if (key !== null && accept !== null && accept.trim() !== webSocketAccept(key)) {
      return { ok: false, problem: `the 101 has a wrong Sec-WebSocket-Accept (${accept.trim()}, expected ${webSocketAccept(key)} for the key kubectl sent)` };
    }
    const offered = c.request?.offered ?? [];
    if (offered.length && r.protocol === null) return { ok: false, problem: 'the 101 has no Sec-WebSocket-Protocol' };
    if (offered.length && r.protocol !== null && !offered.includes(r.protocol)) return { ok: false, problem: `the 101 chose the subprotocol ${r.protocol}, which kubectl did not offer` };
    return { ok: true, problem: null };
  }
  if (t === 'spdy') {
    if (!/^spdy\/3\.1$/i.test(upgrade.trim())) return { ok: false, problem: `the 101 has Upgrade: ${JSON.stringify(upgrade)}, not SPDY/3.1` };
    if (!/\bupgrade\b/i.test(connection)) return { ok: false, problem: 'the 101 has no Connection: Upgrade' };
    return { ok: true, problem: null };
  }
  return { ok: true, problem: null };
}

/** The answer is complete enough to judge: its body arrived, or cannot come any more. */
export function answerComplete(c: ConnView): boolean {
  const r = c.response;
  if (!r) return false;
  if (r.status === 101 || c.body !== null || connEnded(c)) return true;
  // The proxy relays plain requests without recording their bodies: the head is all there will be.
  if (c.open?.kind === 'http') return true;
  const length = header(r.headers, 'content-length');
  return length !== null && Number(length) === 0;
}

/** The answer body as text ('' when there was none), bounded. */
export function bodyText(c: ConnView): string {
  return c.body?.text ?? '';
}

/** A Kubernetes Status object as the API server writes it (`apiVersion: v1`, `kind: Status`). */
export function isKubeStatusBody(c: ConnView): boolean {
  const text = bodyText(c).trim();
  if (!text.startsWith('{')) return false;
  try {
    const o = JSON.parse(text) as Record<string, unknown>;
    return o['kind'] === 'Status' && o['apiVersion'] === 'v1';
  } catch {
    return /"kind"\s*:\s*"Status"/.test(text) && /"apiVersion"\s*:\s*"v1"/.test(text);
  }
}

export function isHtml(c: ConnView): boolean {
  const type = c.body?.contentType ?? c.response?.contentType ?? '';
  return /text\/html/i.test(type) || /^\s*(<!doctype html|<html|<head|<body|<title)/i.test(bodyText(c));
}

export function htmlTitle(text: string): string | null {
  const m = /<title[^>]*>([^<]*)<\/title>/i.exec(text);
  return m ? m[1]!.replace(/\s+/g, ' ').trim() || null : null;
}

/** The Status message of the answer, or its text (first line, bounded). */
export function answerMessage(c: ConnView): string | null {
  const status = c.body?.k8sStatus;
  if (status?.message) return status.message;
  const text = bodyText(c).trim();
  if (!text) return null;
  if (isHtml(c)) return htmlTitle(text) ?? 'an HTML page';
  return clip(text.split('\n')[0]!, 200);
}

export function clip(s: string, max = 160): string {
  const one = s.replace(/\s+/g, ' ').trim();
  return one.length > max ? `${one.slice(0, max - 1)}…` : one;
}

/** `403 Forbidden with a Status (reason Forbidden): "…"`, `404 Not Found with an HTML page ("…")`, … */
export function describeAnswer(c: ConnView): string {
  const r = c.response;
  if (!r) return 'no answer (the connection closed first)';
  const head = `${r.status} ${r.reason}`.trim();
  if (r.status === 101) return `${head}${r.protocol ? ` (${r.protocol})` : ''}`;
  const status = c.body?.k8sStatus;
  if (status && (isKubeStatusBody(c) || status.reason !== null)) {
    return `${head} with a Status${status.reason ? ` (reason ${status.reason})` : ''}${status.message ? `: "${clip(status.message, 200)}"` : ''}`;
  }
  if (isHtml(c)) {
    const title = htmlTitle(bodyText(c));
    return `${head} with an HTML page${title ? ` ("${clip(title, 80)}")` : ''}`;
  }
  const text = bodyText(c).trim();
  if (text) return `${head} with the text "${clip(text, 200)}"`;
  if (c.body) return `${head} with a ${c.body.size}-byte ${c.body.contentType ?? 'binary'} body`;
  // Plain requests go through http-proxy, whose bodies kubewire does not record.
  if (isPlain(c)) return `${head}${r.contentType ? ` (${r.contentType})` : ''}`;
  return `${head} with an empty body`;
}

/** A plain HTTP request (not an upgrade): kubewire records its head, not its body. */
export function isPlain(c: ConnView): boolean {
  return c.request?.type === 'http.request' || c.response?.type === 'http.response';
}

/** `c3: GET /api/v1/…/exec (WebSocket, offers v5.channel.k8s.io)` */
export function describeRequest(c: ConnView): string {
  const r = c.request;
  if (!r) return `${c.conn}: (no request seen)`;
  const t = transportOf(c);
  const what = t === 'websocket' ? (isTunnelRequest(c) ? 'WebSocket tunnel' : 'WebSocket') : t === 'spdy' ? 'SPDY/3.1' : r.upgrade ? `Upgrade: ${r.upgrade}` : null;
  const offers = r.offered.length ? `offers ${r.offered.join(', ')}` : '';
  const detail = [what, offers].filter(Boolean).join(', ');
  return `${c.conn || 'connection'}: ${r.method} ${r.path}${detail ? ` (${detail})` : ''}`;
}

const KUBELET_TEXT = /error forwarding port|query parameter "port" is required|unable to upgrade: unable to negotiate protocol|missing upgrade headers in request|timed out waiting for client to create streams/i;
const PROXY_SERVER = /nginx|openresty|haproxy|apache|httpd|squid|awselb|elb|envoy|istio|traefik|caddy|cloudflare|akamai|varnish|kong|zscaler|bluecoat|proxysg|fortigate|forcepoint|websense|mcafee|microsoft-iis|iis\/|azure|application gateway|big-?ip|gfe|google frontend|ats\/|lighttpd|cowboy|vegur/i;
const GATEWAY_TEXT = /upstream connect error|no healthy upstream|upstream request timeout|default backend|bad gateway|gateway time-?out|service unavailable|404 page not found|the plain http request was sent to https port|access denied|request blocked|upstream prematurely closed/i;

/** Headers that say a proxy wrote or relayed the answer. */
export function intermediaryHeaders(c: ConnView): string | null {
  const h = c.response?.headers;
  const server = header(h, 'server');
  if (server && PROXY_SERVER.test(server)) return `Server: ${server}`;
  const via = header(h, 'via');
  if (via) return `Via: ${via}`;
  for (const name of ['proxy-agent', 'x-squid-error', 'x-cache', 'x-amzn-requestid', 'x-envoy-upstream-service-time', 'cf-ray']) {
    const v = header(h, name);
    if (v !== null) return `${name}: ${v}`;
  }
  return null;
}

/** Who answered on the upstream hop, and why we think so. */
export function attribute(c: ConnView): { answeredBy: FindingHop['answeredBy']; why: string } {
  const pe = c.proxyErrors[0];
  if (pe) return { answeredBy: 'kubewire', why: `kubewire answered itself (${pe.code}): ${clip(pe.message, 160)}` };
  const r = c.response;
  if (!r) return { answeredBy: 'unknown', why: 'no answer came back' };
  const text = bodyText(c);
  const viaProxy = intermediaryHeaders(c);
  const kubelet = KUBELET_TEXT.exec(text);
  if (kubelet) return { answeredBy: 'kubelet', why: `"${kubelet[0]}" is written only by the kubelet's streaming server${r.auditId ? ' (the API server relayed it, Audit-Id)' : ''}` };
  if (r.status === 403 && !text.trim() && (c.body?.size ?? 0) === 0 && transportOf(c) === 'websocket' && isRemoteCommand(c) && !viaProxy) {
    return { answeredBy: 'kubelet', why: 'an empty 403 is how the kubelet\'s x/net WebSocket server refuses a subprotocol it does not speak' };
  }
  if (r.auditId) return { answeredBy: 'api-server', why: `the answer carries Audit-Id ${r.auditId}, which only the API server sets` };
  if (isKubeStatusBody(c)) return { answeredBy: 'api-server', why: 'the body is a Kubernetes Status (apiVersion v1, kind Status)' };
  if (isHtml(c)) return { answeredBy: 'intermediary', why: `the body is an HTML page${viaProxy ? ` (${viaProxy})` : ''}; the API server answers in JSON` };
  if (viaProxy) return { answeredBy: 'intermediary', why: `the answer has ${viaProxy}` };
  const gw = GATEWAY_TEXT.exec(text);
  if (gw && /text\/plain/i.test(c.body?.contentType ?? r.contentType ?? 'text/plain')) return { answeredBy: 'intermediary', why: `"${gw[0]}" is a gateway's message` };
  if (isPlain(c) && !c.body) return { answeredBy: 'unknown', why: `the answer (${r.status}${r.contentType ? `, ${r.contentType}` : ''}) has no Audit-Id or proxy header, and kubewire does not record the bodies of plain requests` };
  return { answeredBy: 'unknown', why: `nothing in the answer (${r.status}, no Audit-Id, no Status body, no proxy header) names its writer` };
}

export function upstreamHop(c: ConnView): FindingHop {
  return { where: 'kubewire↔upstream', ...attribute(c) };
}

/** The first upgrade after `c` in the session for the same pod subresource. */
export function laterUpgrade(view: SessionView, c: ConnView, transport?: TransportKind): ConnView | undefined {
  const seq = c.request?.seq ?? c.firstEvent?.seq ?? 0;
  return view.upgrades.find((u) => u !== c && (u.request?.seq ?? 0) > seq && sameTarget(c, u) && (transport === undefined || transportOf(u) === transport));
}

/** How long a refused WebSocket attempt waits for kubectl's SPDY retry before it counts as final. */
export const FALLBACK_GRACE_MS = 3000;

/**
 * A refusal is kubectl's last word: nothing follows it. SPDY refusals and plain requests always
 * are (kubectl has no further fallback); a refused WebSocket attempt is, once no SPDY retry came
 * by the end of the session, or for FALLBACK_GRACE_MS after it closed.
 */
export function isFinalAnswer(view: SessionView, c: ConnView, closedAt: number | null): boolean {
  if (laterUpgrade(view, c)) return false;
  if (transportOf(c) !== 'websocket') return true;
  if (view.ended) return true;
  return closedAt !== null && Number.isFinite(view.now) && view.now - closedAt >= FALLBACK_GRACE_MS;
}

export function seqsOf(...events: ({ seq: number } | null | undefined)[]): number[] {
  return [...new Set(events.filter((e): e is { seq: number } => !!e).map((e) => e.seq))].sort((a, b) => a - b);
}

export function seconds(ms: number): string {
  const s = ms / 1000;
  return s >= 10 ? `${Math.round(s)} s` : `${s.toFixed(1)} s`;
}

/** `exec default/p1/c1 [echo hi]`, `portforward default/p1` */
export function describeTarget(c: ConnView): string {
  const k = c.request?.k8s;
  if (!k) return c.request?.path ?? 'the request';
  const who = [k.namespace, k.pod, k.container].filter(Boolean).join('/');
  return `${k.operation}${who ? ` ${who}` : ''}${k.command.length ? ` [${clip(k.command.join(' '), 60)}]` : ''}`;
}
