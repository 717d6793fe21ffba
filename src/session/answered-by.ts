/**
 * Who wrote an answer: the one hop attribution that findings, the session story and the
 * exports all use.
 *
 * In order: a kubewire `proxy.error` → kubewire; texts only a kubelet writes (`error forwarding
 * port`, `query parameter "port" is required`, an empty x/net 403 to a WebSocket exec) →
 * kubelet, even when the API server relayed them; `Audit-Id` or a `Status` body (`apiVersion:
 * v1`, `kind: Status`) → api-server; HTML, a `Server`/`Via` header of a known proxy, a
 * gateway's plain-text message → intermediary; else unknown.
 */
import type { FindingHop } from '../events/types.js';
import type { ConnectionFacts } from './connection-facts.js';
import { header } from './handshake.js';

export type AnsweredBy = FindingHop['answeredBy'];

const KUBELET_TEXT = /error forwarding port|query parameter "port" is required|unable to upgrade: unable to negotiate protocol|missing upgrade headers in request|timed out waiting for client to create streams/i;
const PROXY_SERVER = /nginx|openresty|haproxy|apache|httpd|squid|awselb|elb|envoy|istio|traefik|caddy|cloudflare|akamai|varnish|kong|zscaler|bluecoat|proxysg|fortigate|forcepoint|websense|mcafee|microsoft-iis|iis\/|azure|application gateway|big-?ip|gfe|google frontend|ats\/|lighttpd|cowboy|vegur/i;
const GATEWAY_TEXT = /upstream connect error|no healthy upstream|upstream request timeout|default backend|bad gateway|gateway time-?out|service unavailable|404 page not found|the plain http request was sent to https port|access denied|request blocked|upstream prematurely closed/i;

/** The answer body as text ('' when there was none), bounded. */
export function bodyText(c: ConnectionFacts): string {
  return c.body?.text ?? '';
}

/** A Kubernetes Status object as the API server writes it (`apiVersion: v1`, `kind: Status`). */
export function isKubeStatusBody(c: ConnectionFacts): boolean {
  const text = bodyText(c).trim();
  if (!text.startsWith('{')) return false;
  try {
    const o = JSON.parse(text) as Record<string, unknown>;
    return o['kind'] === 'Status' && o['apiVersion'] === 'v1';
  } catch {
    return /"kind"\s*:\s*"Status"/.test(text) && /"apiVersion"\s*:\s*"v1"/.test(text);
  }
}

export function isHtml(c: ConnectionFacts): boolean {
  const type = c.body?.contentType ?? c.response?.contentType ?? '';
  return /text\/html/i.test(type) || /^\s*(<!doctype html|<html|<head|<body|<title)/i.test(bodyText(c));
}

/** A plain HTTP request (not an upgrade): kubewire records its head, not its body. */
export function isPlain(c: ConnectionFacts): boolean {
  return c.request?.type === 'http.request' || c.response?.type === 'http.response';
}

export function clip(s: string, max = 160): string {
  const one = s.replace(/\s+/g, ' ').trim();
  return one.length > max ? `${one.slice(0, max - 1)}…` : one;
}

/** Headers that say a proxy wrote or relayed the answer. */
export function intermediaryHeaders(c: ConnectionFacts): string | null {
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
export function attribute(c: ConnectionFacts): { answeredBy: AnsweredBy; why: string } {
  const pe = c.proxyErrors[0];
  if (pe) return { answeredBy: 'kubewire', why: `kubewire answered itself (${pe.code}): ${clip(pe.message, 160)}` };
  const r = c.response;
  if (!r) return { answeredBy: 'unknown', why: 'no answer came back' };
  const text = bodyText(c);
  const viaProxy = intermediaryHeaders(c);
  const kubelet = KUBELET_TEXT.exec(text);
  if (kubelet) return { answeredBy: 'kubelet', why: `"${kubelet[0]}" is written only by the kubelet's streaming server${r.auditId ? ' (the API server relayed it, Audit-Id)' : ''}` };
  const remoteCommand = c.request?.k8s?.operation === 'exec' || c.request?.k8s?.operation === 'attach';
  if (r.status === 403 && !text.trim() && (c.body?.size ?? 0) === 0 && c.upgradeKind === 'websocket' && remoteCommand && !viaProxy) {
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
