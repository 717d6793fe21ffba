/**
 * kubewire's own tunnel for upgrades (WebSocket GET, SPDY POST), byte-exact both ways. It is
 * not http-proxy's: that rebuilds the 101 and breaks SPDY and POST upgrades. Like the API
 * server's upgradeaware proxy, it writes the request upstream, then copies bytes both ways:
 * the upstream's response head comes back verbatim, bytes that arrive with either head are
 * passed on, half-close is passed on, and a full receiver pauses the sender.
 *
 * Each chunk is written onward first and only then copied to the observer's tap (relay-
 * observer.ts), which decodes elsewhere, so no decoding ever delays a byte; an observer that
 * fails is reported and the relay goes on.
 *
 * `kubewire gateway` (`admitted`): the client was admitted for this one request, so nothing
 * else of it may reach the upstream unless the upstream switched protocols. The client's bytes
 * after its request head are held (its socket paused, so bounded by its buffer) until the
 * upstream's status line is known: on 101 they are released in order and the tunnel relays as
 * above; on anything else no client byte is ever forwarded, the answer is passed on, the request
 * went with `Connection: …, close` so the upstream ends the connection after it, and a client
 * that sends more is disconnected. Otherwise an API server that answers an upgrade-looking GET
 * of a plain path with a kept-alive 200 would read the client's next bytes as further requests,
 * with headers (Impersonate-*, another Authorization) the admission never saw. `kubewire proxy`
 * and `run` stay a byte-exact tap that delays nothing.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Direction } from '../events/types.js';
import type { EventBody, SessionUser } from '../events/types.js';
import type { RelayObserver } from '../observer/relay-observer.js';
import { upstreamRequestHead } from './request-head.js';
import { upstreamFailure } from './upstream-failure.js';
import type { Upstream } from './upstream.js';
import { halfOpen, ownRecords, remoteOf } from './socket-sides.js';

export interface TunnelContext {
  upstream: Upstream;
  observer: RelayObserver;
  conn: string;
  session: string;
  /** Who the client is (`kubewire gateway`), for `conn.open`. */
  user?: SessionUser;
  /** The credential headers to send instead of the upstream's own (client-admission.ts). */
  credentials?: (own: Record<string, string>) => Record<string, string | string[]>;
  /** Called when the tunnel is fully closed. */
  onClose?: () => void;
  /** `kubewire gateway`: forward no client byte beyond the admitted request unless the upstream answers 101. */
  admitted?: boolean;
}

/** How much of the upstream's answer is read for its status line (`HTTP/1.1 101 Switching Protocols`). */
const STATUS_LINE_BYTES = 64;

