/** w and W: the selected message, or the lane's stream, saved to a new 0600 file whose path the status bar shows. */
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import { App } from '../../ui/app.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defaultSaveDir } from '../../ui/save/save-file.js';
import { SessionStore } from '../../ui/store/session-store.js';
import { Clock, dataEvent, execEvents, feed } from './event-fixtures.js';
import { renderAt } from './render-at.js';

const ENTER = '\r';
let dir = '';
beforeEach(() => {
  dir = join(mkdtempSync(join(tmpdir(), 'kubewire-save-')), 'saved');
});
afterEach(() => {
  rmSync(join(dir, '..'), { recursive: true, force: true });
});

function sessionStore(): SessionStore {
  const store = new SessionStore();
  store.setMeta({ source: '/l.jsonl', log: '/l.jsonl' });
  const clock = new Clock();
  const ids = { session: '0b1c2d3e-aaaa-bbbb-cccc-000000000000', conn: 'c1' };
  const events = execEvents(clock, ids, { pod: 'web', command: ['cat', 'notes'], stdout: 'line one\n', exitCode: 0 });
  // Two more stdout messages before the status.
  events.splice(4, 0, dataEvent(clock, ids, 'line two\n'), dataEvent(clock, ids, Buffer.from([0x00, 0xff, 0x10])));
  feed(store, events);
  store.flush();
  return store;
}

const savedLine = (frame: string): string => stripVTControlCharacters(frame).split('\n').find((l) => l.startsWith('saved to ') || l.startsWith('not saved')) ?? '';

describe('saving from the session screen', () => {
  it('the default directory is beside the logs', () => {
    expect(defaultSaveDir({ XDG_STATE_HOME: '/s' })).toBe('/s/kubewire/saved');
    expect(defaultSaveDir({ HOME: '/h' }).endsWith('/.local/state/kubewire/saved')).toBe(true);
  });

  it('w saves the selected message, W the whole stream; 0600 files, the path in the status bar, nothing overwritten', async () => {
    const store = sessionStore();
    const app = renderAt(<App store={store} saveDir={dir} />, 120, 30);
    await app.frame((f) => f.includes('cat notes'));
    await app.press(ENTER, (f) => f.includes('LANES'));
    // The first stdout message is selected.
    let frame = await app.press('w', (f) => savedLine(f) !== '');
    const first = join(dir, 'kubewire-0b1c2d3e-stdout-4.txt');
    expect(savedLine(frame)).toBe(`saved to ${first} · 9B of #4 stdout`);
    expect(readFileSync(first, 'utf8')).toBe('line one\n');
    expect(statSync(first).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o777).toBe(0o700);

    // Again: a new name, the first file left as it was.
    frame = await app.press('w', (f) => savedLine(f).includes('-4-2'));
    expect(savedLine(frame)).toBe(`saved to ${join(dir, 'kubewire-0b1c2d3e-stdout-4-2.txt')} · 9B of #4 stdout`);
    expect(readFileSync(first, 'utf8')).toBe('line one\n');

    frame = await app.press('W', (f) => savedLine(f).includes('stdout.bin'));
    const stream = join(dir, 'kubewire-0b1c2d3e-stdout.bin');
    expect(savedLine(frame)).toBe(`saved to ${stream} · 21B of stdout, 3 messages`);
    expect(readFileSync(stream)).toEqual(Buffer.concat([Buffer.from('line one\nline two\n'), Buffer.from([0x00, 0xff, 0x10])]));
    expect(statSync(stream).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir).sort()).toEqual(['kubewire-0b1c2d3e-stdout-4-2.txt', 'kubewire-0b1c2d3e-stdout-4.txt', 'kubewire-0b1c2d3e-stdout.bin']);
    app.unmount();
  });

  it('says what was not kept, and why nothing could be saved', async () => {
    const store = new SessionStore({ ringSize: 2 });
    store.setMeta({ source: '/l.jsonl', log: '/l.jsonl' });
    const clock = new Clock();
    const ids = { session: 'ring', conn: 'c1' };
    const events = execEvents(clock, ids, { pod: 'web', command: ['yes'], stdout: 'a\n', exitCode: 0 });
    events.splice(4, 0, dataEvent(clock, ids, 'b\n'), dataEvent(clock, ids, 'c\n'));
    feed(store, events);
    store.flush();
    // The directory cannot be made: a file is in the way.
    writeFileSync(join(dir, '..', 'blocked'), '');
    const blocked = renderAt(<App store={store} saveDir={join(dir, '..', 'blocked', 'saved')} />, 160, 30);
    await blocked.frame((f) => f.includes('yes'));
    await blocked.press(ENTER, (f) => f.includes('LANES'));
    expect(savedLine(await blocked.press('W', (f) => savedLine(f) !== '', 3000))).toMatch(/^not saved: (ENOTDIR|EEXIST) /);
    blocked.unmount();

    const app = renderAt(<App store={store} saveDir={dir} />, 200, 30);
    await app.frame((f) => f.includes('yes'));
    await app.press(ENTER, (f) => f.includes('LANES'));
    const frame = await app.press('W', (f) => savedLine(f) !== '');
    expect(savedLine(frame)).toContain('(1 earlier messages fell out of the ring (the log has them))');
    expect(readFileSync(join(dir, 'kubewire-ring-stdout.txt'), 'utf8')).toBe('b\nc\n');
    app.unmount();

    // In a narrow terminal the notice wraps: the path is never cut.
    const narrow = renderAt(<App store={store} saveDir={dir} />, 40, 24);
    await narrow.frame((f) => f.includes('yes'));
    await narrow.press(ENTER, (f) => f.includes('LANES'));
    const lines = stripVTControlCharacters(await narrow.press('W', (f) => f.includes('saved to'))).split('\n');
    const at = lines.findIndex((l) => l.startsWith('saved to'));
    // Wrapped between words, and a path longer than a line split where the line ends.
    expect(lines.slice(at).join('').replace(/\s+/g, '')).toContain(`savedto${join(dir, 'kubewire-ring-stdout-2.txt')}·4Bofstdout`);
    expect(lines.length).toBeLessThanOrEqual(24);
    narrow.unmount();
  });
});
