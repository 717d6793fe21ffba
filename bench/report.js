/**
 * What the benchmarks share: medians, environment sizes, and the results table.
 *
 * A result is one row of that table: { measure, path, figure, versus, goal, ok }. `figure` is
 * the measured value, `versus` the same value next to its baseline (the ratio or the
 * difference the goal is about), `goal` the target in words, `ok` true / false against it, or
 * null where there is no target (baselines, context). Each benchmark prints its own table when
 * run alone; with `--json FILE` it writes its rows there instead, and bench/run.js prints the
 * rows of all of them as one table.
 */
import { writeFileSync } from 'node:fs';
import os from 'node:os';

export const KiB = 1024;
export const MiB = 1024 * KiB;

/** The median (the mean of the middle two for an even count); NaN for none. */
export function median(values) {
  const s = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** The nearest-rank quantile of already sorted values. */
export function quantile(sorted, f) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(f * sorted.length) - 1))];
}

export function loadAverage() {
  return os.loadavg().map((n) => n.toFixed(2)).join(' ');
}

/** A whole number from the environment, at least `min`, or `fallback` when unset. */
export function envInt(name, fallback, min = 1) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) {
    console.error(`${name} must be a whole number of at least ${min}, not ${JSON.stringify(raw)}`);
    process.exit(2);
  }
  return n;
}

export const fmt = (n, digits = 0) => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');

/** The value of `--json FILE` on the command line, or null. */
export function jsonTarget(argv = process.argv) {
  const i = argv.indexOf('--json');
  return i >= 0 ? argv[i + 1] ?? null : null;
}

const startedAt = Date.now();

/** Progress on stderr, so stdout holds the results only; seconds since this process started. */
export function progress(message) {
  process.stderr.write(`[bench ${((Date.now() - startedAt) / 1000).toFixed(0)} s] ${message}\n`);
}

/**
 * Hands the rows over: to the `--json` file (with the header lines and notes that go above and
 * below the table), or printed.
 */
export function finish({ header, rows, notes }) {
  const file = jsonTarget();
  if (file) writeFileSync(file, JSON.stringify({ header, rows, notes }));
  else {
    for (const line of header) console.log(line);
    console.log('');
    printResults(rows);
    console.log('');
    for (const line of notes) console.log(line);
  }
}

export function printResults(rows) {
  const header = ['measure', 'path', 'figure', 'versus', 'goal', 'result'];
  const table = rows.map((r, i) => [
    i > 0 && rows[i - 1].measure === r.measure ? '' : r.measure,
    r.path ?? '',
    r.figure ?? '',
    r.versus ?? '',
    r.goal ?? '',
    r.ok === true ? 'ok' : r.ok === false ? 'miss' : '',
  ]);
  const widths = header.map((h, c) => Math.max(h.length, ...table.map((row) => row[c].length)));
  const line = (row) => row.map((cell, c) => cell.padEnd(widths[c])).join('  ').trimEnd();
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const [i, row] of table.entries()) {
    if (i > 0 && rows[i - 1].measure !== rows[i].measure) console.log('');
    console.log(line(row));
  }
  const judged = rows.filter((r) => r.ok === true || r.ok === false);
  const missed = new Map();
  for (const r of judged.filter((r) => r.ok === false)) missed.set(r.measure, [...(missed.get(r.measure) ?? []), r.path]);
  console.log('');
  console.log(`${judged.filter((r) => r.ok).length} of ${judged.length} goals met.`);
  for (const [measure, paths] of missed) console.log(`  missed: ${measure}: ${paths.join(', ')}`);
}