export async function tunnelUpgrade(req: IncomingMessage, client: Duplex, head: Buffer, ctx: TunnelContext): Promise<void> {
  const { observer, upstream, conn, session } = ctx;
  const ids = { conn, session };
  const emit = (body: EventBody): void => observer.publish(body, ids);
  const started = Date.now();
  client.on('error', () => {});
  // From the start: a FIN that arrives while the upstream is dialled must leave the client's
  // side open for the answer.
  halfOpen(client);
  // Held from here on: the client's next bytes wait for the upstream's status line.
  if (ctx.admitted) client.pause();
  emit({ type: 'conn.open', kind: 'upgrade', client: remoteOf(client), upstream: upstream.describe(), ...(ctx.user ? { user: ctx.user } : {}) });

  let server: Duplex;
  let headBytes: Buffer;
  try {
    const opts = await upstream.connectionOptions();
    headBytes = upstreamRequestHead(req, upstream.server.host, upstream.server.pathname, ctx.credentials ? ctx.credentials(opts.headers) : opts.headers, ctx.admitted === true);
    server = await upstream.connect(opts);
  } catch (e) {
    const failure = upstreamFailure(upstream, e);
    emit({ type: 'proxy.error', code: failure.code, message: failure.message, upstream: upstream.describe(), status: 502 });
    client.end(failure.rawResponse());
    emit({ type: 'conn.close', closedBy: 'error', bytes: { c2s: 0, s2c: 0 }, durationMs: Date.now() - started, error: failure.message });
    ctx.onClose?.();
    return;
  }
  server.on('error', () => {});
  halfOpen(server);
  if (client.destroyed) {
    // The client left while the upstream was dialled: send nothing to an upstream whose answer
    // nobody would read, so no exec starts there.
    server.destroy();
    const gone = client.errored;
    emit({ type: 'conn.close', closedBy: gone ? 'error' : 'client', bytes: { c2s: 0, s2c: 0 }, durationMs: Date.now() - started, error: gone ? `client socket: ${gone.message}` : null });
    ctx.onClose?.();
    return;
  }

  ownRecords(client);
  ownRecords(server);
  const tap = observer.tap(ids);
  const decode = (dir: Direction, chunk: Buffer): void => tap.push(dir, chunk);

  const sent = { c2s: { bytes: 0 }, s2c: { bytes: 0 } };
  let closedBy: 'client' | 'upstream' | 'error' | 'proxy' | null = null;
  let error: string | null = null;

  server.write(headBytes);
  decode('c2s', headBytes);
  sent.c2s.bytes += headBytes.length;
  const forwardHead = (): void => {
    if (!head.length) return;
    server.write(head);
    decode('c2s', head);
    sent.c2s.bytes += head.length;
  };

  const relay = (from: Duplex, to: Duplex, dir: Direction, side: 'client' | 'upstream'): void => {
    // Two things hold a source: a receiver whose buffer is full, and a lossless log that is
    // behind. Each is waited out on its own, and the source resumes only when neither holds it:
    // resuming on the first would let the receiver's buffer or the log's queue grow without bound.
    let waitingForDrain = false;
    let waitingForLog = false;
    const release = (): void => {
      if (waitingForDrain || waitingForLog) return;
      if (observer.writable) return void from.resume();
      // The log fell behind on the other direction's bytes while this one waited for a drain.
      waitingForLog = true;
      observer.onWritable(logWritable);
    };
    const logWritable = (): void => {
      waitingForLog = false;
      release();
    };
    // Per direction, read once here: `bytes[dir]` on every chunk is a keyed load whose key
    // varies, which V8 makes megamorphic.
    const counted = sent[dir];
    from.on('data', (chunk: Buffer) => {
      const ok = to.write(chunk);
      counted.bytes += chunk.length;
      decode(dir, chunk);
      if (!ok && !waitingForDrain) {
        waitingForDrain = true;
        from.pause();
      }
      if (!observer.writable && !waitingForLog) {
        // Lossless logging (--payload full, --audit): the log is behind, so the relay waits for it.
        waitingForLog = true;
        from.pause();
        observer.onWritable(logWritable);
      }
    });
    // One listener for the connection's life, as `pipe` has it: a `once` per full buffer cost a
    // closure, a wrapper and an emitter lookup each time, and a stream fills it every few chunks.
    to.on('drain', () => {
      if (!waitingForDrain) return;
      waitingForDrain = false;
      release();
    });
    const onEnd = (): void => {
      closedBy ??= side;
      decoderEnd(dir);
      to.end();
    };
    // The client's FIN may have come while the upstream was dialled, its 'end' with it.
    if (from.readableEnded) onEnd();
    else from.on('end', onEnd);
    from.on('error', (e: Error) => {
      closedBy ??= 'error';
      error ??= `${side} socket: ${e.message}`;
      to.destroy();
    });
  };
  const decoderEnd = (dir: Direction): void => tap.end(dir);
  if (!ctx.admitted) {
    forwardHead();
    relay(client, server, 'c2s', 'client');
    relay(server, client, 's2c', 'upstream');
  } else {
    statusLine(server, (first, switched) => {
      // The answer's first bytes go on as they came, ahead of the rest of it.
      if (first.length) {
        client.write(first);
        decode('s2c', first);
        sent.s2c.bytes += first.length;
      }
      if (switched) {
        forwardHead();
        relay(client, server, 'c2s', 'client');
      } else {
        // Not upgraded: the client's bytes are never forwarded, and one that sends more is cut off.
        const cutOff = (): void => {
          closedBy ??= 'proxy';
          error ??= 'the client sent more after a request the upstream did not upgrade';
          server.destroy();
          client.destroy();
        };
        if (head.length) cutOff();
        else client.on('data', cutOff);
      }
      relay(server, client, 's2c', 'upstream');
      client.resume();
      server.resume();
    });
  }

  let open = 2;
  const onClosed = (): void => {
    if (--open > 0) return;
    decoderEnd('c2s');
    decoderEnd('s2c');
    emit({ type: 'conn.close', closedBy: closedBy ?? 'proxy', bytes: { c2s: sent.c2s.bytes, s2c: sent.s2c.bytes }, durationMs: Date.now() - started, error });
    ctx.onClose?.();
  };
  // One side fully closed: nothing more can reach it, so finish the other side's writes and
  // close it too; after an error, at once.
  const closeOther = (other: Duplex) => (hadError: boolean): void => {
    if (other.destroyed) return;
    if (hadError) other.destroy();
    else other.end(() => other.destroy());
  };
  client.once('close', (hadError: boolean) => {
    closeOther(server)(hadError);
    onClosed();
  });
  server.once('close', (hadError: boolean) => {
    closeOther(client)(hadError);
    onClosed();
  });
}

/**
 * Reads the upstream's first bytes up to the end of its status line (at most STATUS_LINE_BYTES)
 * and calls `then` with them, paused, and whether it is a 101; an answer that ends or has no
 * CRLF that early is not one.
 */
function statusLine(server: Duplex, then: (first: Buffer, switched: boolean) => void): void {
  let seen = Buffer.alloc(0);
  let decided = false;
  const decide = (): void => {
    if (decided) return;
    decided = true;
    server.off('data', onData);
    server.off('end', decide);
    server.pause();
    const eol = seen.subarray(0, STATUS_LINE_BYTES).indexOf('\r\n');
    then(seen, eol >= 0 && /^HTTP\/1\.[01] 101(?: |$)/.test(seen.subarray(0, eol).toString('latin1')));
  };
  const onData = (chunk: Buffer): void => {
    seen = Buffer.concat([seen, chunk]);
    if (seen.subarray(0, STATUS_LINE_BYTES).includes('\r\n') || seen.length >= STATUS_LINE_BYTES) decide();
  };
  server.on('data', onData);
  server.once('end', decide);
}


