/**
 * Library clients through kubewire: python-kubernetes (Debian's python3-kubernetes) and
 * @kubernetes/client-node, against the demo cluster. Each operation must give the same result
 * through kubewire as directly, the session facts kubewire decoded, and no finding at all: these
 * clients send channel data in text frames, close streams themselves and offer other
 * subprotocols than kubectl, and none of that is a fault.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCluster, type TestCluster } from '../support/demo-cluster.js';
import { runCommandThroughKubewire, summaries } from '../support/kubewire-run.js';
import { PY_SCRIPT, PYTHON, pythonKubernetesAvailable, runClient, writeClientNodeScript } from '../support/library-clients.js';

const hasPython = pythonKubernetesAvailable();

let t: TestCluster;
let n = 0;
beforeAll(async () => {
  t = await startTestCluster();
});
afterAll(async () => {
  await t?.stop();
});

/** Runs the client directly against the demo cluster (killed at 30 s). */
function direct(command: string, args: string[]): Promise<{ code: number | null; stdout: string }> {
  return runClient(command, args, { kubeconfig: t.kubeconfig, home: t.home });
}

async function through(command: string, args: string[]) {
  const log = join(t.dir, `lib-${++n}.jsonl`);
  const r = await runCommandThroughKubewire(command, args, { kubeconfig: t.kubeconfig, home: t.home, log });
  const events = readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const findings = events.filter((e) => e.type === 'finding').map((e) => `${e.rule}: ${e.title}`);
  const upgrades = summaries(log).filter((s) => s.request.upgrade !== null);
  return { code: r.code, stdout: r.stdout, findings, upgrades, anomalies: events.filter((e) => e.type === 'decode.anomaly').map((e) => e.code) };
}

describe.skipIf(!hasPython)('python-kubernetes through kubewire', () => {
  const cases: [op: string, operation: string, check: (out: Record<string, unknown>) => void][] = [
    ['exec', 'exec', (o) => expect(o['stdout']).toBe('ok\n')],
    ['stdin', 'exec', (o) => expect(o['stdout']).toBe('hello from python\n')],
    ['tty', 'exec', (o) => expect(o['stdout']).toBe('30 100')],
    ['attach', 'attach', (o) => expect(o['ticks']).toBe(true)],
    ['portforward', 'portforward', (o) => expect(o['status']).toBe('HTTP/1.1 200 OK')],
  ];
  /**
   * python-kubernetes polls its raw socket for the next frame without asking its TLS layer for
   * data it already holds (ws_client.py `update`): output, status and close frames in one TLS
   * record would leave it waiting forever. kubewire writes each chunk on in a write of its own
   * (upgrade-tunnel.ts `ownRecords`), so they reach it as separate records, as directly.
   */
  for (const [op, operation, check] of cases) {
    it(`${op}: the same result as directly, decoded, with no finding`, async () => {
      const d = await direct(PYTHON, [PY_SCRIPT, op]);
      expect(d.code).toBe(0);
      const out = JSON.parse(d.stdout) as Record<string, unknown>;
      check(out);
      const k = await through(PYTHON, [PY_SCRIPT, op]);
      expect(k.code).toBe(0);
      expect(JSON.parse(k.stdout.trim().split('\n').pop()!)).toEqual(out);
      expect(k.findings).toEqual([]);
      expect(k.anomalies).toEqual([]);
      expect(k.upgrades.map((s) => [s.request.operation, s.transport, s.response.status])).toEqual([[operation, 'websocket', 101]]);
      if (op === 'tty') expect(k.upgrades[0]!.resizes).toEqual([[100, 30]]);
      if (op === 'stdin') expect(k.upgrades[0]!.streams['stdin']?.bytes).toBe('hello from python\n'.length);
      if (op === 'portforward') expect(k.upgrades[0]!.portForward.map((p) => p.port)).toEqual([80]);
    });
  }
});

describe('@kubernetes/client-node through kubewire', () => {
  const script = (): string => writeClientNodeScript(t.dir);

  const cases: [op: string, operation: string, want: Record<string, unknown>][] = [
    ['exec', 'exec', { stdout: 'ok', status: 'Success' }],
    ['stdin', 'exec', { stdout: 'hello from node', status: 'Success' }],
    ['tty', 'exec', { stdout: '30 100', status: 'Success' }],
    ['attach', 'attach', { ticks: true }],
    ['portforward', 'portforward', { status: 'HTTP/1.1 200 OK' }],
  ];
  for (const [op, operation, want] of cases) {
    it(`${op}: the same result as directly, decoded, with no finding`, async () => {
      const file = script();
      const d = await direct(process.execPath, [file, op]);
      expect(d.code).toBe(0);
      expect(JSON.parse(d.stdout)).toEqual(want);
      const k = await through(process.execPath, [file, op]);
      expect(k.code).toBe(0);
      expect(JSON.parse(k.stdout.trim().split('\n').pop()!)).toEqual(want);
      expect(k.findings).toEqual([]);
      expect(k.anomalies).toEqual([]);
      expect(k.upgrades.map((s) => [s.request.operation, s.transport, s.response.status])).toEqual([[operation, 'websocket', 101]]);
    });
  }
});
