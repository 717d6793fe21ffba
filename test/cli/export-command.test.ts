/**
 * `kubewire export`:
 * - `-o OUT`: the file is for the user alone (0600), whether it is new or an existing file it
 *   replaces, for both formats;
 * - `--session`: replay and both formats take the same ids and unique prefixes, and a list of
 *   sessions says what it counts and lists what it counted.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Har } from '../../src/audit/har.js';
import { runExport, type ExportOptions } from '../../src/cli/export-command.js';
import { runReplay } from '../../src/cli/replay-command.js';
import { CliError } from '../../src/io/errors.js';
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

type Ids = { session: string; conn: string };

/** An exec session on its own connection with one stdout message. */
function execSession(ids: Ids, output = 'secret'): EventBody[] {
  return [
    {
      type: 'upgrade.request', dir: 'c2s', offset: 0, method: 'GET', target: '/api/v1/namespaces/default/pods/web/exec?command=sh', path: '/api/v1/namespaces/default/pods/web/exec',
      version: 'HTTP/1.1', headers: [], upgrade: 'websocket', offered: ['v5.channel.k8s.io'], kubectlSession: ids.session, kubectlCommand: 'kubectl exec', userAgent: null, k8s: k8s(),
    },
    {
      type: 'upgrade.response', dir: 's2c', offset: 0, status: 101, reason: 'Switching Protocols', version: 'HTTP/1.1',
      headers: [['Upgrade', 'websocket'], ['Connection', 'Upgrade'], ['Sec-WebSocket-Protocol', 'v5.channel.k8s.io']], protocol: 'v5.channel.k8s.io', auditId: null, server: null, contentType: null,
    },
    { type: 'k8s.data', dir: 's2c', offset: 0, channel: 1, stream: 'stdout', size: output.length, payload: Buffer.from(output).toString('base64') },
    { type: 'conn.close', closedBy: 'upstream', bytes: { c2s: 10, s2c: 20 }, durationMs: 30, error: null },
  ];
}

/** `kubectl get pod web`: one plain request on its own connection. */
function restSession(ids: Ids): EventBody[] {
  return [
    { type: 'conn.open', kind: 'http', client: '127.0.0.1:5000', upstream: 'https://10.0.0.1:6443' },
    {
      type: 'http.request', dir: 'c2s', offset: 0, method: 'GET', target: '/api/v1/namespaces/default/pods/web', path: '/api/v1/namespaces/default/pods/web',
      version: '1.1', headers: [['Host', 'h']], upgrade: null, offered: [], kubectlSession: ids.session, kubectlCommand: 'kubectl get', userAgent: 'kubectl/v1.33.1', k8s: k8s({ operation: 'other', command: [] }),
    },
    { type: 'http.response', dir: 's2c', offset: 0, status: 200, reason: 'OK', version: '1.1', headers: [], protocol: null, auditId: null, server: null, contentType: 'application/json' },
    { type: 'conn.close', closedBy: 'upstream', bytes: { c2s: 10, s2c: 20 }, durationMs: 5, error: null },
  ];
}

/** Sessions one after another, their events 10 ms apart. */
function writeLog(file: string, sessions: [Ids, EventBody[]][]): string {
  const stamper = new EventStamper();
  let t = START_MS;
  const lines = sessions.flatMap(([ids, bodies]) => bodies.map((b) => JSON.stringify(stamper.stamp(b, b.type, { ts: timestampMicros((t += 10)), ...ids }))));
  writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

const execLog = (file: string): string => writeLog(file, [[{ session: 'exec-session-1', conn: 'c1' }, execSession({ session: 'exec-session-1', conn: 'c1' })]]);

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

async function failure(p: Promise<unknown>): Promise<CliError> {
  const e = await p.then(() => null, (x: unknown) => x);
  expect(e).toBeInstanceOf(CliError);
  return e as CliError;
}

describe('--session', () => {
  const a = { session: 'a1b2c3d4-0000-4000-8000-000000000001', conn: 'c1' };
  const b = { session: 'e5f6a7b8-0000-4000-8000-000000000002', conn: 'c2' };
  const rests = [1, 2, 3].map((i) => ({ session: `rest-${i}`, conn: `r${i}` }));
  const log = writeLog(fresh('many.jsonl'), [
    [rests[0]!, restSession(rests[0]!)],
    [a, execSession(a, 'from a')],
    [rests[1]!, restSession(rests[1]!)],
    [b, execSession(b, 'from b')],
    [rests[2]!, restSession(rests[2]!)],
  ]);
  const exportOf = async (extra: Partial<ExportOptions>): Promise<string> => {
    const out = new Collector();
    expect(await runExport({ files: [log], format: 'har', ...extra }, out, new Lines())).toBe(0);
    return out.text;
  };
  const replayOf = async (session?: string): Promise<{ code: number; out: string }> => {
    const out = new Collector();
    const code = await runReplay({ files: [log], ...(session !== undefined ? { session } : {}) }, out, new Collector(), new Lines());
    return { code, out: out.text };
  };

  it('lists as many sessions as it says it holds, and says why the others are not listed', async () => {
    const e = await failure(replayOf());
    expect(e.code).toBe('KW_ERR_SESSION_AMBIGUOUS');
    const lines = e.message.split('\n');
    expect(lines[0]).toContain('holds 2 exec/attach sessions with output');
    expect(lines[1]).toBe('Sessions with terminal output (2):');
    const listed = lines.filter((l) => l.startsWith('  '));
    expect(listed).toHaveLength(2);
    expect(listed[0]).toContain(a.session);
    expect(listed[1]).toContain(b.session);
    expect(e.message).not.toContain('rest-1');
    expect(lines.at(-1)).toMatch(/^Not listed: 3 other sessions with no terminal output to play \(3 plain API requests only\); `kubewire export .* --format har --session ID`/);
    // The asciicast export gives the same list.
    const cast = await failure(runExport({ files: [log], format: 'asciicast' }, new Collector(), new Lines()));
    expect(cast.message).toBe(e.message);
  });

  it('takes the same unique prefix in replay, the asciicast export and the HAR export', async () => {
    const played = await replayOf('e5f6');
    expect(played.out).toBe('from b');
    const cast = await exportOf({ format: 'asciicast', session: 'e5f6' });
    expect(cast).toContain('from b');
    expect(cast).not.toContain('from a');
    const har = JSON.parse(await exportOf({ session: 'e5f6' })) as Har;
    expect(har.log.entries.map((x) => x.connection)).toEqual(['c2']);
    // Any session has requests to export: a plain one too, by its id or a prefix of it.
    const rest = JSON.parse(await exportOf({ session: 'rest-2' })) as Har;
    expect(rest.log.entries.map((x) => x.connection)).toEqual(['r2']);
  });

  it('refuses a prefix of several ids alike, listing every session for a HAR', async () => {
    const har = await failure(runExport({ files: [log], format: 'har', session: 'rest-' }, new Collector(), new Lines()));
    expect(har.code).toBe('KW_ERR_SESSION_NOT_FOUND');
    expect(har.message).toContain('session rest- matches 3 sessions; give more of the id');
    expect(har.message).toContain('Sessions in ');
    expect(har.message.split('\n').filter((l) => l.startsWith('  '))).toHaveLength(5);
    const replay = await failure(replayOf('rest-'));
    expect(replay.message).toContain('session rest- matches 3 sessions');
    const notTerminal = await failure(replayOf('rest-1'));
    expect(notTerminal.code).toBe('KW_ERR_SESSION_NOT_TERMINAL');
  });
});
