/** The demo's tour narrates in the status bar (store.narrate) and says when it is done (store.endNarration). */
import { stripVTControlCharacters } from 'node:util';
import { App } from '../../ui/app.js';
import { describe, expect, it } from 'vitest';
import { NARRATION_LINES, SessionStore } from '../../ui/store/session-store.js';
import { renderAt } from './render-at.js';

function liveStore(): SessionStore {
  const store = new SessionStore();
  store.setMeta({ listen: 'https://127.0.0.1:46129', kubeconfig: '/k/demo.kubeconfig', log: '/l.jsonl', source: 'live' });
  return store;
}

const last = (frame: string): string => stripVTControlCharacters(frame).trimEnd().split('\n').pop() ?? '';

describe('narration', () => {
  it('the store keeps the last lines, counts them, and publishes them', () => {
    const store = liveStore();
    expect(store.getSnapshot().narration).toBeNull();
    for (let i = 1; i <= NARRATION_LINES + 5; i++) store.narrate(`step ${i}`);
    store.flush();
    const n = store.getSnapshot().narration!;
    expect(n.count).toBe(NARRATION_LINES + 5);
    expect(n.lines).toHaveLength(NARRATION_LINES);
    expect(n.lines[n.lines.length - 1]).toBe(`step ${NARRATION_LINES + 5}`);
    expect(n.done).toBe(false);
    store.endNarration('tour done');
    store.flush();
    expect(store.getSnapshot().narration).toMatchObject({ done: true, count: NARRATION_LINES + 5 });
    store.close();
  });

  it('the status bar shows what the tour runs, then that it is done, within the terminal\'s height', async () => {
    const store = liveStore();
    const app = renderAt(<App store={store} />, 100, 24);
    expect(last(app.lastFrame())).toMatch(/ev\/s/);
    store.narrate('exec: kubectl exec web -c app -- sh -c "echo hello from web; cat etc/hostname"');
    store.flush();
    let frame = await app.frame((f) => last(f).startsWith('tour 1:'));
    expect(last(frame)).toBe('tour 1: exec: kubectl exec web -c app -- sh -c "echo hello from web; cat etc/hostname"');
    store.narrate('cp: kubectl cp notes.txt web:/tmp/notes.txt -c app');
    store.flush();
    frame = await app.frame((f) => last(f).startsWith('tour 2:'));
    expect(stripVTControlCharacters(frame).split('\n').length).toBeLessThan(24);
    store.endNarration('tour done: enter opens a session');
    store.flush();
    frame = await app.frame((f) => last(f).startsWith('tour done'));
    expect(last(frame)).toBe('tour done: enter opens a session');
    expect(stripVTControlCharacters(frame)).toContain('export KUBECONFIG=/k/demo.kubeconfig');
    app.unmount();
    store.close();
  });
});
