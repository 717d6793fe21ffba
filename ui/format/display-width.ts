/**
 * Cutting and padding by the columns a terminal gives a string, not by its UTF-16 length: a
 * CJK character or an emoji takes two columns, a combining mark none. Widths come from
 * string-width (the measure Ink lays out with), one grapheme cluster at a time, so a cut never
 * splits a cluster and a wide character that would straddle the edge is left out whole.
 */
import stringWidth from 'string-width';

const ASCII = /^[\x20-\x7e]*$/;
const segmenter = new Intl.Segmenter();

/** Columns `s` takes on a terminal. */
export function displayWidth(s: string): number {
  return ASCII.test(s) ? s.length : stringWidth(s);
}

/** `s` cut to at most `width` columns, an ellipsis marking the cut. */
export function cutToWidth(s: string, width: number): string {
  if (width <= 0) return '';
  if (displayWidth(s) <= width) return s;
  if (ASCII.test(s)) return width === 1 ? '…' : `${s.slice(0, width - 1)}…`;
  let out = '';
  let used = 0;
  for (const { segment } of segmenter.segment(s)) {
    const w = stringWidth(segment);
    if (used + w > width - 1) break;
    out += segment;
    used += w;
  }
  return `${out}…`;
}

/** `s` padded with spaces to `width` columns (never cut). */
export function padToWidth(s: string, width: number): string {
  const w = displayWidth(s);
  return w >= width ? s : s + ' '.repeat(width - w);
}

/** `s` padded on the left to `width` columns (never cut). */
export function padStartToWidth(s: string, width: number): string {
  const w = displayWidth(s);
  return w >= width ? s : ' '.repeat(width - w) + s;
}

/** Exactly `width` columns: cut with an ellipsis, or padded. */
export function fitToWidth(s: string, width: number): string {
  return width <= 0 ? '' : padToWidth(cutToWidth(s, width), width);
}

/** `s` cut to at most `width` columns at its start (`…/logs/kw.jsonl`): for paths, whose end says most. */
export function cutStartToWidth(s: string, width: number): string {
  if (width <= 0) return '';
  if (displayWidth(s) <= width) return s;
  const graphemes = [...segmenter.segment(s)].map((g) => g.segment);
  let out = '';
  let used = 0;
  for (let i = graphemes.length - 1; i >= 0; i--) {
    const w = displayWidth(graphemes[i]!);
    if (used + w > width - 1) break;
    out = graphemes[i]! + out;
    used += w;
  }
  return `…${out}`;
}

/**
 * `text` wrapped at word boundaries into lines of at most `width` columns; its own newlines
 * are kept, and a word longer than a line is split between grapheme clusters.
 */
export function wrapToWidth(text: string, width: number): string[] {
  const w = Math.max(1, width);
  const out: string[] = [];
  for (const paragraph of text.split('\n')) {
    let line = '';
    let used = 0;
    for (const word of paragraph.split(/ +/)) {
      if (word === '') continue;
      let ww = displayWidth(word);
      if (used > 0 && used + 1 + ww <= w) {
        line += ` ${word}`;
        used += 1 + ww;
        continue;
      }
      if (used > 0) out.push(line);
      line = '';
      used = 0;
      let rest = word;
      while (ww > w) {
        let head = '';
        let hw = 0;
        for (const { segment } of segmenter.segment(rest)) {
          const sw = displayWidth(segment);
          // A cluster wider than the whole line still goes, alone, so the loop moves on.
          if (hw + sw > w && head !== '') break;
          head += segment;
          hw += sw;
        }
        out.push(head);
        rest = rest.slice(head.length);
        ww = displayWidth(rest);
      }
      line = rest;
      used = ww;
    }
    out.push(line);
  }
  return out;
}

/**
 * `parts` joined by `sep` while they fit in `width` columns: a part that does not fit is left
 * out whole (and the later ones with it), so a number or a time is never cut in the middle.
 * The first part is always there, cut if it must be.
 */
export function joinFitting(parts: readonly string[], sep: string, width: number): string {
  let out = cutToWidth(parts[0] ?? '', width);
  let used = displayWidth(out);
  const sepWidth = displayWidth(sep);
  for (const part of parts.slice(1)) {
    const w = sepWidth + displayWidth(part);
    if (used + w > width) break;
    out += sep + part;
    used += w;
  }
  return out;
}

/** `s` split into lines of exactly `width` columns (the last shorter), between grapheme clusters, ignoring words: for paths. */
export function splitToWidth(s: string, width: number): string[] {
  const w = Math.max(2, width);
  const out: string[] = [];
  let line = '';
  let used = 0;
  for (const { segment } of segmenter.segment(s)) {
    const sw = displayWidth(segment);
    if (used + sw > w && line !== '') {
      out.push(line);
      line = '';
      used = 0;
    }
    line += segment;
    used += sw;
  }
  out.push(line);
  return out;
}
