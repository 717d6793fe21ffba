/**
 * no-response: an upgrade request that got no answer at all; the connection closed first. The API
 * server always answers (a 101, or a Status), so a hop dropped it. kubectl does not fall back on
 * this: `error: unexpected EOF` (exec over WebSocket), `error upgrading connection: unexpected
 * EOF` (port-forward), `error sending request: Post "…": unexpected EOF` (SPDY) (protocol.md B §8).
 */
import { describeRequest, isRemoteCommand, seqsOf } from '../answer.js';
import { NGINX_UPGRADE } from '../fixes.js';
import type { FindingDraft, Rule } from '../types.js';

export const noResponse: Rule = {
  id: 'no-response',
  evaluate(view) {
    const out: FindingDraft[] = [];
    for (const c of view.upgrades) {
      if (c.response !== null || c.proxyErrors.length || !c.ended) continue;
      const ws = c.upgradeKind === 'websocket';
      const said = ws
        ? (isRemoteCommand(c) ? '`error: unexpected EOF`' : '`error: error upgrading connection: unexpected EOF`')
        : `\`error: error sending request: ${c.request?.method ?? 'POST'} "…${c.request?.path ?? ''}…": unexpected EOF\``;
      out.push({
        rule: 'no-response',
        conn: c.conn,
        severity: 'error',
        title: `The ${ws ? 'WebSocket' : 'SPDY'} upgrade got no answer`,
        explanation: `The server side closed the connection without answering the upgrade request. The API server always answers, with a 101 or an error Status, so something in between dropped the request. `
          + `kubectl does not retry another way after a dropped connection: it fails with ${said}.`,
        evidence: {
          facts: [describeRequest(c), `${c.conn}: the server side ended after ${c.ends.s2c?.offset ?? 0} bytes, with no response head`, ...(c.close ? [`${c.conn}: closed by ${c.close.closedBy} after ${c.close.durationMs} ms`] : [])],
          seqs: seqsOf(c.request, c.ends.s2c, c.close),
        },
        hop: { where: 'kubewire↔upstream', answeredBy: 'unknown', why: 'no answer came back' },
        fix: `Find the proxy, load balancer or WAF that drops requests with an Upgrade header and let them through (${NGINX_UPGRADE}); for SPDY it must also accept POST upgrades (Upgrade: SPDY/3.1, Content-Length: 0).`,
      });
    }
    return out;
  },
};
