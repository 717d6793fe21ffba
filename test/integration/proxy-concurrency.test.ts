/**
 * One `kubewire proxy` and 50 kubectl exec commands at once: every command gets its own output
 * and exit code, and the log has one intact summary per command, with nothing dropped.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { startTestCluster, type TestCluster } from '../support/demo-cluster.js';
import { expectValidLog, ofType } from '../support/event-log.js';
import { availableKubectls, runKubectl } from '../support/kubectl.js';
import { startProxyProcess, stopStartedProxies, type ProxyProcess } from '../support/kubewire-proxy.js';

const V = '1.33';
const versions = availableKubectls([V]);
const COMMANDS = 50;

const dir = mkdtempSync(join(tmpdir(), 'kubewire-concurrency-'));
const home = join(dir, 'home');
const log = join(dir, 'kubewire.jsonl');
let t: TestCluster | undefined;
let p: ProxyProcess;

beforeAll(async () => {
  if (versions.length === 0) return;
  mkdirSync(home);
  t = await startTestCluster();
  p = await startProxyProcess({ kubeconfig: t.kubeconfig, log, writeKubeconfig: join(dir, 'proxy.kubeconfig'), home });
  // Fills kubectl's discovery cache once, so the 50 commands do not all run discovery at once.
  const warm = await runKubectl(V, ['get', 'pods'], { kubeconfig: p.kubeconfig, home, timeoutMs: 30_000 });
  expect(warm.code, warm.stderr).toBe(0);
}, 60_000);

afterAll(async () => {
  await stopStartedProxies();
  await t?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(versions.length === 0)('50 concurrent kubectl exec through one proxy', () => {
  it('each command gets its own output and exit code; the log has 50 matching summaries and drops nothing', async () => {
    const numbers = Array.from({ length: COMMANDS }, (_, i) => i + 1);
    const results = await Promise.all(numbers.map((n) =>
      runKubectl(V, ['exec', 'web', '--', 'sh', '-c', `echo ${n}; sleep 0.2`], { kubeconfig: p.kubeconfig, home, timeoutMs: 60_000 })));
    results.forEach((r, i) => {
      expect(r.code, `command ${i + 1}: ${r.stderr}`).toBe(0);
      expect(r.stdout, `command ${i + 1}`).toBe(`${i + 1}\n`);
    });

    expect(p.alive()).toBe(true);
    expect(await p.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    const events = expectValidLog(log);
    expect(events.at(-1)).toMatchObject({ type: 'proxy.stop', dropped: 0 });
    expect(ofType(events, 'sink.dropped')).toHaveLength(0);
    expect(ofType(events, 'proxy.error')).toHaveLength(0);

    const summaries = ofType(events, 'conn.summary');
    expect(summaries).toHaveLength(COMMANDS);
    // Each summary belongs to the command its connection asked to run.
    const commandOf = new Map(ofType(events, 'upgrade.request').map((e) => [e.conn, e.k8s?.command ?? []]));
    const seen = new Set<number>();
    for (const s of summaries) {
      const command = commandOf.get(s.conn) ?? [];
      const n = Number(/^echo (\d+); sleep 0\.2$/.exec(command[2] ?? '')?.[1]);
      expect(numbers, `conn ${s.conn} ran ${JSON.stringify(command)}`).toContain(n);
      seen.add(n);
      expect(s.summary.exitCode, `command ${n}`).toBe(0);
      // Without --audit the summary counts bytes and hashes none; the log's stdout says what they were.
      expect(s.summary.streams['stdout'], `command ${n}`).toEqual({ bytes: `${n}\n`.length, sha256: null });
      const stdout = ofType(events, 'k8s.data').filter((e) => e.conn === s.conn && e.stream === 'stdout').map((e) => Buffer.from(e.payload ?? '', 'base64').toString()).join('');
      expect(stdout, `command ${n}`).toBe(`${n}\n`);
    }
    expect(seen.size).toBe(COMMANDS);
    // Every connection that opened was closed.
    const opened = new Set(ofType(events, 'conn.open').map((e) => e.conn));
    const closed = new Set(ofType(events, 'conn.close').map((e) => e.conn));
    expect([...opened].filter((c) => !closed.has(c))).toEqual([]);

    const r = runCli(['summary', log]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    const lines = r.stdout.split('\n').filter(Boolean);
    expect(lines).toHaveLength(COMMANDS);
    expect(new Set(lines.map((l) => (JSON.parse(l) as { request: { path: string }; streams: { stdout: { bytes: number } } }).streams.stdout.bytes)))
      .toEqual(new Set(numbers.map((n) => `${n}\n`.length)));
  }, 120_000);
});
