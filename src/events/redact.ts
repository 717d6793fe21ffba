/**
 * Secrets never reach an event: credentials in headers (Authorization, cookies), bearer tokens
 * in any header value, and the token that browsers and some clients carry in a WebSocket
 * subprotocol (`base64url.bearer.authorization.k8s.io.<token>`, apiserver authenticator).
 * Only the value is replaced, so the header's presence and position still show.
 */
import type { HeaderLines } from './types.js';

export const REDACTED = '<redacted>';

const SECRET_HEADERS = new Set(['authorization', 'proxy-authorization', 'cookie', 'set-cookie', 'x-remote-extra-token']);
const BEARER_PROTOCOL = /^(base64url\.bearer\.authorization\.k8s\.io\.).+$/i;
const BEARER_IN_VALUE = /\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+/gi;

export function redactHeaderValue(name: string, value: string): string {
  const lower = name.toLowerCase();
  if (SECRET_HEADERS.has(lower)) {
    // Keep the scheme ("Bearer", "Basic") where there is one: it tells which auth was used.
    const scheme = /^(\w+)\s+\S/.exec(value);
    return scheme && lower.endsWith('authorization') ? `${scheme[1]} ${REDACTED}` : REDACTED;
  }
  if (lower === 'sec-websocket-protocol') return value.split(',').map((p) => redactProtocol(p.trim())).join(', ');
  return value.replace(BEARER_IN_VALUE, (_m, scheme: string) => `${scheme} ${REDACTED}`);
}

export function redactProtocol(protocol: string): string {
  return protocol.replace(BEARER_PROTOCOL, `$1${REDACTED}`);
}

export function redactHeaders(headers: readonly (readonly [string, string])[]): HeaderLines {
  return headers.map(([n, v]) => [n, redactHeaderValue(n, v)]);
}
