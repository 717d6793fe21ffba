/**
 * exec and attach as the transports drive them: real local processes with pipes or a pty,
 * backpressure, stdin end, abort, and the Status each ending gives (protocol.md A §1.4).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AttachHub } from '../../src/demo/attach-hub.js';
import type { CommandRequest, DemoPod, StartCommand } from '../../src/demo/contracts.js';
import { createStartCommand } from '../../src/demo/process-runner.js';
import { PodSandbox } from '../../src/demo/sandbox.js';
import { RecordingOutput, fakePod, waitUntil } from './fixtures.js';

let sandbox: PodSandbox;
let hub: AttachHub;
let start: StartCommand;
const pod: DemoPod = fakePod();

beforeAll(async () => {
  sandbox = await PodSandbox.create([pod]);
  hub = new AttachHub([pod], { tickMs: 20 });
  hub.start();
  start = createStartCommand(sandbox, hub);
});
afterAll(async () => {
  hub.stop();
  await sandbox.dispose();
});

function request(command: string[], overrides: Partial<CommandRequest> = {}): CommandRequest {
  return { pod, container: 'app', command, stdin: false, stdout: true, stderr: true, tty: false, attach: false, ...overrides };
}

/** Running, not a zombie: orphans are reaped by PID 1, which may take its time. */
function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  if (!existsSync('/proc/self/stat')) return true;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

const pids = (text: string): number[] => text.trim().split(/\s+/).map(Number);

describe('exec with pipes', () => {
  it('runs echo and reports Success', async () => {
    const out = new RecordingOutput();
    start(request(['echo', 'hello', 'pod']), out);
    expect(await out.finished).toEqual({ metadata: {}, status: 'Success' });
    expect(out.stdoutText).toBe('hello pod\n');
    expect(out.statuses).toHaveLength(1);
  });

  it('runs in the pod directory and separates stderr', async () => {
    const out = new RecordingOutput();
    start(request(['sh', '-c', 'cat etc/hostname; echo oops >&2']), out);
    await out.finished;
    expect(out.stdoutText).toBe('web\n');
    expect(out.stderrText).toBe('oops\n');
  });

  it('maps a non-zero exit to the NonZeroExitCode status', async () => {
    const out = new RecordingOutput();
    start(request(['sh', '-c', 'exit 3']), out);
    expect(await out.finished).toEqual({
      metadata: {},
      status: 'Failure',
      message: 'command terminated with non-zero exit code: error executing command [sh -c exit 3], exit code 3',
      reason: 'NonZeroExitCode',
      details: { causes: [{ reason: 'ExitCode', message: '3' }] },
    });
  });

  it('reports death by a signal as 128+signo', async () => {
    const out = new RecordingOutput();
    start(request(['sh', '-c', 'kill -9 $$']), out);
    const status = await out.finished;
    expect(status.details?.causes).toEqual([{ reason: 'ExitCode', message: '137' }]);
    expect(status.message).toMatch(/exit code 137$/);
  });

  it('passes stdin through cat and ends it on stdinEnd', async () => {
    const out = new RecordingOutput();
    const cmd = start(request(['cat'], { stdin: true }), out);
    cmd.stdin(Buffer.from('first line\n'));
    await out.waitForStdout('first line\n');
    cmd.stdin(Buffer.from('second'));
    cmd.stdinEnd();
    expect((await out.finished).status).toBe('Success');
    expect(out.stdoutText).toBe('first line\nsecond');
  });

  it('stdinEnd lets a command that reads to EOF finish', async () => {
    const out = new RecordingOutput();
    const cmd = start(request(['wc', '-c'], { stdin: true }), out);
    cmd.stdin(Buffer.from('12345'));
    cmd.stdinEnd();
    await out.finished;
    expect(out.stdoutText.trim()).toBe('5');
  });

  it('answers a missing program with the runtime InternalError', async () => {
    const out = new RecordingOutput();
    start(request(['no-such-command-kubewire', 'x']), out);
    const inner = 'error executing command in container: failed to exec in container: exec: "no-such-command-kubewire": executable file not found in $PATH';
    expect(await out.finished).toEqual({
      metadata: {},
      status: 'Failure',
      message: `Internal error occurred: ${inner}`,
      reason: 'InternalError',
      details: { causes: [{ reason: '', message: inner }] },
      code: 500,
    });
  });

  it('answers an empty command with a clear Failure', async () => {
    const out = new RecordingOutput();
    start(request([]), out);
    const status = await out.finished;
    expect(status).toMatchObject({ status: 'Failure', code: 400 });
    expect(status.message).toMatch(/at least one command/);
  });

  it('pauses the process while the transport is full', async () => {
    const hwm = 256 * 1024;
    const out = new RecordingOutput({ highWaterMark: hwm, drainEveryMs: 2 });
    start(request(['head', '-c', '5000000', '/dev/zero'], { stderr: false }), out);
    expect((await out.finished).status).toBe('Success');
    expect(out.stdoutBytes).toBe(5_000_000);
    expect(out.falseReturns).toBeGreaterThan(0);
    // After a false return at most the chunk already read arrives (a pipe read is <= 64 KiB).
    expect(out.maxInFlight).toBeLessThanOrEqual(hwm + 64 * 1024);
  });

  it('abort kills the whole process group, with SIGKILL after the grace period', async () => {
    const out = new RecordingOutput();
    // Ignoring SIGTERM is inherited by the sleeps: only the SIGKILL ends them.
    const script = 'trap "" TERM; echo $$; sleep 30 & echo $!; sleep 30 & echo $!; wait';
    const cmd = start(request(['sh', '-c', script]), out);
    const group = pids(await out.waitForStdout(/^\d+\n\d+\n\d+\n/));
    expect(group.every(running)).toBe(true);
    const t0 = Date.now();
    cmd.abort();
    await new Promise((r) => setTimeout(r, 300));
    expect(group.every(running)).toBe(true);
    await waitUntil(() => !group.some(running), 3000, 'the process group to die');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
    await new Promise((r) => setTimeout(r, 50));
    expect(out.statuses).toEqual([]);
  });

  it('stops background jobs a command leaves behind', async () => {
    const out = new RecordingOutput();
    start(request(['sh', '-c', 'sleep 30 >/dev/null 2>&1 & echo $!']), out);
    await out.finished;
    const pid = Number(out.stdoutText.trim());
    await waitUntil(() => !running(pid), 3000, 'the background job to be stopped');
  });
});

