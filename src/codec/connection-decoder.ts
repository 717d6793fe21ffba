/**
 * One TCP connection, both directions, from the first byte of the request to the end:
 *
 *   c2s: request head [body] [request head …] ── once an upgrade is answered 101 ──▶ stream
 *   s2c: response head [body] …                 ── 101 ──▶ stream
 *
 * Heads are matched to requests in order (HTTP/1.1 keep-alive). After an upgrade request the
 * client's further bytes wait for the answer, because only the answer says how to read them
 * (kubectl sends nothing in that window; the wait is bounded). A 101 selects the stream stack
 * (`stack-select.ts`); any other answer is reported with its body, and HTTP goes on.
 *
 * Sans-IO: `push(dir, bytes)` and `end(dir)`; events go to the listener as they are decoded.
 *
 * Options: `payload` (none | head | full) and `headBytes` bound what events record; `digests`
 * (default true) makes the `conn.summary` carry each stream's SHA-256, which costs a pass over
 * every payload byte: `decode --summary` and the audit log keep it, a plain live proxy turns it
 * off and its summaries say `sha256: null`. `maxPendingBytes` bounds the client bytes held
 * while an upgrade waits for its answer.
 */
import type { Direction, HttpRequestEvent } from '../events/types.js';
import { redactHeaders, redactProtocol } from '../events/redact.js';
import { AnomalyCode } from '../events/anomaly-codes.js';
import type { Anomaly } from './anomaly.js';
import { ByteQueue } from './byte-queue.js';
import { keep } from './lent-bytes.js';
import { ConnectionSummaryBuilder } from './connection-summary.js';
import { DecodeContext, type DecodedEvent, type DecodedEventListener, type PayloadMode } from './decode-context.js';
import { HttpBodyDecoder, requestBodyFraming, responseBodyFraming } from './http1-body.js';
import { headerTokens, headerValue, Http1HeadDecoder, type HttpHead } from './http1-head.js';
import { k8sRequestInfo, splitTarget } from './k8s-request.js';
import { parseStatusBody } from './k8s-status.js';
import { MAX_HTTP_BODY_CAPTURE_BYTES, MAX_PENDING_BEFORE_RESPONSE_BYTES } from './limits.js';
import { assumedStack, negotiatedProtocol, selectStack } from './stack-select.js';
import { buildStreamStack, type StreamStack } from './stream-stack.js';

export interface ConnectionDecoderOptions {
  /** How much payload the events record; the summary always counts every byte. */
  payload?: PayloadMode;
  /**
   * Take the SHA-256 of every stream for the summary (default true). It reads every payload
   * byte, so a live proxy asks for it only where it is used (the audit log's stream digests);
   * without it the summary's digests say `sha256: null`.
   */
  digests?: boolean;
  headBytes?: number;
  /** Bound on client bytes held while an upgrade waits for its answer. */
  maxPendingBytes?: number;
}

type Phase = 'head' | 'body' | 'await-answer' | 'stream' | 'opaque';

interface DirectionState {
  phase: Phase;
  /** Bytes pushed so far: the offset of the next byte. */
  received: number;
  head: Http1HeadDecoder | null;
  body: HttpBodyDecoder | null;
  bodyHead: HttpHead | null;
  bodyCapture: Buffer[];
  bodyCaptured: number;
  bodyOffset: number;
  ended: boolean;
  endReported: boolean;
}

interface RequestRecord {
  head: HttpHead;
  upgrade: boolean;
}

export class ConnectionDecoder {
  private readonly ctx: DecodeContext;
  private readonly summaryBuilder: ConnectionSummaryBuilder;
  private readonly dirs: Record<Direction, DirectionState>;
  /**
   * Requests in order; those before `answeredRequests` have had their answer. A captured client
   * direction is decoded before the server's, so thousands of pipelined requests can wait here:
   * answered ones are stepped past, not shifted off, as in ByteQueue.
   */
  private readonly requests: RequestRecord[] = [];
  private answeredRequests = 0;
  private readonly pending = new ByteQueue();
  private pendingFrom = 0;
  private stack: StreamStack | null = null;
  private summaryEmitted = false;
  private readonly maxPending: number;

