/**
 * The bearer token a browser-style WebSocket client offers as a subprotocol,
 * `base64url.bearer.authorization.k8s.io.<token, base64url without padding>` (the API server's
 * protocol authenticator, k8s.io/apiserver/pkg/authentication/request/websocket). The API
 * server falls back to it when the Authorization header does not authenticate, so a gateway
 * that named the user from the header must never pass it on: it is taken out of the request
 * (the gateway reviews it itself when there is no Authorization header), and the other offers
 * stay in their order.
 */
import type { IncomingMessage } from 'node:http';

const PREFIX = 'base64url.bearer.authorization.k8s.io.';
const PROTOCOL_HEADER = 'sec-websocket-protocol';

/**
 * Removes every bearer offer from `req`'s Sec-WebSocket-Protocol (raw and parsed headers
 * alike, so both ways upstream send the rest) and returns the first offer's token, or null.
 * A token that is not printable ASCII is no token (it would not fit a header line).
 */
export function takeBearerProtocol(req: IncomingMessage): string | null {
  let token: string | null = null;
  const raw = req.rawHeaders;
  const kept: string[] = [];
  let found = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    let value = raw[i + 1]!;
    if (name.toLowerCase() === PROTOCOL_HEADER) {
      const offers = value.split(',').map((o) => o.trim()).filter((o) => o !== '');
      const bearer = offers.filter((o) => o.startsWith(PREFIX));
      if (bearer.length) {
        found = true;
        if (token === null) token = Buffer.from(bearer[0]!.slice(PREFIX.length), 'base64url').toString('latin1');
        const rest = offers.filter((o) => !o.startsWith(PREFIX));
        if (rest.length === 0) continue;
        value = rest.join(', ');
      }
    }
    kept.push(name, value);
  }
  if (!found) return null;
  raw.splice(0, raw.length, ...kept);
  const values: string[] = [];
  for (let i = 0; i < kept.length; i += 2) if (kept[i]!.toLowerCase() === PROTOCOL_HEADER) values.push(kept[i + 1]!);
  if (values.length) req.headers[PROTOCOL_HEADER] = values.join(', ');
  else delete req.headers[PROTOCOL_HEADER];
  return token !== null && /^[\x21-\x7e]+$/.test(token) ? token : null;
}
