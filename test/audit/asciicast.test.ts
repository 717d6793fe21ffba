/**
 * `kubewire export --format asciicast`: the header and events of a recorded `kubectl exec -it`
 * (a real kubectl 1.30 WebSocket session), UTF-8 characters split across frames, redacted stdin,
 * v3 with its exit event, writing to a slow stdout with backpressure, and — where asciinema is
 * installed — that `asciinema cat` prints the session's output from the file written.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pty from 'node-pty';
import { afterAll, describe, expect, it } from 'vitest';
import { AsciicastBuilder } from '../../src/audit/asciicast.js';
import { SessionScanner, TerminalChunker } from '../../src/audit/terminal-session.js';
import { parseTsMicros } from '../../src/events/stamp.js';
import { CliError } from '../../src/io/errors.js';
import { runExport, type ExportOptions } from '../../src/cli/export-command.js';
import { EventStamper, timestampMicros } from '../../src/events/stamp.js';
import type { EventBody, K8sRequestInfo, KubewireEvent } from '../../src/events/types.js';
import { writeRecordedLog } from '../support/recorded-log.js';
import { vectorsAvailable } from '../support/vectors.js';
import { Collector } from '../support/collector.js';
import { Lines } from '../support/lines-output.js';

const root = mkdtempSync(join(tmpdir(), 'kubewire-asciicast-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = (name: string): string => join(root, `${++n}-${name}`);
const START_MS = Date.UTC(2026, 10, 21, 10, 0, 0);

async function exportCast(files: string[], extra: Partial<ExportOptions> = {}): Promise<{ header: Record<string, unknown>; events: [number, string, string][]; err: string[] }> {
  const out = new Collector();
  const err = new Lines();
  expect(await runExport({ files, format: 'asciicast', ...extra }, out, err)).toBe(0);
  const [head, ...rest] = out.lines;
  return { header: JSON.parse(head!) as Record<string, unknown>, events: rest.map((l) => JSON.parse(l) as [number, string, string]), err: err.lines };
}

const readEvents = (file: string): KubewireEvent[] => readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as KubewireEvent);

/** The stdout of a log's session as text. */
function stdoutText(file: string): string {
  return Buffer.concat(readEvents(file)
    .filter((e) => e.type === 'k8s.data' && e.stream === 'stdout' && e.dir === 's2c')
    .map((e) => Buffer.from((e as { payload?: string }).payload ?? '', 'base64'))).toString('utf8');
}