  constructor(listener: DecodedEventListener, options: ConnectionDecoderOptions = {}) {
    this.maxPending = options.maxPendingBytes ?? MAX_PENDING_BEFORE_RESPONSE_BYTES;
    this.summaryBuilder = new ConnectionSummaryBuilder(options.digests ?? true);
    this.ctx = new DecodeContext((e) => this.forward(listener, e), options.payload ?? 'full', options.headBytes);
    this.dirs = { c2s: this.newDirection(), s2c: this.newDirection() };
  }

  /** True while an upgrade request waits for its answer (further client bytes are held). */
  get awaitingAnswer(): boolean {
    return this.dirs.c2s.phase === 'await-answer';
  }

  /** True once an upgrade was answered (101 or refusal). */
  get upgradeAnswered(): boolean {
    return this.answered;
  }

  get finished(): boolean {
    return this.summaryEmitted;
  }

  summary() {
    return this.summaryBuilder.result();
  }

  push(dir: Direction, chunk: Uint8Array): void {
    const d = this.dirs[dir];
    if (d.ended) return;
    const start = d.received;
    d.received += chunk.length;
    this.process(dir, Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length), start);
  }

  /**
   * A capture of the client's side alone (there are no server bytes to wait for): the client
   * bytes held after an upgrade request are read as if the server had accepted its first
   * offer, which the `decode.stack` event's reason says. Call it after the client's side ended.
   */
  assumeUpgradeAccepted(): void {
    const req = this.requests[this.answeredRequests];
    if (this.dirs.c2s.phase !== 'await-answer' || !req?.upgrade) return;
    this.answered = true;
    const choice = assumedStack(req.head);
    this.ctx.emit({ type: 'decode.stack', ...choice });
    this.startStream(req.head, choice, 0);
  }

  end(dir: Direction): void {
    const d = this.dirs[dir];
    if (d.ended) return;
    d.ended = true;
    if (d.phase !== 'await-answer') this.finishDirection(dir);
    if (dir === 's2c' && this.dirs.c2s.phase === 'await-answer') {
      // The server ended without answering the upgrade: the held client bytes stay unread.
      if (this.pending.length > 0) {
        this.anomaly('c2s', this.pendingFrom, 'stack', AnomalyCode.UnansweredBytes, `${this.pending.length} client bytes followed the upgrade request, which was never answered`, true);
      }
      this.pending.clear();
      this.dirs.c2s.phase = 'opaque';
      if (this.dirs.c2s.ended) this.finishDirection('c2s');
    }
    this.maybeSummarise();
  }

  // -- per-direction processing -------------------------------------------------------------

  private answered = false;

  private process(dir: Direction, chunk: Buffer, offset: number): void {
    const d = this.dirs[dir];
    while (chunk.length > 0) {
      switch (d.phase) {
        case 'head': {
          d.head ??= new Http1HeadDecoder(dir === 'c2s' ? 'request' : 'response', { startOffset: offset });
          const out = d.head.push(chunk);
          if (out.kind === 'need-more') return;
          if (out.kind === 'error') {
            d.phase = 'opaque';
            this.reportAnomaly(dir, 'http', out.anomaly);
            return;
          }
          for (const a of out.anomalies) this.reportAnomaly(dir, 'http', a);
          d.head = null;
          const consumed = chunk.length - out.rest.length;
          offset += consumed;
          chunk = out.rest;
          if (dir === 'c2s') this.onRequest(out.head, offset);
          else this.onResponse(out.head, offset);
          continue;
        }
        case 'body': {
          const out = d.body!.push(chunk);
          for (const a of out.anomalies) this.reportAnomaly(dir, 'http', a);
          for (const piece of out.data) this.captureBody(d, piece);
          if (!out.done) {
            if (d.body!.done) return;
            if (out.anomalies.some((a) => a.opaque)) d.phase = 'opaque';
            return;
          }
          offset += chunk.length - out.rest.length;
          chunk = out.rest;
          this.finishBody(dir);
          continue;
        }
        case 'await-answer':
          if (this.pending.length + chunk.length > this.maxPending) {
            this.anomaly(dir, this.pendingFrom + this.maxPending, 'stack', AnomalyCode.PendingOverflow, `more than ${this.maxPending} client bytes before the upgrade was answered; the client direction is no longer decoded`, true);
            this.pending.clear();
            d.phase = 'opaque';
            return;
          }
          this.pending.push(chunk);
          this.pending.keepLent();
          return;
        case 'stream':
          this.stack?.push(dir, chunk);
          return;
        case 'opaque':
          return;
      }
    }
  }

  private onRequest(head: HttpHead, next: number): void {
    const d = this.dirs.c2s;
    // An empty Upgrade header asks for nothing.
    const upgrade = headerValue(head, 'upgrade') || null;
    const { path } = splitTarget(head.target ?? '');
    const lowerUpgrade = upgrade?.toLowerCase() ?? '';
    const offered = lowerUpgrade === 'websocket'
      ? headerTokens(head, 'sec-websocket-protocol').map(redactProtocol)
      : lowerUpgrade.startsWith('spdy/') ? headerTokens(head, 'x-stream-protocol-version') : [];
    const ev: HttpRequestEvent = {
      type: upgrade ? 'upgrade.request' : 'http.request',
      dir: 'c2s',
      offset: head.offset,
      method: head.method ?? '',
      target: head.target ?? '',
      path,
      version: head.version,
      headers: redactHeaders(head.headers),
      upgrade,
      offered,
      kubectlSession: headerValue(head, 'kubectl-session'),
      kubectlCommand: headerValue(head, 'kubectl-command'),
      userAgent: headerValue(head, 'user-agent'),
      k8s: k8sRequestInfo(head.target ?? ''),
    };
    this.ctx.emit(ev);
    this.requests.push({ head, upgrade: upgrade !== null });
    if (upgrade !== null) {
      d.phase = 'await-answer';
      this.pendingFrom = next;
      return;
    }
    this.startBody('c2s', head, requestBodyFraming(head), next);
  }

  private onResponse(head: HttpHead, next: number): void {
    const status = head.status ?? 0;
    const interim = status >= 100 && status < 200 && status !== 101;
    const req = interim ? this.requests[this.answeredRequests] : this.nextAnswered();
    const isUpgrade = req?.upgrade ?? status === 101;
    this.ctx.emit({
      type: isUpgrade ? 'upgrade.response' : 'http.response',
      dir: 's2c',
      offset: head.offset,
      status,
      reason: head.reason ?? '',
      version: head.version,
      headers: redactHeaders(head.headers),
      protocol: isUpgrade ? negotiatedProtocol(req?.head ?? null, head) : null,
      auditId: headerValue(head, 'audit-id'),
      server: headerValue(head, 'server'),
      contentType: headerValue(head, 'content-type'),
    });
    if (interim) return;
    if (isUpgrade) {
      this.answered = true;
      const choice = selectStack(req?.head ?? null, head);
      this.ctx.emit({ type: 'decode.stack', ...choice });
      if (status === 101) {
        this.startStream(req?.head ?? null, choice, next);
        return;
      }
      // Refused: the client's connection goes on as HTTP (kubectl closes it; others may not).
      if (req) this.resumeClientAfterRefusal(req.head);
    }
    this.startBody('s2c', head, responseBodyFraming(head, req?.head.method ?? null), next);
  }

  /** The oldest unanswered request, now answered. */
  private nextAnswered(): RequestRecord | undefined {
    const req = this.requests[this.answeredRequests];
    if (req === undefined) return undefined;
    this.answeredRequests++;
    const waiting = this.requests.length - this.answeredRequests;
    // Compacting once the answered prefix is at least half moves no more records than were answered.
    if (this.answeredRequests >= waiting) {
      this.requests.splice(0, this.answeredRequests);
      this.answeredRequests = 0;
    }
    return req;
  }

  private startStream(request: HttpHead | null, choice: ReturnType<typeof selectStack>, s2cNext: number): void {
    const ports = request?.target ? k8sRequestInfo(request.target)?.ports ?? [] : [];
    this.stack = buildStreamStack(choice, this.ctx, ports, { c2s: this.pendingFrom, s2c: s2cNext });
    this.dirs.s2c.phase = 'stream';
    const c2s = this.dirs.c2s;
    if (c2s.phase !== 'await-answer') return;
    c2s.phase = 'stream';
    if (this.pending.length) this.stack?.push('c2s', this.pending.takeAll());
    if (c2s.ended) this.finishDirection('c2s');
  }

  private resumeClientAfterRefusal(request: HttpHead): void {
    const c2s = this.dirs.c2s;
    if (c2s.phase !== 'await-answer') return;
    const held = this.pending.takeAll();
    this.startBody('c2s', request, requestBodyFraming(request), this.pendingFrom);
    if (held.length) this.process('c2s', held, this.pendingFrom);
    if (c2s.ended) this.finishDirection('c2s');
  }

  private startBody(dir: Direction, head: HttpHead, framing: ReturnType<typeof requestBodyFraming>, offset: number): void {
    const d = this.dirs[dir];
    if (framing.kind === 'none') {
      d.phase = 'head';
      return;
    }
    d.phase = 'body';
    d.body = new HttpBodyDecoder(framing, { startOffset: offset });
    d.bodyHead = head;
    d.bodyCapture = [];
    d.bodyCaptured = 0;
    d.bodyOffset = offset;
  }

  private captureBody(d: DirectionState, piece: Buffer): void {
    const room = MAX_HTTP_BODY_CAPTURE_BYTES - d.bodyCaptured;
    if (room <= 0) return;
    const kept = piece.length > room ? piece.subarray(0, room) : piece;
    d.bodyCapture.push(keep(kept));
    d.bodyCaptured += kept.length;
  }

  private finishBody(dir: Direction): void {
    const d = this.dirs[dir];
    const body = d.body!;
    const size = body.bytesDecoded;
    const captured = Buffer.concat(d.bodyCapture);
    const contentType = d.bodyHead ? headerValue(d.bodyHead, 'content-type') : null;
    const textLike = isTextLike(contentType, captured);
    const text = textLike ? captured.toString('utf8') : null;
    if (size > 0) {
      const payload = this.ctx.payload(captured);
      if (size > captured.length) {
        payload.size = size;
        payload.truncated = true;
      }
      this.ctx.emit({ type: 'http.body', dir, offset: d.bodyOffset, contentType, k8sStatus: text ? parseStatusBody(text) : null, text: text === null ? null : text.slice(0, 4096), ...payload }, captured);
    }
    d.body = null;
    d.bodyHead = null;
    d.bodyCapture = [];
    d.phase = 'head';
  }

  private finishDirection(dir: Direction): void {
    const d = this.dirs[dir];
    if (d.endReported) return;
    d.endReported = true;
    switch (d.phase) {
      case 'head': {
        const a = d.head?.end();
        if (a) this.reportAnomaly(dir, 'http', a);
        break;
      }
      case 'body': {
        const a = d.body!.end();
        if (a) this.reportAnomaly(dir, 'http', a);
        this.finishBody(dir);
        break;
      }
      case 'stream':
        this.stack?.end(dir);
        break;
      default:
        break;
    }
    const cutOff = this.ctx.cutOff(dir);
    this.ctx.emit({ type: 'conn.end', dir, offset: d.received, ...(cutOff ? { cutOff } : {}) });
  }

  private maybeSummarise(): void {
    if (this.summaryEmitted || !this.dirs.c2s.endReported || !this.dirs.s2c.endReported) return;
    this.summaryEmitted = true;
    this.ctx.emit({ type: 'conn.summary', summary: this.summaryBuilder.result() });
  }

  // -- helpers -----------------------------------------------------------------------------------

  private forward(listener: DecodedEventListener, e: DecodedEvent): void {
    this.summaryBuilder.observe(e);
    listener(e);
  }

  private reportAnomaly(dir: Direction, layer: 'http', a: Anomaly): void {
    this.anomaly(dir, a.offset, layer, a.code, a.message, a.opaque);
  }

  private anomaly(dir: Direction, offset: number, layer: 'http' | 'stack', code: AnomalyCode, message: string, opaque: boolean): void {
    this.ctx.emit({ type: 'decode.anomaly', dir, offset, layer, code, message, opaque });
  }

  private newDirection(): DirectionState {
    return { phase: 'head', received: 0, head: null, body: null, bodyHead: null, bodyCapture: [], bodyCaptured: 0, bodyOffset: 0, ended: false, endReported: false };
  }
}

function isTextLike(contentType: string | null, sample: Buffer): boolean {
  if (contentType && /json|text|xml|html|yaml|javascript/i.test(contentType)) return true;
  if (contentType) return false;
  // No type: text if the first bytes hold no control characters but whitespace.
  for (const b of sample.subarray(0, 512)) if (b < 0x09 || (b > 0x0d && b < 0x20)) return false;
  return true;
}
