/**
 * One WebSocket session of a client other than kubectl (the `ws` package), for the tests of
 * what the demo cluster and kubewire serve such clients: every message received, the chosen
 * subprotocol and the close code, bounded by a 10 s timer.
 */
import WebSocket from 'ws';

export interface Received {
  protocol: string;
  messages: { binary: boolean; data: Buffer }[];
  close: number | null;
}

export interface WsSessionOptions {
  ca: string | Buffer;
  token: string;
  /** Called once the 101 is in (to send what the client sends). */
  onOpen?: (ws: WebSocket) => void;
  /** Close (1000) after this many messages. */
  untilMessages?: number;
  timeoutMs?: number;
}

/** Resolves at the close; rejects on a refusal (`HTTP 403`), an error or the timeout. */
export function wsSession(url: string, protocols: string[], o: WsSessionOptions): Promise<Received> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols, { ca: o.ca, headers: { Authorization: `Bearer ${o.token}` } });
    const got: Received = { protocol: '', messages: [], close: null };
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error(`timed out; got ${got.messages.length} messages`));
    }, o.timeoutMs ?? 10_000);
    ws.on('open', () => {
      got.protocol = ws.protocol;
      o.onOpen?.(ws);
    });
    ws.on('message', (data: Buffer, binary: boolean) => {
      got.messages.push({ binary, data });
      if (o.untilMessages !== undefined && got.messages.length >= o.untilMessages) ws.close(1000);
    });
    ws.on('close', (code) => {
      clearTimeout(timer);
      got.close = code;
      resolve(got);
    });
    ws.on('unexpected-response', (_req, res) => {
      clearTimeout(timer);
      reject(new Error(`HTTP ${res.statusCode}`));
    });
    ws.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}
