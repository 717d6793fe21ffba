/**
 * pong-missing: kubectl's WebSocket pings went unanswered for more than 30 s. kubectl pings every
 * 5 s and only a pong extends its 61 s read deadline (data does not): at 61 s it aborts with
 * `error reading from error stream: next reader: … i/o timeout` (protocol.md B §3, §9). The
 * x/net servers always answer pings, so a hop swallows them. Without timestamps (a capture),
 * seven pings in a row with no pong stand for 30 s.
 */
import { describeRequest, seconds, seqsOf, upstreamHop } from '../answer.js';
import { ENV_EXEC } from '../fixes.js';
import { decoderBlind, endOrNow, tsOf } from '../stream.js';
import type { FindingDraft, Rule } from '../types.js';

export const PONG_WAIT_MS = 30_000;
export const KUBECTL_PING_MS = 5_000;
export const KUBECTL_READ_DEADLINE_MS = 61_000;

export const pongMissing: Rule = {
  id: 'pong-missing',
  evaluate(view) {
    const out: FindingDraft[] = [];
    for (const c of view.upgrades) {
      if (c.upgradeKind !== 'websocket' || !c.accepted || decoderBlind(c, 's2c')) continue;
      const u = c.unansweredPings;
      if (u.count < 2 || !u.first) continue;
      const firstAt = tsOf(u.first);
      let span: number;
      let measured: boolean;
      if (firstAt !== null) {
        const end = endOrNow(view, c);
        if (!Number.isFinite(end)) continue;
        span = end - firstAt;
        measured = true;
      } else {
        // A capture decodes all of kubectl's bytes before the server's: only once both are in
        // are the pings still unanswered really the last ones.
        if (!c.ended || u.count < Math.ceil(PONG_WAIT_MS / KUBECTL_PING_MS) + 1) continue;
        span = (u.count - 1) * KUBECTL_PING_MS;
        measured = false;
      }
      if (span < PONG_WAIT_MS) continue;
      const ended = c.ended;
      const how = measured ? `for ${seconds(span)}` : `for about ${seconds(span)} (${u.count} pings at kubectl's 5 s interval; no timestamps to measure)`;
      out.push({
        rule: 'pong-missing',
        conn: c.conn,
        // Pongs swallowed for 30 s will be swallowed at 61 s too: the session is doomed either way.
        severity: 'error',
        title: `kubectl's WebSocket pings got no pong ${measured ? `for ${seconds(span)}` : `(${u.count} in a row)`}`,
        explanation: `kubectl sent ${u.count} pings in a row with no pong ${how}${c.wsPongs.s2c ? ` (${c.wsPongs.s2c} pongs came earlier)` : ''}. `
          + 'It pings every 5 s, and only a pong extends its 61 s read deadline, however much output arrives: at 61 s it gives up '
          + '(rc 1, typically `error reading from error stream: next reader: … i/o timeout`). The API server and the kubelet always answer pings, so a hop in between swallows them'
          + `${ended ? `; the connection ${span >= KUBECTL_READ_DEADLINE_MS - KUBECTL_PING_MS ? 'ended at about that deadline' : 'has since ended'}` : ''}.`,
        evidence: {
          facts: [describeRequest(c), `${c.conn}: first unanswered ping at #${u.first.seq}, last at #${u.last?.seq ?? u.first.seq}`, `${c.conn}: pings ${c.wsPings.c2s}, pongs ${c.wsPongs.s2c}`],
          seqs: seqsOf(c.request, c.response, c.lastPong, u.first, u.last),
        },
        hop: upstreamHop(c),
        fix: 'Make the gateway forward WebSocket control frames (a proxy that terminates WebSockets must relay or answer pings); kubewire passes them unchanged. '
          + `As a workaround, ${ENV_EXEC} makes kubectl use SPDY, whose unanswered pings it ignores.`,
      });
    }
    return out;
  },
};
