/** `F`: a finding whole, however long its fix, at 80x24. */
import { stripVTControlCharacters } from 'node:util';
import { App } from '../../ui/app.js';
import stringWidth from 'string-width';
import { describe, expect, it } from 'vitest';
import { wrapToWidth } from '../../ui/format/display-width.js';
import { SessionStore } from '../../ui/store/session-store.js';
import { Clock, feed, restEvents } from './event-fixtures.js';
import { renderAt } from './render-at.js';

const ENTER = '\r';
const ESC = '\x1b';
const FIX = 'Turn response buffering off for the API server: nginx `proxy_buffering off;` (or `X-Accel-Buffering: no`), no gzip on streamed responses; '
  + 'on HAProxy raise `timeout tunnel` above the longest idle stream, then reload it and run the command again: the stream should open at once. THE-END-OF-THE-FIX';

function storeWithFinding(): SessionStore {
  const store = new SessionStore();
  store.setMeta({ source: '/l.jsonl', log: '/l.jsonl' });
  const clock = new Clock();
  const ids = { session: 'diag', conn: 'r1' };
  feed(store, [
    ...restEvents(clock, ids, { path: '/api/v1/namespaces/default/pods/web/log', kubectlCommand: 'kubectl logs' }),
    clock.stamp({
      type: 'finding', rule: 'buffering', severity: 'warn', title: 'a proxy on the path buffers the streamed response',
      explanation: 'The API server starts a follow response at once. Here the response headers took 31.0 s to arrive.',
      evidence: { facts: ['response headers after 31.0 s', 'first body bytes after 31.0 s'], seqs: [2, 3] },
      hop: { where: 'kubewire↔upstream', answeredBy: 'intermediary' }, fix: FIX,
    } as never, ids),
  ]);
  store.flush();
  return store;
}

describe('findings in full', () => {
  it('wraps by display width and keeps every word', () => {
    const lines = wrapToWidth('数据库 主节点 a-very-long-word-that-does-not-fit here', 10);
    for (const l of lines) expect(stringWidth(l)).toBeLessThanOrEqual(10);
    expect(lines.join(' ').replace(/ /g, '')).toBe('数据库主节点a-very-long-word-that-does-not-fithere');
  });

  it('F shows the finding whole at 80x24: title, where, why, the fix to its last word, the evidence', async () => {
    const store = storeWithFinding();
    const app = renderAt(<App store={store} />, 80, 24);
    await app.frame((f) => f.includes('default/web'));
    let frame = await app.press(ENTER, (f) => f.includes('FINDINGS (1)'));
    // The pane cuts the fix to one line.
    expect(frame).not.toContain('THE-END-OF-THE-FIX');
    frame = stripVTControlCharacters(await app.press('F', (f) => f.includes('findings · logs')));
    expect(frame).toContain('[warn] buffering: a proxy on the path buffers the streamed response');
    expect(frame).toContain('kubewire↔upstream, intermediary');
    for (const line of frame.split('\n')) expect(stringWidth(line)).toBeLessThanOrEqual(80);
    // Everything is there word for word, only wrapped.
    const flat = frame.replace(/\s+/g, ' ');
    expect(flat).toContain('the response headers took 31.0 s to arrive.');
    expect(flat).toContain(FIX.replace(/\s+/g, ' ').trim());
    expect(flat).toContain('- response headers after 31.0 s');
    expect(flat).toContain('events #2 #3');
    await app.press(ESC, (f) => f.includes('FINDINGS (1)'));
    app.unmount();
  });

  it('F from the list opens the selected session\'s findings; a long list scrolls', async () => {
    const store = storeWithFinding();
    const app = renderAt(<App store={store} />, 60, 12);
    await app.frame((f) => f.includes('> logs'));
    let frame = stripVTControlCharacters(await app.press('F', (f) => f.includes('findings · logs')));
    expect(frame).toMatch(/more below · j k g G scroll · esc back/);
    expect(frame).not.toContain('events #2 #3');
    frame = stripVTControlCharacters(await app.press('G', (f) => f.includes('events #2 #3')));
    expect(frame).toMatch(/lines above/);
    await app.press('g', (f) => f.includes('[warn] buffering'));
    app.unmount();
  });
});
