/**
 * Layout at the sizes people run terminals at: columns by display width (CJK and emoji take
 * two), and at 80x24 whole columns left out rather than numbers cut.
 */
import { stripVTControlCharacters } from 'node:util';
// ui/app first: it loads Ink the way kubewire does.
import { App } from '../../ui/app.js';
import stringWidth from 'string-width';
import { describe, expect, it } from 'vitest';
import { outcomeLine } from '../../ui/format/detail-format.js';
import { columnWidths, headerCells, rowCells } from '../../ui/format/row-format.js';
import { SessionStore } from '../../ui/store/session-store.js';
import { Clock, execEvents, feed, restEvents } from './event-fixtures.js';
import { renderAt } from './render-at.js';

const ENTER = '\r';

function store(): SessionStore {
  const s = new SessionStore();
  s.setMeta({ listen: 'https://127.0.0.1:46129', kubeconfig: '/home/me/.local/state/kubewire/proxy-4243.kubeconfig', log: '/home/me/.local/state/kubewire/logs/kw.jsonl' });
  return s;
}

/** Three exec sessions: plain ASCII, CJK names, emoji in the command; exit codes 0, 3, 7. */
function wideSessions(s: SessionStore): void {
  const clock = new Clock();
  feed(s, [
    ...execEvents(clock, { session: 'ascii', conn: 'c1' }, { pod: 'web', container: 'app', command: ['sh', '-c', 'echo hi'], stdout: 'hi\n', exitCode: 0 }),
    ...execEvents(clock, { session: 'cjk', conn: 'c2' }, { namespace: '生产', pod: '数据库-主节点', command: ['psql', '-c', '选择 * 从 用户表 where 名字 = 张伟'], stdout: '张伟\n', exitCode: 3 }),
    ...execEvents(clock, { session: 'emoji', conn: 'c3' }, { pod: 'web', command: ['echo', '🚀🚀🚀 deploy 👍🏽 done 🎉🎉🎉🎉'], stdout: '🚀\n', exitCode: 7 }),
  ]);
  s.flush();
}

const plain = (frame: string): string[] => stripVTControlCharacters(frame).split('\n');

describe('display width', () => {
  it('cells are cut and padded by display columns: a CJK or emoji row keeps its columns and its exit code', () => {
    const s = store();
    wideSessions(s);
    const rows = s.getSnapshot().rows;
    for (const width of [80, 100, 120, 160]) {
      const w = columnWidths(width, rows);
      const header = headerCells(w);
      for (const row of rows) {
        const cells = rowCells(row, w);
        for (const key of Object.keys(cells) as (keyof typeof cells)[]) {
          if (key === 'fallback') continue;
          expect(stringWidth(cells[key]), `${key} at ${width}`).toBe(stringWidth(header[key]));
        }
      }
    }
  });

  it('at 80 and 120 columns every row is as wide as the header, and the exit codes line up under EXIT', async () => {
    for (const columns of [80, 120]) {
      const s = store();
      wideSessions(s);
      const app = renderAt(<App store={s} />, columns, 24);
      const frame = plain(await app.frame((f) => f.includes('数据库') && f.includes('deploy')));
      const header = frame.find((l) => l.includes('COMMAND'))!;
      const exitAt = stringWidth(header.slice(0, header.indexOf('EXIT') + 'EXIT'.length));
      for (const [marker, code] of [['echo hi', '0'], ['数据库', '3'], ['deploy', '7']] as const) {
        const line = frame.find((l) => l.includes(marker))!;
        expect(stringWidth(line), `${marker} at ${columns}`).toBeLessThanOrEqual(columns);
        // The exit code ends where the EXIT header ends, whatever came before it.
        const end = line.trimEnd().replace(/\s*!\d$/, '');
        expect(end.endsWith(` ${code}`), `${marker} at ${columns}: ${line}`).toBe(true);
        expect(stringWidth(end), `${marker} at ${columns}`).toBe(exitAt);
      }
      app.unmount();
      s.close();
    }
  });
});

