/**
 * One exec the doctor writes by hand against a real pod (`--pod`), over either transport: the
 * shared part of the WebSocket v5 and SPDY/3.1 probes (ws-exec-probe.ts, spdy-exec-probe.ts):
 * the dial, the transcript of both directions for the diagnosis, what the streams said, and
 * bounded waits.
 */
import type { Duplex } from 'node:stream';
import type { Upstream } from '../proxy/upstream.js';
import { apiPath } from './checks.js';
import { parseAnswer, type Transcript } from './exchange.js';

export interface PodTarget {
  namespace: string;
  name: string;
  container: string | null;
}

export type ExecTransport = 'websocket' | 'spdy';

export interface ExecOptions {
  tty?: boolean;
  stdin?: boolean;
}

const MAX_TEXT = 64 * 1024;
const MAX_HEAD_BYTES = 64 * 1024;

export abstract class ExecProbe {
  abstract readonly transport: ExecTransport;
  /** `WebSocket v5`, `SPDY`: how the check names say which transport ran them. */
  abstract readonly label: string;
  readonly transcript: Transcript & { error: string | null } = { c2s: [], s2c: [], s2cEnded: null, error: null };
  status101: { status: number; detail: string } | null = null;
  protocol = '';
  /** Bytes per channel: 1 stdout, 2 stderr (the v5 channel numbers, for both transports). */
  readonly channelBytes = new Map<number, number>();
  stdout = '';
  statusJson: { status?: string; reason?: string; message?: string } | null = null;
  /** How the server ended the stream cleanly (`close 1000`, `error stream FIN`), or null. */
  cleanEnd: string | null = null;
  pongAt: number | null = null;
  openedAt = 0;
  endedAt: number | null = null;
  protected socket: Duplex | null = null;
  private head: Buffer = Buffer.alloc(0);
  private headDone = false;
  private waiters: (() => boolean)[] = [];

  constructor(protected readonly upstream: Upstream, protected readonly target: PodTarget, readonly session: string) {}

  /** The upgrade request's bytes for this transport. */
  protected abstract request(path: string, headers: Record<string, string>): Buffer;
  /** After the 101: whatever the transport needs before the command runs (SPDY's streams). */
  protected abstract opened(o: ExecOptions): void;
  /** Bytes after the 101 head. */
  protected abstract received(bytes: Buffer): void;
  abstract ping(): void;
  abstract resize(width: number, height: number): void;
  abstract closeStdin(): void;
  protected abstract hangUp(): void;

  /** Connects and sends the upgrade; resolves once the answer head arrived (or failed). */
  async open(command: string[], o: ExecOptions = {}): Promise<boolean> {
    const q = new URLSearchParams();
    for (const c of command) q.append('command', c);
    if (this.target.container) q.set('container', this.target.container);
    if (o.stdin) q.set('stdin', 'true');
    q.set('stdout', 'true');
    if (!o.tty) q.set('stderr', 'true');
    if (o.tty) q.set('tty', 'true');
    const path = apiPath(this.upstream, `/api/v1/namespaces/${encodeURIComponent(this.target.namespace)}/pods/${encodeURIComponent(this.target.name)}/exec?${q.toString()}`);
    let options: Awaited<ReturnType<Upstream['connectionOptions']>>;
    try {
      options = await this.upstream.connectionOptions();
      this.socket = await this.upstream.connect(options);
    } catch (e) {
      this.transcript.error = (e as Error).message;
      this.status101 = { status: 0, detail: `cannot connect: ${(e as Error).message}` };
      return false;
    }
    const s = this.socket;
    s.on('data', (chunk: Buffer) => this.onData(chunk, o));
    s.on('end', () => this.onEnd());
    s.on('close', () => this.onEnd());
    s.on('error', (e) => {
      this.transcript.error ??= e.message;
      this.onEnd();
    });
    this.write(this.request(path, options.headers));
    await this.wait(() => this.headDone, 10_000);
    if (!this.headDone) this.status101 ??= { status: 0, detail: this.endedAt !== null ? 'the connection ended without an answer' : 'no answer within 10 s' };
    return this.status101?.status === 101;
  }

