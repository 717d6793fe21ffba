/**
 * The observer on its worker thread, as a running proxy uses it: real kubectl through a proxy
 * started in-process (the worker runs the built dist/, which `npm test` makes first) against
 * the demo cluster. What matters here is the relay's side of the bargain: the worker can fall
 * behind or die, and the bytes kubectl sends and receives never notice.
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseListen } from '../../src/cli/listen-address.js';
import { startProxy, type RunningProxy } from '../../src/cli/proxy-setup.js';
import { encodeWsFrame } from '../../src/codec/websocket-encode.js';
import { WorkerObserver } from '../../src/observer/worker-observer.js';
import { startTestCluster, type TestCluster } from '../support/demo-cluster.js';
import { ofType, readEvents } from '../support/event-log.js';
import { availableKubectls, kubectlEnv, kubectlPath, runKubectl, startKubectl, tempHome } from '../support/kubectl.js';
import { Lines } from '../support/lines-output.js';
import { waitUntil } from '../support/event-log.js';

const [kubectl] = availableKubectls(['1.33']);
const SAFETY_MS = 60_000;

let cluster: TestCluster;
let dir: string;
const home = tempHome();
beforeAll(async () => {
  cluster = await startTestCluster();
  dir = mkdtempSync(join(tmpdir(), 'kubewire-observer-'));
});
afterAll(async () => {
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
  rmSync(home, { recursive: true, force: true });
});

let proxies = 0;
async function proxy(flags: { audit?: boolean } = {}): Promise<{ running: RunningProxy; kubeconfig: string; errors: Lines }> {
  const n = ++proxies;
  const kubeconfig = join(dir, `proxy-${n}.kubeconfig`);
  const errors = new Lines();
  const audit = flags.audit ? { failMode: 'closed' as const, keyFile: null, redactStdin: 'none' as const, maxSize: null } : null;
  const running = await startProxy({ kubeconfig: cluster.kubeconfig, log: join(dir, `proxy-${n}.jsonl`), payload: 'head', audit }, parseListen('127.0.0.1:0'), kubeconfig, errors);
  return { running, kubeconfig, errors };
}

/** Printable bytes that never repeat, so a lost or reordered chunk shows (kubectl without a tty passes them as they are). */
function pattern(bytes: number): Buffer {
  return Buffer.from(randomBytes(Math.ceil(bytes * 3 / 4)).toString('base64').slice(0, bytes));
}

describe.skipIf(!kubectl)('the observer on its worker thread', () => {
  it('a killed observer worker never stops relayed bytes: the open exec goes on byte for byte, and new commands are served', async () => {
    const { running, kubeconfig, errors } = await proxy();
    try {
      const child = spawn(kubectlPath(kubectl!), ['exec', '-i', 'web', '-c', 'app', '--', 'cat'], { env: kubectlEnv({ kubeconfig, home }), stdio: ['pipe', 'pipe', 'pipe'] });
      const killer = setTimeout(() => child.kill('SIGKILL'), SAFETY_MS);
      const out: Buffer[] = [];
      let got = 0;
      child.stdout.on('data', (d: Buffer) => void (out.push(d), (got += d.length)));
      const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
      const first = pattern(1024 * 1024);
      const second = pattern(1024 * 1024);
      child.stdin.write(first);
      await waitUntil('the first MiB to come back', () => (got >= first.length ? true : undefined), SAFETY_MS);
      await running.observer.kill();
      child.stdin.end(second);
      expect(await exited).toBe(0);
      clearTimeout(killer);
      expect(Buffer.concat(out).equals(Buffer.concat([first, second])), 'stdout is stdin, byte for byte, across the observer\'s death').toBe(true);
      expect(errors.text).toMatch(/the observer stopped \(.*\); bytes still flow, but nothing more is decoded, logged or diagnosed/);
      // Not an audit: new sessions are served, unrecorded.
      const after = await runKubectl(kubectl!, ['get', 'pods', '-o', 'name'], { kubeconfig, home });
      expect(after.stderr).toBe('');
      expect(after.stdout).toContain('pod/web');
    } finally {
      await running.shutdown('test done');
    }
  });

  it('with --audit (fail closed), a dead recorder refuses new sessions with a Status kubectl prints, while the open one goes on', async () => {
    const { running, kubeconfig, errors } = await proxy({ audit: true });
    try {
      const exec = startKubectl(kubectl!, ['exec', '-i', 'web', '-c', 'app', '--', 'cat'], { kubeconfig, home, timeoutMs: SAFETY_MS });
      exec.child.stdin!.write('before\n');
      await exec.waitFor(/before/);
      await running.observer.kill();
      const refused = await runKubectl(kubectl!, ['get', 'pods'], { kubeconfig, home });
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toMatch(/audit recorder stopped .*new sessions are refused \(--audit-fail closed\)/);
      exec.child.stdin!.end('after\n');
      await exec.waitFor(/after/);
      expect(errors.text).toMatch(/the observer stopped .*new sessions are refused \(--audit-fail closed\)/);
    } finally {
      await running.shutdown('test done');
    }
  });
});