describe('kubectl cp commands', () => {
  it('tar cf - /data/remote.txt archives data/remote.txt', async () => {
    const out = new RecordingOutput();
    start(request(['tar', 'cf', '-', '/data/remote.txt'], { stderr: true }), out);
    expect((await out.finished).status).toBe('Success');
    const archive = Buffer.concat(out.stdoutChunks);
    expect(execFileSync('tar', ['tf', '-'], { input: archive }).toString()).toBe('data/remote.txt\n');
    const content = execFileSync('tar', ['xOf', '-', 'data/remote.txt'], { input: archive }).toString();
    expect(content).toBe(readFileSync(path.join(sandbox.podDir(pod), 'data/remote.txt'), 'utf8'));
  });

  it('test -d then tar -xmf - -C /tmp extracts into the pod tmp directory', async () => {
    const probe = new RecordingOutput();
    start(request(['test', '-d', '/tmp/small.txt']), probe);
    expect((await probe.finished).details?.causes).toEqual([{ reason: 'ExitCode', message: '1' }]);

    const local = mkdtempSync(path.join(os.tmpdir(), 'kubewire-test-'));
    try {
      writeFileSync(path.join(local, 'small.txt'), 'copied into the pod\n');
      const archive = execFileSync('tar', ['cf', '-', '-C', local, 'small.txt']);
      const out = new RecordingOutput();
      const cmd = start(request(['tar', '-xmf', '-', '-C', '/tmp'], { stdin: true }), out);
      for (let i = 0; i < archive.length; i += 1000) cmd.stdin(archive.subarray(i, i + 1000));
      cmd.stdinEnd();
      expect(await out.finished).toEqual({ metadata: {}, status: 'Success' });
      expect(readFileSync(path.join(sandbox.podDir(pod), 'tmp/small.txt'), 'utf8')).toBe('copied into the pod\n');
    } finally {
      rmSync(local, { recursive: true, force: true });
    }
  });
});