describe('80x24', () => {
  it('the list leaves out time, duration and bytes, and gives the command the width', async () => {
    const s = store();
    wideSessions(s);
    const app = renderAt(<App store={s} />, 80, 24);
    const frame = plain(await app.frame((f) => f.includes('COMMAND')));
    const header = frame.find((l) => l.includes('COMMAND'))!;
    expect(header).toMatch(/VERB\s+TARGET\s+COMMAND\s+TRANSPORT\s+STATE\s+EXIT/);
    expect(header).not.toMatch(/TIME|DUR|BYTES/);
    const w = columnWidths(80, s.getSnapshot().rows);
    expect(w.command).toBeGreaterThan(w.target);
    expect(frame.find((l) => l.includes('echo hi'))).toMatch(/default\/web\/app\s+sh -c echo hi\s+ws v5\s+done\s+0/);
    // No number is cut in the middle of its unit.
    for (const line of frame) expect(line).not.toMatch(/\d…/);
    app.unmount();
  });

  it('the timeline drops whole columns: durations and exit codes are never cut', async () => {
    const s = store();
    const clock = new Clock();
    feed(s, [
      ...restEvents(clock, { session: 'x', conn: 'r1' }, { path: '/api/v1/namespaces/default/pods/web', kubectlCommand: 'kubectl exec' }),
      ...execEvents(clock, { session: 'x', conn: 'c2' }, { pod: 'web', command: ['sh', '-c', 'exit 3'], exitCode: 3, bytes: 359_731 }),
    ]);
    s.flush();
    const app = renderAt(<App store={s} />, 80, 24);
    await app.frame((f) => f.includes('exit 3'));
    const frame = plain(await app.press(ENTER, (f) => f.includes('CONNECTIONS')));
    const stream = frame.find((l) => l.includes('ws exec'))!;
    expect(stringWidth(stream)).toBeLessThanOrEqual(80);
    expect(stream).toMatch(/\b351ms\b/);
    expect(stream).toMatch(/exit 3/);
    for (const line of frame) expect(line).not.toMatch(/\d…/);
    // The outcome line leaves out whole parts too.
    const row = s.getSnapshot().rows[0]!;
    for (const width of [20, 30, 45, 60]) {
      const line = outcomeLine(row, width);
      expect(stringWidth(line)).toBeLessThanOrEqual(width);
      expect(outcomeLine(row).startsWith(line)).toBe(true);
      expect(outcomeLine(row).slice(line.length)).toMatch(/^( · |$)/);
    }
    // At 160 columns nothing has to go.
    const wide = renderAt(<App store={s} />, 160, 40);
    await wide.frame((f) => f.includes('exit 3'));
    const full = plain(await wide.press(ENTER, (f) => f.includes('CONNECTIONS'))).find((l) => l.includes('ws exec'))!;
    expect(full).toMatch(/stream\s+c2\s+GET\s+ws exec\s+101 v5\.channel\.k8s\.io\s+\+\d+ms\s+351ms ↑400B ↓351K\s+exit 3/);
    app.unmount();
    wide.unmount();
  });
});

