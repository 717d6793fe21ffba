/**
 * `kubewire export -o OUT`: the file is for the user alone (0600), whether it is new or an
 * existing file it replaces, for both formats.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runExport } from '../../src/cli/export-command.js';
import { EventStamper, timestampMicros } from '../../src/events/stamp.js';
import type { EventBody, K8sRequestInfo } from '../../src/events/types.js';
import { Collector } from '../support/collector.js';
import { Lines } from '../support/lines-output.js';

const root = mkdtempSync(join(tmpdir(), 'kubewire-export-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = (name: string): string => join(root, `${++n}-${name}`);
const START_MS = Date.UTC(2026, 10, 21, 10, 0, 0);

const k8s = (over: Partial<K8sRequestInfo> = {}): K8sRequestInfo => ({
  operation: 'exec', namespace: 'default', pod: 'web', container: null, command: ['sh'], stdin: true, stdout: true, stderr: false, tty: true, ports: [], ...over,
});

/** An exec session `s1` on connection c1 with one stdout message, 10 ms apart. */
function execLog(file: string): string {
  const stamper = new EventStamper();
  let t = START_MS;
  const ids = { session: 'exec-session-1', conn: 'c1' };
  const bodies: EventBody[] = [
    {
      type: 'upgrade.request', dir: 'c2s', offset: 0, method: 'GET', target: '/api/v1/namespaces/default/pods/web/exec?command=sh', path: '/api/v1/namespaces/default/pods/web/exec',
      version: 'HTTP/1.1', headers: [], upgrade: 'websocket', offered: ['v5.channel.k8s.io'], kubectlSession: ids.session, kubectlCommand: 'kubectl exec', userAgent: null, k8s: k8s(),
    },
    {
      type: 'upgrade.response', dir: 's2c', offset: 0, status: 101, reason: 'Switching Protocols', version: 'HTTP/1.1',
      headers: [['Upgrade', 'websocket'], ['Connection', 'Upgrade'], ['Sec-WebSocket-Protocol', 'v5.channel.k8s.io']], protocol: 'v5.channel.k8s.io', auditId: null, server: null, contentType: null,
    },
    { type: 'k8s.data', dir: 's2c', offset: 0, channel: 1, stream: 'stdout', size: 6, payload: Buffer.from('secret').toString('base64') },
    { type: 'conn.close', closedBy: 'upstream', bytes: { c2s: 10, s2c: 20 }, durationMs: 30, error: null },
  ];
  writeFileSync(file, bodies.map((b) => JSON.stringify(stamper.stamp(b, b.type, { ts: timestampMicros((t += 10)), ...ids }))).join('\n') + '\n');
  return file;
}

const modeOf = (file: string): number => statSync(file).mode & 0o777;

describe('export -o', () => {
  const log = execLog(fresh('exec.jsonl'));

  for (const format of ['asciicast', 'har'] as const) {
    it(`creates a ${format} file readable by the user alone`, async () => {
      const out = fresh(`new.${format}`);
      expect(await runExport({ files: [log], format, output: out }, new Collector(), new Lines())).toBe(0);
      expect(modeOf(out)).toBe(0o600);
      expect(readFileSync(out, 'utf8')).toContain(format === 'har' ? '"entries"' : 'secret');
    });

    it(`replaces an existing world-readable ${format} file, and makes it 0600`, async () => {
      const out = fresh(`old.${format}`);
      writeFileSync(out, 'x'.repeat(100_000));
      chmodSync(out, 0o644);
      expect(await runExport({ files: [log], format, output: out }, new Collector(), new Lines())).toBe(0);
      expect(modeOf(out)).toBe(0o600);
      expect(readFileSync(out, 'utf8')).not.toContain('x'.repeat(100));
    });
  }
});
