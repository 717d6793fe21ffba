/**
 * idle-timeout: an upgraded connection cut by the server side after N seconds without data, with
 * no close frame, no GOAWAY and no status. Kubernetes ends streams with those, and its own idle
 * timeouts are 4 h (kubelet, translator: protocol.md A §2.4, §7), so a shorter silent cut is a
 * proxy's or load balancer's idle timer. Needs timestamps: live sessions or stamped logs.
 */
import { describeRequest, seconds, seqsOf, upstreamHop } from '../answer.js';
import { HAPROXY_TUNNEL, NGINX_TIMEOUTS } from '../fixes.js';
import { MIN_IDLE_MS, likelyTimeout, silentCut, tsOf } from '../stream.js';

import type { FindingDraft, Rule } from '../types.js';

/** Below this, a crash of the server side is as likely as a timer. */
const SHORT_IDLE_MS = 10_000;

export const idleTimeout: Rule = {
  id: 'idle-timeout',
  evaluate(view) {
    const out: FindingDraft[] = [];
    for (const c of view.upgrades) {
      const close = c.close;
      const idle = silentCut(c);
      if (!close || idle === null || idle < MIN_IDLE_MS || !c.accepted) continue;
      const lastActive = c.lastData ?? c.response;
      const activeAt = tsOf(lastActive)!;
      const pingAt = tsOf(c.lastClientPing);
      const answerAt = tsOf(c.lastPingAnswer);
      const pinging = pingAt !== null && pingAt > activeAt;
      const answered = pinging && answerAt !== null && answerAt > activeAt;
      const known = likelyTimeout(idle);
      const pings = pinging
        ? `kubectl's keepalive pings were flowing${answered ? ' and answered' : ', unanswered'}, so the timer counts data only, or only one direction.`
        : 'No keepalive pings crossed it in that time (port-forward over SPDY pings every 5 s, the tunnel every 10 s, WebSocket exec every 5 s; older clients less).';
      out.push({
        rule: 'idle-timeout',
        conn: c.conn,
        severity: 'error',
        title: `The connection was cut after ${seconds(idle)} without traffic`,
        explanation: `The server side closed the connection ${seconds(idle)} after the last data (${seconds(close.durationMs)} after it opened), with no close frame, GOAWAY or status. `
          + 'The API server and the kubelet end streams with those, and their own idle timeouts are 4 h, so this is the idle timer of a proxy or load balancer on the path'
          + `${known ? `; ${seconds(idle)} matches ${known}` : ''}${idle < SHORT_IDLE_MS ? ' (so short a silence may also mean the server side crashed)' : ''}. ${pings}`,
        evidence: {
          facts: [
            describeRequest(c),
            `${c.conn}: last data at #${lastActive!.seq}, closed by ${close.closedBy} ${seconds(idle)} later${close.error ? ` (${close.error})` : ''}`,
            `${c.conn}: pings from kubectl ${c.wsPings.c2s + c.spdyPings.c2s}, answers ${c.wsPongs.s2c + c.spdyPings.s2c}`,
          ],
          seqs: seqsOf(c.request, c.response, lastActive, c.lastClientPing, close),
        },
        hop: upstreamHop(c),
        fix: `Raise the idle timeout for upgraded connections on that hop: ${NGINX_TIMEOUTS}; ${HAPROXY_TUNNEL}; AWS ALB idle timeout (up to 4000 s) or an NLB; for interactive sessions keep traffic flowing.`,
      });
    }
    return out;
  },
};