describe('the brake across threads', () => {
  it('a lossless observer whose log stalls holds the relay, then resumes, and every byte reaches the log', async () => {
    const fifo = join(dir, 'slow.jsonl');
    execFileSync('mkfifo', [fifo]);
    // The reader opens first (the writer's open waits for one), then reads only when told.
    const reader = createReadStream(fifo, { highWaterMark: 64 * 1024 });
    const log: Buffer[] = [];
    reader.on('data', (d) => log.push(d as Buffer));
    reader.pause();
    const errors = new Lines();
    const observer = await WorkerObserver.start({ payload: 'full', lossless: true, digests: false, logPath: fifo, audit: null, errors });
    const ids = { conn: 'c1', session: 's1' };
    observer.publish({ type: 'conn.open', kind: 'upgrade', client: '127.0.0.1:1', upstream: 'test' }, ids);
    const tap = observer.tap(ids);
    tap.push('c2s', Buffer.from('GET /api/v1/namespaces/default/pods/web/exec?command=cat&stdout=true HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: v5.channel.k8s.io\r\n\r\n'));
    tap.push('s2c', Buffer.from('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: v5.channel.k8s.io\r\n\r\n'));
    const data = pattern(16 * 1024 * 1024);
    const FRAME = 16 * 1024;
    let off = 0;
    /** Pushes frames as a relay does: a turn of the loop per 256 KiB, stopping while held. */
    const pushUntilHeld = async (): Promise<void> => {
      while (off < data.length && observer.writable) {
        for (let i = 0; i < 16 && off < data.length; i++, off += FRAME) {
          tap.push('s2c', encodeWsFrame({ opcode: 2, payload: Buffer.concat([Buffer.from([1]), data.subarray(off, off + FRAME)]) }));
        }
        await new Promise((r) => setTimeout(r, 2));
      }
    };
    await pushUntilHeld();
    expect(off, 'the relay is held before all was sent, while the log does not drain').toBeLessThan(data.length);
    // Held because the log is behind, not because of bytes in flight: it stays held while nobody reads.
    await new Promise((r) => setTimeout(r, 500));
    expect(observer.writable).toBe(false);
    expect(log.length).toBe(0);
    reader.resume();
    while (off < data.length) {
      if (!observer.writable) await new Promise<void>((resolve) => observer.onWritable(resolve));
      await pushUntilHeld();
    }
    tap.end('c2s');
    tap.end('s2c');
    observer.publish({ type: 'conn.close', closedBy: 'client', bytes: { c2s: 0, s2c: 0 }, durationMs: 1, error: null }, ids);
    const closed = new Promise<void>((resolve) => reader.on('end', () => resolve()));
    await observer.shutdown('test done', 1);
    await closed;
    const path = join(dir, 'slow-copy.jsonl');
    execFileSync('sh', ['-c', 'cat > "$1"', 'sh', path], { input: Buffer.concat(log) });
    const events = readEvents(path);
    const stdout = Buffer.concat(ofType(events, 'k8s.data').filter((e) => e.dir === 's2c').map((e) => Buffer.from(e.payload ?? '', 'base64')));
    expect(stdout.length).toBe(data.length);
    expect(stdout.equals(data), 'the logged stdout is the relayed stdout, in order').toBe(true);
    expect(errors.text).toBe('');
  });

  it('a lossy observer far behind never holds the relay: it stops decoding that connection and says so', async () => {
    const errors = new Lines();
    const path = join(dir, 'lossy.jsonl');
    const observer = await WorkerObserver.start({ payload: 'head', lossless: false, digests: false, logPath: path, audit: null, errors });
    const ids = { conn: 'c1', session: 's1' };
    const tap = observer.tap(ids);
    // The count of decoded bytes is live (in-flight.ts), so the observer must really be behind:
    // the first batch holds 100k events (seconds of the observer's work, a tenth of that of the
    // relay's), and the 80 MiB after it are copied in the same turn of the loop.
    for (let i = 0; i < 100_000; i++) observer.publish({ type: 'sink.dropped', sink: 'test', dropped: 1, total: i + 1 });
    const chunk = Buffer.alloc(1024 * 1024, 0x61);
    for (let i = 0; i < 80; i++) {
      tap.push('s2c', chunk);
      expect(observer.writable).toBe(true);
    }
    tap.end('s2c');
    await observer.shutdown('test done', 1);
    const behind = readEvents(path).filter((e) => e.type === 'proxy.error' && e.code === 'KW_ERR_OBSERVER_BEHIND');
    expect(behind).toHaveLength(1);
    expect(behind[0]).toMatchObject({ conn: 'c1', message: expect.stringMatching(/observer fell behind .* no longer decoded, its bytes still flow/) });
  });
});
