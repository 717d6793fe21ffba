/**
 * `npm run bench`: the codec benchmark, the proxy benchmark, then the gateway benchmark (two
 * replicas on one PostgreSQL, skipped with a line without it), each in a process of its own
 * (the codec's CPU time must not share a process with the demo cluster and its clients), and
 * their results as one table, each figure beside its goal. The load average is printed at the
 * start and the end: the machine may be shared, and the numbers are only as good as its quiet.
 *
 * Every size comes from the environment; see the header comments of codec.bench.js,
 * proxy.bench.js and gateway.bench.js. Progress goes to stderr, the table to stdout.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { loadAverage, printResults } from './report.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const tmp = mkdtempSync(path.join(os.tmpdir(), 'kubewire-bench-run-'));
const started = performance.now();
const loadAtStart = loadAverage();
let current = null;

const stop = (signal) => {
  // The benchmark stops what it started and removes its files on SIGTERM; wait for it.
  if (current) current.kill(signal);
  else finishAndExit(130);
};
process.on('SIGINT', () => stop('SIGINT'));
process.on('SIGTERM', () => stop('SIGTERM'));

function finishAndExit(code) {
  rmSync(tmp, { recursive: true, force: true });
  process.exit(code);
}

/** Runs one benchmark with `--json`, its stderr (progress) passed through; its rows, or null. */
function runPart(script) {
  const out = path.join(tmp, `${path.basename(script, '.js')}.json`);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--expose-gc', path.join(here, script), '--json', out], { stdio: ['ignore', 'inherit', 'inherit'] });
    current = child;
    child.once('exit', (code, signal) => {
      current = null;
      if (signal || code !== 0) {
        console.error(`${script} failed (${signal ?? `exit ${code}`})`);
        resolve(signal ? 'interrupted' : null);
        return;
      }
      resolve(JSON.parse(readFileSync(out, 'utf8')));
    });
  });
}

const parts = [];
for (const script of ['codec.bench.js', 'proxy.bench.js', 'gateway.bench.js']) {
  const part = await runPart(script);
  if (part === 'interrupted') finishAndExit(130);
  if (part) parts.push(part);
}
const loadAtEnd = loadAverage();

console.log(`kubewire benchmark, ${new Date().toISOString().slice(0, 10)}: ${os.cpus().length} CPUs (${os.cpus()[0]?.model.trim() ?? 'unknown'}), node ${process.version}`);
console.log(`load average (1, 5, 15 min): ${loadAtStart} at start, ${loadAtEnd} at the end`);
for (const part of parts) for (const line of part.header) console.log(line);
console.log('');
printResults(parts.flatMap((p) => p.rows));
console.log('');
for (const part of parts) for (const line of part.notes) console.log(line);
console.log(`Total ${((performance.now() - started) / 1000).toFixed(0)} s.`);
finishAndExit(parts.length === 3 ? 0 : 1);
