/**
 * An identity as request header lines (Impersonate-*), written as the API server reads them.
 * Names and values come from a TokenReview or a client certificate, so they are checked first:
 * a control character (CR, LF, NUL, …) would split or end a header line, so such an identity is
 * refused, never cleaned up. Values are sent as their UTF-8 bytes (Go's net/http takes obs-text
 * octets, RFC 9110 §5.5, and the API server reads them as UTF-8), given to Node as a string of
 * one Latin-1 character per byte, which both of kubewire's ways upstream (http-proxy and the
 * upgrade tunnel's request-head.ts) write byte for byte.
 */
import type { SessionUser } from '../events/types.js';

/** C0 and C1 controls and DEL: never part of a header value (RFC 9110 §5.5). */
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** Which part of `user` holds a control character (`the user name`, `a group`, …), or null. */
export function controlCharacterIn(user: SessionUser): string | null {
  if (CONTROL.test(user.username)) return 'the user name';
  if (user.uid !== null && CONTROL.test(user.uid)) return 'the uid';
  if (user.groups.some((g) => CONTROL.test(g))) return 'a group';
  for (const [key, values] of Object.entries(user.extra)) {
    if (CONTROL.test(key)) return 'an extra key';
    if (values.some((v) => CONTROL.test(v))) return `the extra ${JSON.stringify(key)}`;
  }
  return null;
}

/** `value`'s UTF-8 bytes, one Latin-1 character each, as Node writes a header value. */
export function headerValue(value: string): string {
  return Buffer.from(value, 'utf8').toString('latin1');
}

/** RFC 9110 §5.6.2 tchar: what a header name may hold. */
const TCHAR = /^[!#$&'*+\-.^_`|~0-9A-Za-z]$/;

/**
 * An Impersonate-Extra-<key> key as a header name: every byte that is not a tchar, and `%`
 * itself, percent-encoded (RFC 3986 §2.1), as client-go's headerKeyEscape does and the API
 * server undoes with url.PathUnescape (k8s.io/client-go/transport/round_trippers.go).
 */
export function headerKeyEscape(key: string): string {
  let out = '';
  for (const b of Buffer.from(key, 'utf8')) {
    const c = String.fromCharCode(b);
    out += b < 0x80 && c !== '%' && TCHAR.test(c) ? c : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}
