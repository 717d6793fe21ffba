/**
 * The upgrade request as it goes upstream: the client's head as received (method, target,
 * header lines in their order and case), apart from the credential swap: the client's
 * `Authorization` (kubewire's own per-run token) is removed and the upstream's credentials are
 * added, and `Host` names the upstream, as a gateway in front of the API server may route by it.
 * The client's lines are Node's Latin-1 reading of its bytes, so they go back byte for byte; the
 * credential values are given the same way (one character a byte, identity-headers.ts), and one
 * that is not, or that holds a control character, is refused (thrown), as Node's own HTTP client
 * refuses it on the plain path. A translated upgrade's request (src/translate/handshake.ts) is
 * built from the same rules: clientHeaders and addedHeaderLines.
 *
 * `closeUnlessUpgraded` (`kubewire gateway`): the `close` token is added to `Connection`, so an
 * upstream that answers anything but 101 ends the connection after that answer (RFC 9112 §9.6;
 * Go's net/http does) instead of reading further requests from it; the API server's upgrade
 * check only looks for the `upgrade` token (apimachinery httpstream.IsUpgradeRequest).
 */
import type { IncomingMessage } from 'node:http';

const DROPPED = new Set(['authorization', 'proxy-authorization', 'host']);

/** A header name: RFC 9110 tchar. A value: what Node's HTTP client accepts (HTAB, SP, VCHAR, obs-text). */
const NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

export function upstreamRequestHead(req: IncomingMessage, upstreamHost: string, pathPrefix: string, credentials: Record<string, string | string[]>, closeUnlessUpgraded = false): Buffer {
  const lines = [`${req.method} ${joinPath(pathPrefix, req.url ?? '/')} HTTP/${req.httpVersion}`, `Host: ${upstreamHost}`];
  let closing = !closeUnlessUpgraded;
  for (const [name, value] of clientHeaders(req)) {
    if (!closing && name.toLowerCase() === 'connection') {
      lines.push(`${name}: ${value}, close`);
      closing = true;
    } else lines.push(`${name}: ${value}`);
  }
  if (!closing) lines.push('Connection: close');
  lines.push(...addedHeaderLines(credentials));
  return Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1');
}

/**
 * The client's header lines that go upstream, as received, in their order and case: all but
 * its credentials, `Host`, and the names in `alsoDropped` (lower case; a translated upgrade
 * writes its own handshake headers).
 */
export function clientHeaders(req: IncomingMessage, alsoDropped: ReadonlySet<string> = new Set()): [string, string][] {
  const out: [string, string][] = [];
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const lower = raw[i]!.toLowerCase();
    if (!DROPPED.has(lower) && !alsoDropped.has(lower)) out.push([raw[i]!, raw[i + 1]!]);
  }
  return out;
}

/**
 * Header lines kubewire adds itself (the upstream's credentials, Impersonate-*): a header given
 * several values (Impersonate-Group) is one line per value, as client-go sends it. A name that is
 * not a token, or a value with a control character (CR, LF, NUL) or a character above U+00FF
 * (not one byte), is refused (thrown) rather than cleaned up, as Node's HTTP client refuses it
 * on the plain path (ERR_INVALID_CHAR).
 */
export function addedHeaderLines(headers: Record<string, string | string[]>): string[] {
  const lines: string[] = [];
  for (const [name, value] of Object.entries(headers)) {
    for (const v of typeof value === 'string' ? [value] : value) {
      if (!NAME.test(name) || !VALUE.test(v)) throw new Error(`the ${NAME.test(name) ? name : 'credential'} header for the upstream holds a character a header cannot carry`);
      lines.push(`${name}: ${v}`);
    }
  }
  return lines;
}

/** A kubeconfig server URL may carry a path (`https://gw.example/k8s/`): requests go below it. */
export function joinPath(prefix: string, path: string): string {
  const p = prefix.replace(/\/+$/, '');
  return p === '' ? path : p + (path.startsWith('/') ? path : `/${path}`);
}
