/**
 * no-close-frame: the status arrived, then the connection did not end the way kubectl needs.
 * - WebSocket, TCP closed without a close frame: kubectl exits 1 with `error reading from error
 *   stream: next reader: websocket: close 1006 (abnormal closure): unexpected EOF`, although the
 *   command finished (protocol.md A §1.5, B §3).
 * - Connection left open after the status (no close frame; for SPDY no FIN, RST or GOAWAY
 *   either): kubectl waits and hangs (B §3, §4). SPDY status then TCP close is fine.
 */
import { describeRequest, isRemoteCommand, isTunnelRequest, seconds, seqsOf, upstreamHop } from '../answer.js';
import { decoderBlind, tsOf } from '../stream.js';
import type { ConnView, FindingDraft, Rule, SessionView } from '../types.js';

/** Silence after the status that counts as "left open" for a live connection. */
export const LEFT_OPEN_MS = 10_000;
/** kubectl closing this long after the status was waiting, not racing the server's close. */
const CLIENT_WAITED_MS = 5_000;

type Shape = 'tcp' | 'open';

export const noCloseFrame: Rule = {
  id: 'no-close-frame',
  evaluate(view) {
    const out: FindingDraft[] = [];
    for (const c of view.upgrades) {
      if (!isRemoteCommand(c) || !c.accepted || decoderBlind(c, 's2c')) continue;
      const status = c.statusData ?? c.status;
      if (!status) continue;
      const ws = c.upgradeKind === 'websocket' && !isTunnelRequest(c);
      if (ws ? c.closeFrames.s2c !== null : c.spdyServerEnd !== null) continue;
      const shape = shapeOf(view, c, tsOf(status), ws);
      if (!shape) continue;
      const exit = c.status?.exitCode;
      const outcome = exit !== null && exit !== undefined ? ` (exit code ${exit})` : '';
      out.push({
        rule: 'no-close-frame',
        conn: c.conn,
        severity: 'error',
        title: shape === 'tcp' ? 'The server closed TCP without a WebSocket close frame after the status' : `The connection stayed open after the status: kubectl hangs`,
        explanation: shape === 'tcp'
          ? `The command finished and its status arrived${outcome}, then the server side closed the TCP connection without the WebSocket close frame (1000) a Kubernetes server sends before closing. `
            + 'kubectl needs that frame: without it, it exits 1 with `error reading from error stream: next reader: websocket: close 1006 (abnormal closure): unexpected EOF`, though the output was complete.'
          : `The command finished and its status arrived${outcome}, but the server side then neither ${ws ? 'sent a close frame' : 'ended the streams (FIN, RST_STREAM) nor sent GOAWAY'} nor closed the connection`
            + `${c.afterStatus.keepalive ? ` (it went on answering ${c.afterStatus.keepalive} keepalive pings)` : ''}. kubectl waits for the end of the stream and hangs until it is killed.`,
        evidence: {
          facts: [
            describeRequest(c),
            `${c.conn}: status at #${status.seq}${outcome}`,
            ws ? `${c.conn}: no close frame from the server` : `${c.conn}: no FIN, RST_STREAM or GOAWAY from the server`,
            ...(c.close ? [`${c.conn}: closed by ${c.close.closedBy} after ${seconds(c.close.durationMs)}`]
              : c.ends.s2c ? [`${c.conn}: the server's bytes end after ${c.ends.s2c.offset} bytes${shape === 'open' ? ' (where the capture stops)' : ''}`] : []),
          ],
          seqs: seqsOf(c.request, c.response, status, c.afterStatus.first, c.ends.s2c, c.close),
        },
        hop: upstreamHop(c),
        fix: shape === 'tcp'
          ? 'Whatever ends the connection must send the close frame first: a WebSocket-terminating proxy must relay the server\'s close frame before closing its side (plain TCP/HTTP proxies relay it as bytes); check the API server version (the translator sends it).'
          : 'Make the hop propagate the server\'s end of the connection to kubectl: some load balancers keep the client side open after the backend closed until their own idle timeout; plain proxies pass the FIN on.',
      });
    }
    return out;
  },
};

function shapeOf(view: SessionView, c: ConnView, statusAt: number | null, ws: boolean): Shape | null {
  if (!c.ended) {
    return statusAt !== null && Number.isFinite(view.now) && view.now - statusAt >= LEFT_OPEN_MS ? 'open' : null;
  }
  const close = c.close;
  const closedAt = tsOf(close);
  if (close?.closedBy === 'client') {
    // kubectl left first: it was waiting (hang) only if it waited a while, or kept pinging.
    const waited = closedAt !== null && statusAt !== null && closedAt - statusAt >= CLIENT_WAITED_MS;
    return waited || c.afterStatus.keepalive > 0 ? 'open' : null;
  }
  // A capture cannot say who closed; a server that went on answering pings had not.
  if (!close && c.afterStatus.keepalive > 0) return 'open';
  return ws ? 'tcp' : null;
}