  protected write(bytes: Buffer): void {
    if (!this.socket || this.endedAt !== null) return;
    this.transcript.c2s.push({ at: Date.now(), bytes });
    this.socket.write(bytes);
  }

  /** Output on channel `ch` (1 stdout, 2 stderr). */
  protected output(ch: number, data: Buffer): void {
    this.channelBytes.set(ch, (this.channelBytes.get(ch) ?? 0) + data.length);
    if (ch === 1 && this.stdout.length < MAX_TEXT) this.stdout += data.toString('utf8');
  }

  /** The v4/v5 status JSON (or whatever came in its place). */
  protected status(data: Buffer): void {
    try {
      this.statusJson = JSON.parse(data.toString('utf8')) as ExecProbe['statusJson'];
    } catch {
      this.statusJson = { status: 'Unparsable', message: data.toString('utf8').slice(0, 100) };
    }
  }

  /** Resolves when `pred` holds, the connection ended, or the time is up; returns `pred()`. */
  async wait(pred: () => boolean, timeoutMs: number): Promise<boolean> {
    if (pred()) return true;
    await new Promise<void>((resolve) => {
      let done = false;
      const finish = (): void => {
        done = true;
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(finish, timeoutMs);
      // Returns true while the waiter still waits.
      const check = (): boolean => {
        if (done) return false;
        if (pred() || this.endedAt !== null) finish();
        return !done;
      };
      this.waiters.push(check);
    });
    return pred();
  }

  get finished(): boolean {
    return this.endedAt !== null;
  }

  destroy(): void {
    this.socket?.destroy();
    this.onEnd();
  }

  /** Waits for the end (the server's clean end, or the connection's end). */
  async finish(timeoutMs: number): Promise<void> {
    await this.wait(() => this.cleanEnd !== null || this.finished, timeoutMs);
    // After the clean end, give the server a moment to end TCP, as kubectl does.
    if (this.cleanEnd !== null) {
      this.hangUp();
      await this.wait(() => this.finished, 1_000);
    }
    this.destroy();
  }

  statusText(): string {
    if (!this.statusJson) return 'no status';
    return this.statusJson.status === 'Success' ? 'status Success' : `status ${this.statusJson.status ?? '?'}${this.statusJson.message ? ` (${this.statusJson.message.slice(0, 80)})` : ''}`;
  }

  protected notify(): void {
    // Waiters whose predicate still fails wait on.
    this.waiters = this.waiters.filter((w) => w());
  }

  private onEnd(): void {
    if (this.endedAt === null) {
      this.endedAt = Date.now();
      this.transcript.s2cEnded = this.endedAt;
    }
    this.notify();
  }

  private onData(chunk: Buffer, o: ExecOptions): void {
    this.transcript.s2c.push({ at: Date.now(), bytes: chunk });
    if (this.headDone) {
      if (this.status101?.status === 101) this.received(chunk);
      this.notify();
      return;
    }
    this.head = this.head.length ? Buffer.concat([this.head, chunk]) : chunk;
    const end = this.head.indexOf('\r\n\r\n');
    if (end < 0) {
      if (this.head.length > MAX_HEAD_BYTES) this.destroy();
      return;
    }
    const a = parseAnswer(this.head);
    this.headDone = true;
    if (!a || a.status !== 101) {
      // Read the rest of the refusal briefly, for the diagnosis.
      let text = a?.body ?? '';
      try {
        text = (JSON.parse(text) as { message?: string }).message ?? text;
      } catch {
        /* not a Status */
      }
      const body = text.replace(/\s+/g, ' ').trim().slice(0, 100);
      this.status101 = { status: a?.status ?? 0, detail: a ? `${a.status} ${a.reason}${body ? ` "${body}"` : ''}` : 'not an HTTP answer' };
      setTimeout(() => this.destroy(), 200);
      this.notify();
      return;
    }
    this.openedAt = Date.now();
    this.protocol = a.headers['sec-websocket-protocol'] ?? a.headers['x-stream-protocol-version'] ?? '';
    this.status101 = { status: 101, detail: `101 ${this.protocol}` };
    const rest = this.head.subarray(end + 4);
    this.head = Buffer.alloc(0);
    this.opened(o);
    if (rest.length) this.received(rest);
    this.notify();
  }
}
