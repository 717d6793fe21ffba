/**
 * subprotocol-mismatch: a WebSocket 101 whose Sec-WebSocket-Protocol is missing, was not
 * offered, or is a changed form of what was offered (client-go rejects it: `invalid protocol,
 * expected one of [...], got "..."`, and falls back to SPDY), or a SPDY 403 `unable to negotiate
 * protocol` (the server speaks none of the offered X-Stream-Protocol-Version values).
 */
import { bodyText } from '../../session/answered-by.js';
import { header } from '../../session/handshake.js';
import { answerComplete, describeAnswer, describeRequest, laterUpgrade, seqsOf, upstreamHop } from '../answer.js';
import { ENVOY_UPGRADE, NGINX_UPGRADE, webSocketSwitch } from '../fixes.js';
import type { ConnView, FindingDraft, Rule } from '../types.js';

export const subprotocolMismatch: Rule = {
  id: 'subprotocol-mismatch',
  evaluate(view) {
    const out: FindingDraft[] = [];
    for (const c of view.upgrades) {
      const r = c.response;
      if (!r) continue;
      const offered = c.request?.offered ?? [];
      if (c.upgradeKind === 'websocket' && r.status === 101 && offered.length && (r.protocol === null || !offered.includes(r.protocol))) {
        out.push(webSocketMismatch(c, offered, r.protocol, laterUpgrade(view, c) !== undefined));
      } else if (c.upgradeKind === 'spdy' && r.status === 403 && answerComplete(c) && /unable to negotiate protocol/i.test(bodyText(c))) {
        const accepted = header(r.headers, 'x-accepted-stream-protocol-versions');
        out.push({
          rule: 'subprotocol-mismatch',
          conn: c.conn,
          severity: 'error',
          title: 'The server speaks none of the stream protocols kubectl offered',
          explanation: `kubectl offered ${offered.join(', ') || 'nothing'} in X-Stream-Protocol-Version; the server answered ${describeAnswer(c)}`
            + `${accepted ? ` and accepts ${accepted}` : ''}. Without a common version there is no stream, and kubectl stops with that message.`,
          evidence: { facts: [describeRequest(c), `${c.conn}: ${describeAnswer(c)}`, ...(accepted ? [`${c.conn}: X-Accepted-Stream-Protocol-Versions: ${accepted}`] : [])], seqs: seqsOf(c.request, c.response, c.body) },
          hop: upstreamHop(c),
          fix: 'Use a kubectl within one minor version of the cluster, and make sure no proxy rewrites or drops the X-Stream-Protocol-Version lines (one header line per version).',
        });
      }
    }
    return out;
  },
};

function webSocketMismatch(c: ConnView, offered: string[], got: string | null, fellBack: boolean): FindingDraft {
  const changed = got !== null && offered.some((o) => o.toLowerCase() === got.toLowerCase() || o.endsWith(got) || got.endsWith(o));
  const what = got === null ? 'no Sec-WebSocket-Protocol' : changed ? `a changed subprotocol, ${got}` : `the subprotocol ${got}, which kubectl did not offer`;
  const v4 = got === 'v4.channel.k8s.io';
  return {
    rule: 'subprotocol-mismatch',
    conn: c.conn,
    severity: 'warn',
    title: got === null ? 'The WebSocket 101 came without a subprotocol' : `The WebSocket 101 chose ${got}, not what kubectl offered`,
    explanation: `kubectl offered ${offered.join(', ')}; the 101 carried ${what}. client-go rejects that handshake `
      + `("invalid protocol, expected one of [${offered.map((o) => JSON.stringify(o)).join(' ')}], got ${JSON.stringify(got ?? '')}")`
      + `${fellBack ? ' and kubectl fell back to SPDY' : ''}. `
      + (v4 ? 'v4.channel.k8s.io is what the kubelet speaks: the upgrade reached a kubelet or an old API server instead of the 1.30+ translator, which always answers v5.channel.k8s.io.'
        : 'The API server echoes the subprotocol it was offered, so a hop in between wrote or rewrote this 101.'),
    evidence: { facts: [describeRequest(c), `${c.conn}: ${describeAnswer(c)}${got === null ? ' without Sec-WebSocket-Protocol' : ''}`], seqs: seqsOf(c.request, c.response) },
    hop: upstreamHop(c),
    fix: v4
      ? `Send the request through a Kubernetes API server ≥1.30 (or 1.29 with TranslateStreamCloseWebsocketRequests on). Meanwhile ${webSocketSwitch(c)} skips the WebSocket attempt.`
      : `Make the gateway pass Sec-WebSocket-Protocol through unchanged both ways (${NGINX_UPGRADE}; ${ENVOY_UPGRADE}); one that terminates WebSockets must echo the client's subprotocol. Meanwhile ${webSocketSwitch(c)} skips the WebSocket attempt.`,
  };
}
