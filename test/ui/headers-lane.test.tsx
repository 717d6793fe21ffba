/** REST rows show the heads of their requests and answers, as `kubectl -v=9` prints them, redacted as the events are. */
import { stripVTControlCharacters } from 'node:util';
import { App } from '../../ui/app.js';
import { describe, expect, it } from 'vitest';
import { messageBlock } from '../../ui/format/message-format.js';
import { SessionStore } from '../../ui/store/session-store.js';
import { Clock, execEvents, feed, restEvents } from './event-fixtures.js';
import { renderAt } from './render-at.js';

const ENTER = '\r';

function restStore(): SessionStore {
  const store = new SessionStore();
  store.setMeta({ source: '/l.jsonl', log: '/l.jsonl' });
  const clock = new Clock();
  feed(store, restEvents(clock, { session: 'get-pods', conn: 'r1' }, {
    path: '/api/v1/namespaces/default/pods?limit=500',
    kubectlCommand: 'kubectl get',
    requestHeaders: [['Accept', 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json'], ['Authorization', 'Bearer [redacted]'], ['Kubectl-Command', 'kubectl get']],
    responseHeaders: [['Audit-Id', 'a1b2c3'], ['Content-Type', 'application/json'], ['X-Kubernetes-Pf-Flowschema-Uid', 'f-1']],
  }));
  store.flush();
  return store;
}

describe('headers lane', () => {
  it('a REST session\'s detail has the request and response heads, in order', () => {
    const store = restStore();
    const detail = store.getDetail('get-pods')!;
    expect(detail.lanes.map((l) => l.key)).toEqual(['headers']);
    const [request, response] = detail.lanes[0]!.messages;
    expect(request!.tag).toBe('request');
    expect(request!.dir).toBe('c2s');
    expect(messageBlock(request!, 'text', 120, 20)).toEqual([
      'GET /api/v1/namespaces/default/pods?limit=500 HTTP/1.1',
      'Accept: application/json;as=Table;v=v1;g=meta.k8s.io,application/json',
      'Authorization: Bearer [redacted]',
      'Kubectl-Command: kubectl get',
      '',
    ]);
    expect(response!.tag).toBe('response 200');
    expect(messageBlock(response!, 'text', 120, 20)).toEqual([
      'HTTP/1.1 200 OK', 'Audit-Id: a1b2c3', 'Content-Type: application/json', 'X-Kubernetes-Pf-Flowschema-Uid: f-1', '',
    ]);
  });

  it('a stream session keeps its streams first and the heads last', () => {
    const store = new SessionStore();
    const clock = new Clock();
    feed(store, execEvents(clock, { session: 'e', conn: 'c1' }, { pod: 'web', command: ['true'], stdout: 'x', exitCode: 0 }));
    store.flush();
    const lanes = store.getDetail('e')!.lanes;
    expect(lanes.map((l) => l.key)).toEqual(['stdout', 'headers']);
    expect(lanes[1]!.messages.map((m) => m.tag)).toEqual(['request', 'response 101']);
  });

  it('enter on a REST row shows the heads; j moves to the response', async () => {
    const store = restStore();
    const app = renderAt(<App store={store} initialView={{ showRest: true }} />, 100, 30);
    await app.frame((f) => f.includes('default/pods'));
    let frame = stripVTControlCharacters(await app.press(ENTER, (f) => f.includes('LANES')));
    expect(frame).toContain(' headers 2 ');
    expect(frame).toContain('Kubectl-Command: kubectl get');
    expect(frame).toContain('Authorization: Bearer [redacted]');
    frame = stripVTControlCharacters(await app.press('j', (f) => f.includes('── #3 headers response 200')));
    expect(frame).toContain(' HTTP/1.1 200 OK\n');
    expect(frame).toContain(' Audit-Id: a1b2c3\n');
    expect(frame).toContain('Content-Type: application/json');
    app.unmount();
  });
});
