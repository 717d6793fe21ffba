/**
 * An event as one JSONL line, in bytes, built around its payload.
 *
 * A payload-bearing event (k8s.data, pf.data, ws.data, http.body, ws.frame) is mostly base64: a
 * 64 KiB read is an 87 KB string. `JSON.stringify(event)` would scan and copy that string into a
 * new one, and `Buffer.from(…, 'utf8')` would scan and copy it again. Instead the event is
 * stringified without `payload`, and the payload is appended as the last member straight into
 * the line's bytes: base64 (RFC 4648 §4: A–Z, a–z, 0–9, `+`, `/`, `=`) contains no character
 * that JSON must escape in a string (RFC 8259 §7: the quotation mark, the reverse solidus and
 * U+0000–U+001F), so the string's JSON form is the string between two quotation marks; and it is
 * ASCII, so its UTF-8 bytes are its Latin-1 bytes, written by a plain copy. The line parses to the
 * same object as `JSON.stringify(event)`; only `payload` moves to the end (after `note`), where
 * it keeps the readable fields together at the start of the line.
 *
 * That `payload` holds base64 is the event schema's rule (`Payload`: contentEncoding base64, with
 * its pattern), and the decoders only ever fill it from `Buffer#toString('base64')`.
 */

export type LineAllocator = (bytes: number) => Buffer;

const PAYLOAD_MEMBER = ',"payload":"';
const QUOTE = 0x22;
const CLOSE_BRACE = 0x7d;
const NEWLINE = 0x0a;

const allocUnsafe: LineAllocator = (n) => Buffer.allocUnsafe(n);

/**
 * `event`'s JSON with a newline, as bytes in memory from `alloc`. `tail`, ASCII JSON text of
 * further members starting with a comma (`,"prev":"…"`), goes after the payload, before the
 * closing brace.
 */
export function encodeEventLine(event: object, tail = '', alloc: LineAllocator = allocUnsafe): Buffer {
  const payload = (event as { payload?: unknown }).payload;
  const spliced = typeof payload === 'string';
  let json: string;
  if (spliced) {
    // JSON.stringify leaves out a member whose value is undefined, in place: the event is
    // stringified as it is, its payload unset for the moment, instead of copied without it
    // (an object rest copy of every event cost more than the rest of this function).
    const e = event as { payload?: unknown };
    e.payload = undefined;
    try {
      json = JSON.stringify(event);
    } finally {
      e.payload = payload;
    }
  } else {
    json = JSON.stringify(event);
  }
  // `json` is `{…}`; all but its closing brace is copied. With no member before them, the
  // payload's or the tail's leading comma is left out.
  const bare = json.length === 2;
  const open = spliced ? (bare ? PAYLOAD_MEMBER.slice(1) : PAYLOAD_MEMBER) : '';
  const rest = bare && !spliced ? tail.slice(1) : tail;
  const jsonBytes = Buffer.byteLength(json, 'utf8') - 1;
  const size = jsonBytes + (spliced ? open.length + payload.length + 1 : 0) + rest.length + 2;
  const line = alloc(size);
  let at = line.write(json, 0, jsonBytes, 'utf8');
  if (spliced) {
    at += line.write(open, at, 'latin1');
    at += line.write(payload, at, 'latin1');
    line[at++] = QUOTE;
  }
  at += line.write(rest, at, 'latin1');
  line[at++] = CLOSE_BRACE;
  line[at++] = NEWLINE;
  if (at !== size) throw new Error(`event line: ${at} bytes written, ${size} expected`);
  return line;
}