describe('exec in a tty', () => {
  it('runs sh in a pty, follows resizes and reports its exit code', async () => {
    const out = new RecordingOutput();
    const cmd = start(request(['sh'], { stdin: true, stderr: false, tty: true, size: { width: 100, height: 30 } }), out);
    cmd.stdin(Buffer.from('stty size\r'));
    await out.waitForStdout('30 100');
    cmd.resize(120, 40);
    cmd.stdin(Buffer.from('stty size\r'));
    await out.waitForStdout('40 120');
    cmd.stdin(Buffer.from('exit 5\r'));
    const status = await out.finished;
    expect(status.reason).toBe('NonZeroExitCode');
    expect(status.details?.causes).toEqual([{ reason: 'ExitCode', message: '5' }]);
  });

  it('defaults to 80x24 and sets TERM', async () => {
    const out = new RecordingOutput();
    start(request(['sh', '-c', 'stty size; echo $TERM'], { tty: true, stderr: false }), out);
    await out.finished;
    expect(out.stdoutText).toBe('24 80\r\nxterm-256color\r\n');
  });

  it('stdinEnd sends the EOF character', async () => {
    const out = new RecordingOutput();
    const cmd = start(request(['cat'], { stdin: true, tty: true, stderr: false }), out);
    cmd.stdin(Buffer.from('abc\r'));
    await out.waitForStdout('abc\r\nabc\r\n');
    cmd.stdinEnd();
    expect(await out.finished).toEqual({ metadata: {}, status: 'Success' });
  });

  it('delivers all of a fast command\'s output before its status', async () => {
    // node-pty alone loses the tail of output written just before the exit (node-pty#726).
    for (let i = 0; i < 5; i++) {
      const out = new RecordingOutput();
      start(request(['head', '-c', '100000', '/dev/zero'], { tty: true, stderr: false }), out);
      await out.finished;
      expect(out.stdoutBytes).toBe(100_000);
    }
  });

  it('pauses the pty while the transport is full', async () => {
    const hwm = 64 * 1024;
    const out = new RecordingOutput({ highWaterMark: hwm, drainEveryMs: 2 });
    start(request(['head', '-c', '1000000', '/dev/zero'], { tty: true, stderr: false }), out);
    expect((await out.finished).status).toBe('Success');
    expect(out.stdoutBytes).toBe(1_000_000);
    expect(out.falseReturns).toBeGreaterThan(0);
    expect(out.maxInFlight).toBeLessThanOrEqual(hwm + 64 * 1024);
  });

  it('answers a missing program with the runtime InternalError', async () => {
    const out = new RecordingOutput();
    start(request(['no-such-command-kubewire'], { tty: true }), out);
    const status = await out.finished;
    expect(status).toMatchObject({ reason: 'InternalError', code: 500 });
    expect(status.message).toContain('exec: "no-such-command-kubewire": executable file not found in $PATH');
    expect(out.stdoutText).toBe('');
  });

  it('abort kills the shell and its children', async () => {
    const out = new RecordingOutput();
    const cmd = start(request(['sh', '-c', 'echo $$; sleep 30 & echo $!; wait'], { tty: true, stderr: false }), out);
    const group = pids(await out.waitForStdout(/^\d+\r\n\d+\r\n/));
    cmd.abort();
    await waitUntil(() => !group.some(running), 3000, 'the pty process group to die');
    expect(out.statuses).toEqual([]);
  });
});

describe('attach', () => {
  it('copies the demo process output and echoes stdin lines; abort only detaches', async () => {
    const out = new RecordingOutput();
    const cmd = start(request([], { attach: true, stdin: true }), out);
    await out.waitForStdout(/\[web\/app\] tick \d+ \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\n/);
    cmd.stdin(Buffer.from('hello\n'));
    await out.waitForStdout('[web/app] echo: hello\n');
    cmd.abort();
    const seen = out.stdoutBytes;
    await new Promise((r) => setTimeout(r, 80));
    expect(out.stdoutBytes).toBe(seen);
    expect(out.statuses).toEqual([]);

    // The process still runs for the next client.
    const again = new RecordingOutput();
    const cmd2 = start(request([], { attach: true }), again);
    await again.waitForStdout('tick');
    cmd2.abort();
  });

  it('with a tty, echoes typed keys and ends lines with CRLF', async () => {
    const out = new RecordingOutput();
    const cmd = start(request([], { attach: true, stdin: true, tty: true, stderr: false }), out);
    cmd.stdin(Buffer.from('hi\r'));
    await out.waitForStdout('hi\r\n');
    await out.waitForStdout('[web/app] echo: hi\r\n');
    expect(out.stdoutText).not.toMatch(/[^\r]\n/);
    cmd.abort();
  });

  it('finishes with Success when the process ends, and fails for an unknown container', async () => {
    const ownHub = new AttachHub([pod], { tickMs: 20 });
    ownHub.start();
    const ownStart = createStartCommand(sandbox, ownHub);
    const out = new RecordingOutput();
    ownStart(request([], { attach: true }), out);
    await out.waitForStdout('tick');
    ownHub.stop();
    expect(await out.finished).toEqual({ metadata: {}, status: 'Success' });

    const bad = new RecordingOutput();
    ownStart(request([], { attach: true, container: 'nope' }), bad);
    expect((await bad.finished).message).toBe('container nope is not valid for pod web');
  });
});
