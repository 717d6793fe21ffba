/**
 * A lane message shown three ways (t, x, J): text with control bytes escaped, a hex dump, or
 * pretty-printed JSON. Only the messages on screen are formatted, each once per mode (the
 * results are cached on the message object, which the store keeps until the next publish).
 */
import type { LaneMessage } from '../store/types.js';
import { cutToWidth } from './display-width.js';

export type MessageFormat = 'text' | 'hex' | 'json';

const bytesCache = new WeakMap<LaneMessage, Uint8Array>();
const lineCache = new WeakMap<LaneMessage, Partial<Record<MessageFormat, string>>>();

export function messageBytes(m: LaneMessage): Uint8Array {
  let b = bytesCache.get(m);
  if (!b) {
    b = m.payload ? Buffer.from(m.payload, 'base64') : new Uint8Array(0);
    bytesCache.set(m, b);
  }
  return b;
}

/** The message on one line (the list): at most `max` display columns. */
export function messageLine(m: LaneMessage, format: MessageFormat, max = 160): string {
  let cache = lineCache.get(m);
  if (!cache) lineCache.set(m, (cache = {}));
  const hit = cache[format];
  if (hit !== undefined) return hit;
  const line = oneLine(m, format, max);
  cache[format] = line;
  return line;
}

function oneLine(m: LaneMessage, format: MessageFormat, max: number): string {
  if (m.payload === undefined) return m.size > 0 ? '(payload not recorded)' : m.tag || m.note;
  const bytes = messageBytes(m);
  if (bytes.length === 0) return '(empty)';
  switch (format) {
    case 'hex':
      return cut(hexBytes(bytes.subarray(0, Math.ceil(max / 3))), max);
    case 'json': {
      const json = parseJson(bytes);
      return json === undefined ? cut(escapeText(bytes, max), max) : cut(JSON.stringify(json), max);
    }
    default:
      return cut(escapeText(bytes, max), max);
  }
}

/** The selected message in full (up to `maxLines` lines of `width` columns). */
export function messageBlock(m: LaneMessage, format: MessageFormat, width: number, maxLines: number): string[] {
  const notes: string[] = [];
  const bytes = messageBytes(m);
  if (m.payload === undefined) {
    return [m.size > 0 ? `${m.size} B sent, none recorded (--payload none); the sizes are in the JSONL log` : m.note];
  }
  if (bytes.length === 0) return [m.tag === 'initial' ? '(empty: the message a server sends right after the 101)' : '(empty message)'];
  if (m.truncated) notes.push(`recorded ${bytes.length} of ${m.size} B (--payload head); the rest was not kept anywhere`);
  let lines: string[];
  switch (format) {
    case 'hex':
      lines = hexDump(bytes, width, maxLines);
      break;
    case 'json': {
      const json = parseJson(bytes);
      lines = json === undefined ? ['(not JSON; shown as text)', ...textLines(bytes, width, maxLines)] : JSON.stringify(json, null, 2).split('\n');
      break;
    }
    default:
      lines = textLines(bytes, width, maxLines);
  }
  const out = [...notes, ...lines.map((l) => cut(l, width))];
  if (out.length > maxLines) return [...out.slice(0, maxLines - 1), `… ${out.length - maxLines + 1} more lines`];
  return out;
}

export function hexBytes(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += (i ? ' ' : '') + bytes[i]!.toString(16).padStart(2, '0');
  return s;
}

function hexDump(bytes: Uint8Array, width: number, maxLines: number): string[] {
  // 0000  68 65 6c 6c 6f 0d 0a …  |hello..|
  const per = width >= 76 ? 16 : 8;
  const lines: string[] = [];
  for (let off = 0; off < bytes.length && lines.length < maxLines + 1; off += per) {
    const chunk = bytes.subarray(off, off + per);
    const hex = hexBytes(chunk).padEnd(per * 3 - 1);
    let ascii = '';
    for (const b of chunk) ascii += b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.';
    lines.push(`${off.toString(16).padStart(4, '0')}  ${hex}  |${ascii}|`);
  }
  return lines;
}

function textLines(bytes: Uint8Array, width: number, maxLines: number): string[] {
  const text = escapeText(bytes, width * (maxLines + 1), true);
  return text.split('\n');
}

/** Printable ASCII as is; `\r`, `\t`, `\x1b` and other bytes escaped; newlines kept when `keepNewlines`. */
export function escapeText(bytes: Uint8Array, max: number, keepNewlines = false): string {
  let out = '';
  const text = Buffer.from(bytes).toString('utf8');
  for (const ch of text) {
    if (out.length >= max) return `${out}…`;
    const c = ch.codePointAt(0)!;
    if (ch === '\n') out += keepNewlines ? '\n' : '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\ufffd') out += '\\ufffd';
    else if (c < 0x20 || c === 0x7f || (c >= 0x80 && c < 0xa0)) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return out;
}

function parseJson(bytes: Uint8Array): unknown {
  const text = Buffer.from(bytes).toString('utf8').trim();
  if (!text || !'{["-0123456789tfn'.includes(text[0]!)) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** At most `max` display columns: wide characters count two. */
function cut(s: string, max: number): string {
  return cutToWidth(s, max);
}
