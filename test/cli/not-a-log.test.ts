/**
 * A file that is not a kubewire log: `summary`, `view`, `replay` and `export` say so in one line
 * and exit 2, as `verify` does, instead of one warning per line and exit 0. A log with a damaged
 * line is still a log: readers warn and go on. Runs the built CLI.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { notAKubewireLog } from '../../src/sinks/log-head.js';
import { EventStamper, timestampMicros } from '../../src/events/stamp.js';
import type { EventBody } from '../../src/events/types.js';
import { runCli } from '../support/cli.js';

const root = mkdtempSync(join(tmpdir(), 'kubewire-not-a-log-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = (name: string, text: string | Buffer): string => {
  const file = join(root, `${++n}-${name}`);
  writeFileSync(file, text);
  return file;
};

const proxyStart: EventBody = { type: 'proxy.start', listen: '127.0.0.1:8001', upstream: 'https://k:6443', context: null, kubeconfig: null, payloadMode: 'full', log: null, version: 'test', pid: 1 };
const eventLine = (seq = 1): string => JSON.stringify({ ...new EventStamper().stamp(proxyStart, 'start', { ts: timestampMicros(Date.UTC(2026, 10, 21)) }), seq });

describe('a file that is not a kubewire log', () => {
  const text = fresh('notes.txt', Array.from({ length: 50 }, (_, i) => `line ${i} of some notes`).join('\n') + '\n');
  const json = fresh('other.jsonl', '{"type":"deploy","ok":true}\n{"level":"info","msg":"hello"}\n');
  const commands: [string, (f: string) => string[]][] = [
    ['summary', (f) => ['summary', f]],
    ['summary --sessions', (f) => ['summary', '--sessions', f]],
    ['view', (f) => ['view', '--no-tui', f]],
    ['replay', (f) => ['replay', f]],
    ['export asciicast', (f) => ['export', f, '--format', 'asciicast']],
    ['export har', (f) => ['export', f, '--format', 'har']],
  ];
  for (const [name, args] of commands) {
    it(`${name}: one line that says so, exit 2`, () => {
      for (const file of [text, json]) {
        const r = runCli(args(file));
        expect(r.status, r.stderr).toBe(2);
        expect(r.stdout).toBe('');
        const lines = r.stderr.trim().split('\n');
        expect(lines).toHaveLength(1);
        expect(lines[0]).toMatch(new RegExp(`^kubewire: ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is not a kubewire log: .*\\[KW_ERR_NOT_A_LOG\\]$`));
      }
    });
  }

  it('names the second of two parts when it is the one that is not a log', () => {
    const log = fresh('log.jsonl', `${eventLine()}\n`);
    const r = runCli(['export', log, text, '--format', 'har']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`${text} is not a kubewire log`);
  });
});

describe('what is still a log', () => {
  it('an empty file, a damaged first line before an event, a JSON log cut short', async () => {
    expect(await notAKubewireLog(fresh('empty.jsonl', ''))).toBeNull();
    expect(await notAKubewireLog(fresh('blank.jsonl', '\n\n'))).toBeNull();
    expect(await notAKubewireLog(fresh('damaged.jsonl', `garbage\n${eventLine()}\n`))).toBeNull();
    expect(await notAKubewireLog(fresh('cut.jsonl', `${eventLine()}\n${eventLine(2).slice(0, 30)}`))).toBeNull();
    expect(await notAKubewireLog(fresh('one.jsonl', eventLine()))).toBeNull();
  });

  it('is not: two bad lines first, a file with no line break, an event-like object without v and seq', async () => {
    expect(await notAKubewireLog(fresh('two-bad.jsonl', `garbage\nmore\n${eventLine()}\n`))).toMatch(/none of its first 2 lines is a kubewire event \(they are not JSON\)/);
    expect(await notAKubewireLog(fresh('binary.bin', Buffer.alloc(5 * 1024 * 1024, 1)))).toMatch(/hold no line break/);
    expect(await notAKubewireLog(fresh('typed.jsonl', '{"type":"k8s.data"}\n'))).toMatch(/its only line is not a kubewire event \(a kubewire event is a JSON object with v, seq and type\)/);
  });

  it('summary of a log with a bad line warns about it and goes on, exit 0', () => {
    const log = fresh('bad-line.jsonl', `${eventLine()}\nnot json\n${eventLine(2)}\n`);
    const r = runCli(['summary', log]);
    expect(r.status).toBe(0);
    expect(r.stderr).toContain(`${log}:2: line is not JSON, skipped`);
  });
});