describe('help at 80x24', () => {
  it('lists the new keys and where w and W save, within the screen', async () => {
    const s = new SessionStore();
    s.setMeta({ log: '/l.jsonl', source: '/l.jsonl' });
    const app = renderAt(<App store={s} saveDir="/home/me/.local/state/kubewire/saved" />, 80, 24);
    const frame = plain(await app.press('?', (f) => f.includes('kubewire help')));
    expect(frame.length).toBeLessThan(24);
    const text = frame.join('\n');
    expect(text).toMatch(/enter  F\s+open the session; its findings in full/);
    expect(text).toMatch(/F\s+findings in full: where, why, fix, evidence\n/);
    expect(text).toMatch(/w  W\s+save the message \/ the lane's stream to a file\n/);
    // Every line whole: nothing is cut at 80 columns.
    expect(text).not.toContain('…');
    expect(text).toMatch(/findings\s+j k g G   esc F\s+scroll   back to the session/);
    expect(text).toMatch(/files\s+w  W save to\s+\/home\/me\/.local\/state\/kubewire\/saved/);
    expect(text).toContain('next / previous lane: streams, ports, headers');
    app.unmount();
  });
});

describe('a finished log', () => {
  function logStore(): SessionStore {
    const s = new SessionStore();
    s.setMeta({ log: '/var/log/kw/run.jsonl', source: '/var/log/kw/run.jsonl' });
    return s;
  }
  const start = (clock: Clock) => clock.stamp({
    type: 'proxy.start', listen: 'https://127.0.0.1:46129', upstream: 'https://10.0.0.1:6443', context: null, kubeconfig: '/k/proxy.kubeconfig',
    payloadMode: 'head', log: '/var/log/kw/run.jsonl', version: '0.1.0', pid: 1,
  }, {});
  const stop = (clock: Clock) => clock.stamp({ type: 'proxy.stop', reason: 'SIGTERM', connections: 1, dropped: 0 }, {});

  it('says the log has ended, with no proxy wording and no rate, from the first frame', async () => {
    const s = logStore();
    const clock = new Clock();
    feed(s, [start(clock), ...execEvents(clock, { session: 'e', conn: 'c1' }, { pod: 'web', command: ['true'], exitCode: 0 }), stop(clock)]);
    expect(s.getSnapshot().meta.stopped).toBeNull();
    s.flush();
    expect(s.getSnapshot().meta.stopped).toMatchObject({ reason: 'SIGTERM' });
    const app = renderAt(<App store={s} />, 100, 24);
    const frame = plain(app.lastFrame()).join('\n');
    expect(frame).toMatch(/viewing \/var\/log\/kw\/run\.jsonl  log ended at \d\d:\d\d:\d\d: the proxy stopped \(SIGTERM\)/);
    expect(frame).toMatch(/^\d+ events · dropped 0$/m);
    expect(frame).not.toMatch(/ev\/s|KUBECONFIG|listen https/);
    app.unmount();
  });

  it('an empty finished log says so; one without proxy.stop says it may still grow', async () => {
    const s = logStore();
    const clock = new Clock();
    feed(s, [start(clock)]);
    s.flush();
    let app = renderAt(<App store={s} />, 100, 24);
    let frame = plain(app.lastFrame()).join('\n');
    expect(frame).toContain('No kubectl commands in this log (it has no proxy.stop: its proxy may still be writing it).');
    expect(frame).toContain('no proxy.stop yet');
    app.unmount();
    feed(s, [stop(clock)]);
    s.flush();
    app = renderAt(<App store={s} />, 100, 24);
    frame = plain(app.lastFrame()).join('\n');
    expect(frame).toContain('This log has ended, and no kubectl command went through the proxy that wrote it.');
    expect(frame).not.toMatch(/Run kubectl|KUBECONFIG|ev\/s/);
    app.unmount();
  });

  it('the first frame over a log is already worded for a log (meta is published at once)', () => {
    const s = new SessionStore();
    s.setMeta({ log: '/l.jsonl', source: '/l.jsonl' });
    expect(s.getSnapshot().meta.source).toBe('/l.jsonl');
    const app = renderAt(<App store={s} />, 100, 24);
    expect(plain(app.lastFrame()).join('\n')).not.toMatch(/Run kubectl|ev\/s/);
    app.unmount();
  });
});

describe('the status bar at 80 columns', () => {
  it('wraps a long kubeconfig path instead of cutting it: it is there to be copied', async () => {
    const s = new SessionStore();
    const kubeconfig = '/home/someone-with-a-long-name/.local/state/kubewire/proxy-4243-with-a-long-suffix.kubeconfig';
    s.setMeta({ listen: 'https://127.0.0.1:46129', kubeconfig, log: '/l.jsonl', source: 'live' });
    const app = renderAt(<App store={s} />, 60, 24);
    const lines = plain(app.lastFrame());
    expect(lines.length).toBeLessThan(24);
    const at = lines.findIndex((l) => l.startsWith('export KUBECONFIG='));
    expect(lines[at]! + lines[at + 1]!).toBe(`export KUBECONFIG=${kubeconfig}`);
    expect(lines[at + 2]).toBe('listen https://127.0.0.1:46129');
    expect(lines[at + 3]).toMatch(/^0 ev\/s · 0 events · dropped 0 · log \/l\.jsonl$/);
    app.unmount();
  });
});
