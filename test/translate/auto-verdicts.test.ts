/**
 * `--translate auto`'s verdicts, judged from the session model's connections: real kubectl
 * requests (vectors) answered with each kind of refusal, decoded and fed through the model as
 * the live proxy feeds it. Only answers that mean "not served here" set a verdict, once.
 */
import { describe, expect, it } from 'vitest';
import type { ConnCloseEvent, KubewireEvent } from '../../src/events/types.js';
import { SessionObserver } from '../../src/session/session-observer.js';
import { TransportVerdicts, type UpgradeTransport } from '../../src/translate/auto-verdicts.js';
import { decodeAll } from '../support/decode.js';
import { loadVector, vectorsAvailable } from '../support/vectors.js';
import { Clock } from '../ui/event-fixtures.js';

const WS_REQUEST = 'kubectl1.30-exec-fb-403-ws-rejected-403';
const SPDY_REQUEST = 'kubectl1.27-exec-spdyrej-403-spdy-rejected-403';

/** The vector's request answered with `answer` (or nothing), through a fresh model. */
function judged(vector: string, answer: string | null, closedBy: ConnCloseEvent['closedBy'] = 'upstream', error: string | null = null): { said: string[]; refuses: Record<UpgradeTransport, boolean> } {
  const v = loadVector(vector);
  const s2c = answer === null ? Buffer.alloc(0) : Buffer.from(answer, 'latin1');
  const { events } = decodeAll([v.c2s], [s2c], { payload: 'full' });
  const clock = new Clock();
  const ids = { session: 's1', conn: 'c1' };
  const said: string[] = [];
  const verdicts = new TransportVerdicts((t, why) => said.push(`${t}: ${why}`));
  const model = new SessionObserver().add({ connectionEnded: (c) => verdicts.judge(c) });
  const all: KubewireEvent[] = [
    clock.stamp({ type: 'conn.open', kind: 'upgrade', client: '127.0.0.1:50000', upstream: 'https://127.0.0.1:6443' }, ids),
    ...events.map((e) => clock.stamp(e, ids)),
    clock.stamp({ type: 'conn.close', closedBy, bytes: { c2s: v.c2s.length, s2c: s2c.length }, durationMs: 5, error }, ids),
  ];
  for (const e of all) model.ingest(e);
  model.finish();
  return { said, refuses: { spdy: verdicts.refuses('spdy'), websocket: verdicts.refuses('websocket') } };
}

const status = (code: number, reason: string, message: string, extra = ''): string => {
  const body = JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code });
  return `HTTP/1.1 ${code} ${reason}\r\nContent-Type: application/json\r\n${extra}Content-Length: ${body.length}\r\n\r\n${body}`;
};

describe.skipIf(!vectorsAvailable())('TransportVerdicts', () => {
  it('400 Upgrade request required (an ALB, a stripped Upgrade header): SPDY is not served here', () => {
    const r = judged(SPDY_REQUEST, status(400, 'Bad Request', 'Upgrade request required', 'Audit-Id: 5c8b\r\n'));
    expect(r.refuses).toEqual({ spdy: true, websocket: false });
    expect(r.said).toEqual(['spdy: 400 Upgrade request required']);
  });

  it("the kubelet's empty 403 to a v5 exec (no translator), and a gateway's HTML 404: WebSocket is not served here", () => {
    expect(judged(WS_REQUEST, 'HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n').said).toEqual(['websocket: 403 Forbidden from the kubelet']);
    const page = '<html><body>404 Not Found</body></html>';
    expect(judged(WS_REQUEST, `HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\nContent-Length: ${page.length}\r\n\r\n${page}`).said).toEqual(['websocket: 404 Not Found from the intermediary']);
  });

  it('no answer from the upstream counts; a client that left before the answer does not', () => {
    expect(judged(WS_REQUEST, null, 'upstream').refuses.websocket).toBe(true);
    expect(judged(WS_REQUEST, null, 'client').refuses.websocket).toBe(false);
    expect(judged(WS_REQUEST, null, 'error', 'upstream socket: read ECONNRESET').refuses.websocket).toBe(true);
    expect(judged(WS_REQUEST, null, 'error', 'client socket: read ECONNRESET').refuses.websocket).toBe(false);
  });

  it("the API server's own refusals (RBAC, a missing pod, a bad request) set nothing", () => {
    for (const answer of [
      status(403, 'Forbidden', 'pods "web" is forbidden: User "me" cannot create resource "pods/exec"', 'Audit-Id: 1\r\n'),
      status(404, 'Not Found', 'pods "nope" not found', 'Audit-Id: 2\r\n'),
      status(400, 'Bad Request', 'container nope is not valid for pod web'),
    ]) {
      expect(judged(WS_REQUEST, answer).said, answer).toEqual([]);
      expect(judged(SPDY_REQUEST, answer).said, answer).toEqual([]);
    }
  });
});
