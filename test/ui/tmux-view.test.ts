/**
 * `kubewire view` in a real terminal: tmux runs it on a recorded log, send-keys navigates and
 * capture-pane reads the screen. Needs tmux (installed by .ci/run); skipped with a message
 * where it is missing, failing under CI.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeRecordedLog } from '../support/recorded-log.js';
import { REPO_ROOT, vectorsAvailable } from '../support/vectors.js';

const hasTmux = spawnSync('tmux', ['-V']).status === 0;
if (!hasTmux) {
  if (process.env['CI'] === 'true') throw new Error('tmux is missing (.ci/run installs it)');
  console.warn('skipping the tmux tests: tmux is not installed');
}
const enabled = hasTmux && vectorsAvailable();
const SOCKET = `kubewire-test-${process.pid}`;
const tmux = (...args: string[]): string => execFileSync('tmux', ['-L', SOCKET, ...args], { encoding: 'utf8' });
const screen = (): string => tmux('capture-pane', '-p', '-t', 'kw');
/** One key, then a pause: keys that arrive together reach the app as one pasted chunk. */
async function key(name: string): Promise<void> {
  tmux('send-keys', '-t', 'kw', name);
  await new Promise((r) => setTimeout(r, 200));
}

async function waitForScreen(re: RegExp, ms = 15_000): Promise<string> {
  const end = Date.now() + ms;
  let s = '';
  while (Date.now() < end) {
    s = screen();
    if (re.test(s)) return s;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`screen never matched ${re}:\n${s}`);
}

let dir = '';
beforeAll(() => {
  if (enabled) dir = mkdtempSync(join(tmpdir(), 'kubewire-tmux-'));
});
afterAll(() => {
  if (!enabled) return;
  spawnSync('tmux', ['-L', SOCKET, 'kill-server']);
  rmSync(dir, { recursive: true, force: true });
});

function openView(log: string): void {
  spawnSync('tmux', ['-L', SOCKET, 'kill-server']);
  tmux('new-session', '-d', '-s', 'kw', '-x', '120', '-y', '32', `node ${join(REPO_ROOT, 'bin', 'kubewire.js')} view ${log}`);
}

describe.skipIf(!enabled)('kubewire view in tmux', () => {
  it('shows the sessions, the fallback mark, exit codes and the decoded status, and navigates with keys', async () => {
    const log = join(dir, 'recorded.jsonl');
    writeRecordedLog(log, [
      { vector: 'kubectl1.33-exec-fb-403-ws-rejected-403', session: 'sess-fallback' },
      { vector: 'kubectl1.33-exec-fb-403-spdy-c2', session: 'sess-fallback' },
      { vector: 'kubectl1.33-exec-exit3-ws-v5', session: 'sess-exit3' },
      { vector: 'kubectl1.33-exec-tty-ws-v5', session: 'sess-tty' },
    ]);
    openView(log);
    const list = await waitForScreen(/↩ws 403[\s\S]*\n.*exec[\s\S]*\n.*exec/);
    expect(list).toMatch(/exec/);
    expect(list).toMatch(/↩ws 403/);
    expect(list).toMatch(/\b3\b/);
    expect(list).toMatch(/\b5\b/);
    await key('g');
    await key('Enter');
    const detail = await waitForScreen(/status:/);
    expect(detail).toMatch(/fell back to SPDY/);
    expect(detail).toMatch(/status: Success · exit code 0/);
    await key('Escape');
    await key('j');
    await key('Enter');
    const exit3 = await waitForScreen(/exit code 3/);
    expect(exit3).toMatch(/NonZeroExitCode/);
    await key('q');
  });

  it('opens and scrolls a 10,000-event log', async () => {
    const log = join(dir, 'big.jsonl');
    const connections = [];
    for (let i = 0; connections.length < 400; i++) connections.push({ vector: 'kubectl1.33-exec-tty-ws-v5', session: `s${i}` });
    const events = writeRecordedLog(log, connections);
    expect(events).toBeGreaterThanOrEqual(10_000);
    openView(log);
    await waitForScreen(/400 sessions/, 20_000);
    await key('G');
    const end = await waitForScreen(/>.*exec/);
    expect(end).toMatch(/exec/);
    await key('g');
    await key('Enter');
    await waitForScreen(/exit code 5/);
    await key('q');
  });
});