describe.runIf(vectorsAvailable())('asciicast of a recorded kubectl exec -it session', () => {
  const log = join(root, 'tty-ws.jsonl');
  writeRecordedLog(log, [{ vector: 'kubectl1.30-exec-tty-ws-v5', session: '9c028579-41a1-424e-8ed9-8cd1c186cf7b' }], START_MS);
  const events = readEvents(log);
  const startUs = parseTsMicros(events[0]!.ts)!;

  it('writes a v2 header with the first resize, the kubectl command, a title and the start time', async () => {
    const { header } = await exportCast([log]);
    expect(header).toEqual({
      version: 2,
      width: 80,
      height: 24,
      timestamp: Math.floor(START_MS / 1000),
      command: 'kubectl exec -it p1 -c c1 -- sh',
      title: 'default/p1: sh',
    });
  });

  it('writes every stdout chunk as an "o" event at its time since the start, and later resizes as "r"', async () => {
    const { events: cast } = await exportCast([log]);
    const output = cast.filter((e) => e[1] === 'o');
    expect(output.map((e) => e[2]).join('')).toBe(stdoutText(log));
    // One event per non-empty stdout message, timed from the log.
    const stdoutEvents = events.filter((e) => e.type === 'k8s.data' && e.stream === 'stdout' && e.size > 0);
    expect(output.map((e) => e[0])).toEqual(stdoutEvents.map((e) => (parseTsMicros(e.ts)! - startUs) / 1e6));
    expect(cast.filter((e) => e[1] === 'r').map((e) => e[2])).toEqual(['100x30', '101x31']);
    expect(cast.some((e) => e[1] === 'i')).toBe(false);
    const times = cast.map((e) => e[0]);
    expect(times).toEqual([...times].sort((a, b) => a - b));
  });

  it('adds stdin as "i" events with --include-input', async () => {
    const { events: cast } = await exportCast([log], { includeInput: true });
    expect(cast.filter((e) => e[1] === 'i').map((e) => e[2])).toEqual(['hello\r', 'exit 5\r']);
  });

  it('writes v3 with term, intervals between events and the exit status as an "x" event', async () => {
    const v2 = await exportCast([log]);
    const v3 = await exportCast([log], { asciicastVersion: 3 });
    expect(v3.header).toEqual({ version: 3, term: { cols: 80, rows: 24 }, timestamp: Math.floor(START_MS / 1000), command: 'kubectl exec -it p1 -c c1 -- sh', title: 'default/p1: sh' });
    const last = v3.events.at(-1)!;
    expect([last[1], last[2]]).toEqual(['x', '5']);
    // The intervals add up to v2's absolute times.
    let at = 0;
    const absolute = v3.events.slice(0, -1).map((e) => (at = Math.round((at + e[0]) * 1e6) / 1e6));
    expect(absolute).toEqual(v2.events.map((e) => e[0]));
    expect(v3.events.slice(0, -1).map((e) => e[2])).toEqual(v2.events.map((e) => e[2]));
    expect(v3.events.every((e) => e[0] >= 0)).toBe(true);
  });

  it('waits for a slow stdout to drain, and writes the same cast', async () => {
    const fast = new Collector();
    expect(await runExport({ files: [log], format: 'asciicast', includeInput: true }, fast, new Lines())).toBe(0);
    const slow = new Collector(1, 64);
    expect(await runExport({ files: [log], format: 'asciicast', includeInput: true }, slow, new Lines())).toBe(0);
    expect(slow.text).toBe(fast.text);
    // At most the buffer plus the line that filled it: each write waited for 'drain'.
    const longest = Math.max(...slow.lines.map((l) => Buffer.byteLength(l) + 1));
    expect(slow.maxBuffered).toBeLessThanOrEqual(64 + longest);
  });

  it('is read by asciinema: `asciinema cat` prints the session output', async (ctx) => {
    const asciinema = '/usr/bin/asciinema';
    if (!existsSync(asciinema)) {
      if (process.env['CI'] === 'true') throw new Error(`${asciinema} is missing; the CI image must install asciinema`);
      console.warn(`skipping: ${asciinema} is not installed (apt-get install asciinema)`);
      ctx.skip();
      return;
    }
    const cast = fresh('session.cast');
    expect(await runExport({ files: [log], format: 'asciicast', output: cast }, new Collector(), new Lines())).toBe(0);
    // `asciinema cat` puts /dev/tty in raw mode, so it runs under a pseudo-terminal; its stdout
    // goes to a file, past the terminal's newline translation.
    const home = fresh('home');
    const printed = fresh('printed.txt');
    const p = pty.spawn('/bin/sh', ['-c', 'exec "$0" cat "$1" > "$2"', asciinema, cast, printed], {
      name: 'xterm', cols: 80, rows: 24, cwd: root, env: { ...process.env, HOME: home, XDG_CONFIG_HOME: home, ASCIINEMA_CONFIG_HOME: home } as Record<string, string>,
    });
    let said = '';
    p.onData((d) => (said += d));
    const killer = setTimeout(() => p.kill('SIGKILL'), 30_000);
    const code = await new Promise<number>((resolve) => p.onExit((e) => resolve(e.exitCode)));
    clearTimeout(killer);
    expect(code, said).toBe(0);
    expect(readFileSync(printed, 'utf8')).toBe(stdoutText(log));
  });
});

// -- synthetic sessions --------------------------------------------------------------------------

const k8s = (over: Partial<K8sRequestInfo> = {}): K8sRequestInfo => ({
  operation: 'exec', namespace: 'team-a', pod: 'web', container: 'app', command: ['sh', '-c', 'echo hi; cat'], stdin: true, stdout: true, stderr: false, tty: true, ports: [], ...over,
});

/** A terminal session's events, 10 ms apart. */
function syntheticLog(bodies: EventBody[]): string {
  const stamper = new EventStamper();
  let t = START_MS;
  return bodies.map((b) => JSON.stringify(stamper.stamp(b, b.type, { ts: timestampMicros((t += 10)), session: 'syn', conn: 'c1' }))).join('\n') + '\n';
}

const request: EventBody = {
  type: 'upgrade.request', dir: 'c2s', offset: 0, method: 'GET', target: '/api/v1/namespaces/team-a/pods/web/exec?command=sh', path: '/api/v1/namespaces/team-a/pods/web/exec',
  version: 'HTTP/1.1', headers: [], upgrade: 'websocket', offered: ['v5.channel.k8s.io'], kubectlSession: 'syn', kubectlCommand: 'kubectl exec', userAgent: null, k8s: k8s(),
};
/** A 101 kubectl accepts (src/session/handshake.ts): the session's stream. */
const response: EventBody = {
  type: 'upgrade.response', dir: 's2c', offset: 0, status: 101, reason: 'Switching Protocols', version: 'HTTP/1.1',
  headers: [['Upgrade', 'websocket'], ['Connection', 'Upgrade'], ['Sec-WebSocket-Protocol', 'v5.channel.k8s.io']], protocol: 'v5.channel.k8s.io', auditId: null, server: null, contentType: null,
};
const stdout = (bytes: number[] | Buffer): EventBody => {
  const b = Buffer.from(bytes);
  return { type: 'k8s.data', dir: 's2c', offset: 0, channel: 1, stream: 'stdout', size: b.length, payload: b.toString('base64') };
};

