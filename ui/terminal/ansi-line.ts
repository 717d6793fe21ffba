/**
 * One row of an xterm buffer back to text with SGR escapes (colours, bold, underline,
 * inverse…), so Ink can print what the user saw in colour. Cells are read through one reused
 * cell object, as xterm recommends for speed.
 */
import type { IBufferCell, IBufferLine } from '@xterm/headless';

interface Style {
  fg: string;
  bg: string;
  flags: string;
}

const RESET = '\x1b[0m';

export function ansiLine(line: IBufferLine, cols: number, cell: IBufferCell | undefined): string {
  let out = '';
  let current = '';
  let styled = false;
  const width = Math.min(cols, line.length);
  // Trailing blank cells with no background carry nothing: stop at the last one that does.
  let end = width;
  while (end > 0) {
    const c = line.getCell(end - 1, cell);
    if (!c || c.getChars() !== '' || !c.isBgDefault() || c.isInverse()) break;
    end--;
  }
  for (let x = 0; x < end; x++) {
    const c = line.getCell(x, cell);
    if (!c) break;
    if (c.getWidth() === 0) continue;
    const key = sgr(styleOf(c));
    if (key !== current) {
      out += key === '' ? RESET : `${styled ? RESET : ''}${key}`;
      styled = key !== '';
      current = key;
    }
    out += c.getChars() || ' ';
  }
  return styled ? out + RESET : out;
}

function styleOf(c: IBufferCell): Style {
  const flags: number[] = [];
  if (c.isBold()) flags.push(1);
  if (c.isDim()) flags.push(2);
  if (c.isItalic()) flags.push(3);
  if (c.isUnderline()) flags.push(4);
  if (c.isInverse()) flags.push(7);
  if (c.isStrikethrough()) flags.push(9);
  return { fg: colour(c, 'fg'), bg: colour(c, 'bg'), flags: flags.join(';') };
}

function colour(c: IBufferCell, which: 'fg' | 'bg'): string {
  const base = which === 'fg' ? 30 : 40;
  if (which === 'fg' ? c.isFgDefault() : c.isBgDefault()) return '';
  const n = which === 'fg' ? c.getFgColor() : c.getBgColor();
  if (which === 'fg' ? c.isFgRGB() : c.isBgRGB()) return `${base + 8};2;${(n >> 16) & 255};${(n >> 8) & 255};${n & 255}`;
  if (n < 8) return String(base + n);
  if (n < 16) return String(base + 60 + n - 8);
  return `${base + 8};5;${n}`;
}

function sgr(s: Style): string {
  const parts = [s.flags, s.fg, s.bg].filter(Boolean);
  return parts.length ? `\x1b[${parts.join(';')}m` : '';
}
