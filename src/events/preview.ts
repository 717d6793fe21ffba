/** Short, printable previews of payload bytes for notes: `"hi\n"` or `"\x1b[1mroot@…"`. */
export const MAX_PREVIEW_BYTES = 32;

export function previewBytes(bytes: Uint8Array, max = MAX_PREVIEW_BYTES): string {
  const n = Math.min(bytes.length, max);
  // A note is built per data event: one table lookup per byte, no formatting on the way.
  let out = '"';
  for (let i = 0; i < n; i++) out += BYTE_TEXT[bytes[i]!]!;
  return out + (bytes.length > max ? '…"' : '"');
}

/** How each byte value reads inside a preview's quotes. */
const BYTE_TEXT: readonly string[] = Array.from({ length: 256 }, (_, b) => {
  if (b === 0x0a) return '\\n';
  if (b === 0x0d) return '\\r';
  if (b === 0x09) return '\\t';
  if (b === 0x22) return '\\"';
  if (b === 0x5c) return '\\\\';
  if (b >= 0x20 && b < 0x7f) return String.fromCharCode(b);
  return '\\x' + b.toString(16).padStart(2, '0');
});

export function previewText(text: string, max = 80): string {
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return oneLine.length > max ? oneLine.slice(0, max - 1) + '…' : oneLine;
}

export function formatBytes(n: number): string {
  // Bulk traffic notes the same frame size event after event: the last answer is kept.
  if (n === lastFormatted) return lastFormattedText;
  lastFormatted = n;
  lastFormattedText = formatBytesOnce(n);
  return lastFormattedText;
}

let lastFormatted = Number.NaN;
let lastFormattedText = '';

function formatBytesOnce(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 * 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return `${(n / 1024 / 1024 / 1024).toFixed(2)} GiB`;
}