describe('asciicast of synthetic sessions', () => {
  it('keeps a UTF-8 character split across two frames intact, never U+FFFD', async () => {
    const euro = Buffer.from('€', 'utf8'); // e2 82 ac
    const e = Buffer.from('é', 'utf8'); // c3 a9
    const file = fresh('split.jsonl');
    writeFileSync(file, syntheticLog([
      request, response,
      stdout([...Buffer.from('price: '), euro[0]!]),
      stdout([euro[1]!]),
      stdout([euro[2]!, ...Buffer.from(' caf'), e[0]!]),
      stdout([e[1]!, 0x0a]),
    ]));
    const { header, events } = await exportCast([file]);
    const text = events.filter((x) => x[1] === 'o').map((x) => x[2]);
    expect(text.join('')).toBe('price: € café\n');
    expect(text.join('')).not.toContain('\uFFFD');
    // The held bytes go out with the chunk that completes them: no empty events.
    expect(text).toEqual(['price: ', '€ caf', 'é\n']);
    expect(header['command']).toBe("kubectl exec -it -n team-a web -c app -- sh -c 'echo hi; cat'");
    expect(header['title']).toBe('team-a/web: sh -c echo hi; cat');
    // No resize in the log: 80x24.
    expect([header['width'], header['height']]).toEqual([80, 24]);
  });

  it('writes the \r\n a terminal showed for a session without a tty, and leaves a tty session as sent', async () => {
    const noTty = { ...request, k8s: k8s({ tty: false }) } as EventBody;
    const file = fresh('no-tty.jsonl');
    writeFileSync(file, syntheticLog([noTty, response, stdout(Buffer.from('line one\nline two\n')), stdout(Buffer.from('three\r\n'))]));
    const { header, events } = await exportCast([file]);
    expect(events.filter((x) => x[1] === 'o').map((x) => x[2])).toEqual(['line one\r\nline two\r\n', 'three\r\r\n']);
    expect(header['command']).toBe("kubectl exec -i -n team-a web -c app -- sh -c 'echo hi; cat'");
    const tty = fresh('tty.jsonl');
    writeFileSync(tty, syntheticLog([request, response, stdout(Buffer.from('a\nb\r\n'))]));
    expect((await exportCast([tty])).events.map((x) => x[2])).toEqual(['a\nb\r\n']);
  });

  it('leaves redacted stdin out of the cast and says how much', async () => {
    const file = fresh('redacted.jsonl');
    writeFileSync(file, syntheticLog([
      request, response,
      { type: 'k8s.data', dir: 'c2s', offset: 0, channel: 0, stream: 'stdin', size: 4, payload: Buffer.from('ls\r\n').toString('base64') },
      { type: 'k8s.data', dir: 'c2s', offset: 4, channel: 0, stream: 'stdin', size: 9, redacted: 'echo-off' },
      stdout(Buffer.from('ok\r\n')),
      { type: 'k8s.status', dir: 's2c', offset: 0, format: 'json', status: 'Success', reason: null, message: null, code: null, exitCode: 0, raw: '{}' },
    ]));
    const { events, err } = await exportCast([file], { includeInput: true, asciicastVersion: 3 });
    expect(events.filter((x) => x[1] === 'i').map((x) => x[2])).toEqual(['ls\r\n']);
    expect(err.join('\n')).toContain('1 stdin chunk (9 bytes) were redacted');
    expect(events.at(-1)!.slice(1)).toEqual(['x', '0']);
  });

  it('flushes an incomplete last character at the end instead of dropping it', () => {
    const scanner = new SessionScanner();
    const events = syntheticLog([request, response, stdout([0x41, 0xe2, 0x82])]).trim().split('\n').map((l) => JSON.parse(l) as KubewireEvent);
    events.forEach((e) => scanner.push(e));
    const session = scanner.sessions()[0]!;
    const builder = new AsciicastBuilder(session, { version: 2, includeInput: false });
    const chunker = new TerminalChunker(session);
    const lines = events.flatMap((e) => {
      const c = chunker.push(e);
      return c ? builder.push(c) : [];
    });
    lines.push(...builder.finish());
    expect(lines.map((l) => (JSON.parse(l) as unknown[])[2]).join('')).toBe('A\uFFFD');
  });

  it('refuses a log with no terminal session, listing what it holds', async () => {
    const file = fresh('rest.jsonl');
    writeFileSync(file, syntheticLog([{ ...request, type: 'http.request', upgrade: null, k8s: k8s({ operation: 'other' }) } as EventBody]));
    const e = await runExport({ files: [file], format: 'asciicast' }, new Collector(), new Lines()).then(() => null, (x: unknown) => x);
    expect(e).toBeInstanceOf(CliError);
    expect((e as CliError).code).toBe('KW_ERR_NO_TERMINAL_SESSION');
    expect((e as CliError).message).toContain('syn');
  });
});
