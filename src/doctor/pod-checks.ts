/**
 * Checks against a real pod (`--pod`), over a WebSocket v5 exec written by hand: an echo, a
 * 1 MiB output, a ping/pong, a tty resize, and (with --idle) a session held idle until the path
 * cuts it or the command ends.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { encodeClosePayload, encodeWsFrame } from '../codec/websocket-encode.js';
import type { Upstream } from '../proxy/upstream.js';
import { apiPath, requestHead, type CheckOutcome } from './checks.js';
import { diagnoseTranscript, parseAnswer, type Transcript } from './exchange.js';

export interface PodTarget {
  namespace: string;
  name: string;
  container: string | null;
}

const OPCODE = { continuation: 0, text: 1, binary: 2, close: 8, ping: 9, pong: 10 } as const;
const MAX_TEXT = 64 * 1024;
const MIB = 1024 * 1024;

/** One WebSocket v5 exec: the transcript of both directions and what the frames said. */
class WsExec {
  readonly transcript: Transcript & { error: string | null } = { c2s: [], s2c: [], s2cEnded: null, error: null };
  status101: { status: number; detail: string } | null = null;
  protocol = '';
  readonly channelBytes = new Map<number, number>();
  stdout = '';
  statusJson: { status?: string; reason?: string; message?: string } | null = null;
  closeCode: number | null = null;
  pongAt: number | null = null;
  openedAt = 0;
  endedAt: number | null = null;
  private socket: Duplex | null = null;
  private buf: Buffer = Buffer.alloc(0);
  private headDone = false;
  private message: { opcode: number; parts: Buffer[] } | null = null;
  private waiters: (() => boolean)[] = [];

  constructor(private readonly upstream: Upstream, private readonly target: PodTarget, readonly session: string) {}

  /** Connects and sends the upgrade; resolves once the answer head arrived (or failed). */
  async open(command: string[], o: { tty?: boolean; stdin?: boolean } = {}): Promise<boolean> {
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
    s.on('data', (chunk: Buffer) => this.onData(chunk));
    s.on('end', () => this.onEnd());
    s.on('close', () => this.onEnd());
    s.on('error', (e) => {
      this.transcript.error ??= e.message;
      this.onEnd();
    });
    this.write(requestHead(this.upstream, 'GET', path, options.headers, {
      Connection: 'Upgrade',
      Upgrade: 'websocket',
      'Sec-WebSocket-Version': '13',
      'Sec-WebSocket-Key': randomBytes(16).toString('base64'),
      'Sec-WebSocket-Protocol': 'v5.channel.k8s.io',
    }, this.session));
    await this.wait(() => this.headDone || this.endedAt !== null, 10_000);
    if (!this.headDone) this.status101 ??= { status: 0, detail: this.endedAt !== null ? 'the connection ended without an answer' : 'no answer within 10 s' };
    return this.status101?.status === 101;
  }

  private write(bytes: Buffer): void {
    if (!this.socket || this.endedAt !== null) return;
    this.transcript.c2s.push({ at: Date.now(), bytes });
    this.socket.write(bytes);
  }

  sendFrame(opcode: number, payload: Uint8Array = new Uint8Array(0)): void {
    this.write(encodeWsFrame({ opcode, payload, mask: true }));
  }

  sendChannel(channel: number, data: Buffer | string): void {
    const body = Buffer.concat([Buffer.from([channel]), Buffer.isBuffer(data) ? data : Buffer.from(data, 'utf8')]);
    this.sendFrame(OPCODE.binary, body);
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

  private notify(): void {
    // Waiters whose predicate still fails wait on.
    this.waiters = this.waiters.filter((w) => w());
  }

  private onEnd(): void {
    if (this.endedAt === null) {
      this.endedAt = Date.now();
      this.transcript.s2cEnded = this.endedAt;
    }
    this.waiters = this.waiters.filter((w) => w());
  }

  private onData(chunk: Buffer): void {
    this.transcript.s2c.push({ at: Date.now(), bytes: chunk });
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    if (!this.headDone) {
      const end = this.buf.indexOf('\r\n\r\n');
      if (end < 0) {
        if (this.buf.length > 64 * 1024) this.destroy();
        return;
      }
      const a = parseAnswer(this.buf);
      if (!a || a.status !== 101) {
        // Read the rest of the refusal briefly, for the diagnosis.
        if (!this.status101) {
          let text = a?.body ?? '';
          try {
            text = (JSON.parse(text) as { message?: string }).message ?? text;
          } catch {
            /* not a Status */
          }
          const body = text.replace(/\s+/g, ' ').trim().slice(0, 100);
          this.status101 = { status: a?.status ?? 0, detail: a ? `${a.status} ${a.reason}${body ? ` "${body}"` : ''}` : 'not an HTTP answer' };
          this.headDone = true;
          setTimeout(() => this.destroy(), 200);
        }
        this.notify();
        return;
      }
      this.headDone = true;
      this.openedAt = Date.now();
      this.protocol = a.headers['sec-websocket-protocol'] ?? '';
      this.status101 = { status: 101, detail: `101 ${this.protocol}` };
      this.buf = this.buf.subarray(end + 4);
    }
    if (this.status101?.status !== 101) return;
    this.parseFrames();
    this.notify();
  }

  private parseFrames(): void {
    for (;;) {
      const b = this.buf;
      if (b.length < 2) return;
      const fin = (b[0]! & 0x80) !== 0;
      const opcode = b[0]! & 0x0f;
      const masked = (b[1]! & 0x80) !== 0;
      let len = b[1]! & 0x7f;
      let off = 2;
      if (len === 126) {
        if (b.length < 4) return;
        len = b.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (b.length < 10) return;
        len = b.readUInt32BE(2) * 0x1_0000_0000 + b.readUInt32BE(6);
        off = 10;
      }
      const keyOff = off;
      if (masked) off += 4;
      if (b.length < off + len) return;
      let payload = b.subarray(off, off + len);
      if (masked) {
        payload = Buffer.from(payload);
        for (let i = 0; i < payload.length; i++) payload[i]! ^= b[keyOff + (i & 3)]!;
      }
      this.buf = b.subarray(off + len);
      this.onFrame(fin, opcode, payload);
    }
  }

  private onFrame(fin: boolean, opcode: number, payload: Buffer): void {
    if (opcode === OPCODE.pong) {
      this.pongAt ??= Date.now();
      return;
    }
    if (opcode === OPCODE.ping) {
      this.sendFrame(OPCODE.pong, payload);
      return;
    }
    if (opcode === OPCODE.close) {
      this.closeCode = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
      this.sendFrame(OPCODE.close, encodeClosePayload(1000));
      return;
    }
    if (opcode === OPCODE.continuation && this.message) this.message.parts.push(payload);
    else if (opcode === OPCODE.binary || opcode === OPCODE.text) this.message = { opcode, parts: [payload] };
    else return;
    if (!fin) return;
    const msg = Buffer.concat(this.message!.parts);
    this.message = null;
    if (msg.length === 0) return;
    const ch = msg[0]!;
    const data = msg.subarray(1);
    this.channelBytes.set(ch, (this.channelBytes.get(ch) ?? 0) + data.length);
    if (ch === 1 && this.stdout.length < MAX_TEXT) this.stdout += data.toString('utf8');
    if (ch === 3) {
      try {
        this.statusJson = JSON.parse(data.toString('utf8')) as WsExec['statusJson'];
      } catch {
        this.statusJson = { status: 'Unparsable', message: data.toString('utf8').slice(0, 100) };
      }
    }
  }

  /** Waits for the end (the server's close frame, or the connection's end). */
  async finish(timeoutMs: number): Promise<void> {
    await this.wait(() => this.closeCode !== null || this.finished, timeoutMs);
    // After the close frame, give the server a moment to end TCP, as kubectl does.
    if (this.closeCode !== null) await this.wait(() => this.finished, 1_000);
    this.destroy();
  }

  statusText(): string {
    if (!this.statusJson) return 'no status';
    return this.statusJson.status === 'Success' ? 'status Success' : `status ${this.statusJson.status ?? '?'}${this.statusJson.message ? ` (${this.statusJson.message.slice(0, 80)})` : ''}`;
  }
}

function outcome(exec: WsExec, id: string, name: string, conn: string, verdict: 'pass' | 'fail' | 'warn', detail: string, data: Record<string, unknown> = {}): CheckOutcome {
  const { findings } = diagnoseTranscript(exec.transcript, exec.session, conn);
  return { check: { id, name, verdict, detail, data: { session: exec.session, ...data } }, findings };
}

function refused(exec: WsExec, id: string, name: string, conn: string): CheckOutcome {
  return outcome(exec, id, name, conn, 'fail', `the exec upgrade failed: ${exec.status101?.detail ?? 'no answer'}`);
}

async function checkEcho(u: Upstream, pod: PodTarget, conn: string): Promise<CheckOutcome> {
  const id = 'pod-echo';
  const name = 'exec echo (WebSocket v5)';
  const exec = new WsExec(u, pod, randomUUID());
  if (!(await exec.open(['echo', 'kubewire-doctor']))) return refused(exec, id, name, conn);
  await exec.finish(10_000);
  const problems: string[] = [];
  if (exec.protocol !== 'v5.channel.k8s.io') problems.push(`protocol ${exec.protocol || 'none'}`);
  if (exec.stdout !== 'kubewire-doctor\n') problems.push(`stdout ${JSON.stringify(exec.stdout.slice(0, 60))}`);
  if (exec.statusJson?.status !== 'Success') problems.push(exec.statusText());
  if (exec.closeCode === null) problems.push('no close frame');
  const ok = problems.length === 0;
  return outcome(exec, id, name, conn, ok ? 'pass' : 'fail', ok ? `stdout "kubewire-doctor", status Success, close ${exec.closeCode}` : problems.join('; '), { closeCode: exec.closeCode });
}

async function checkBulk(u: Upstream, pod: PodTarget, conn: string): Promise<CheckOutcome> {
  const id = 'pod-1mib';
  const name = '1 MiB output';
  const exec = new WsExec(u, pod, randomUUID());
  const started = Date.now();
  if (!(await exec.open(['head', '-c', String(MIB), '/dev/zero']))) return refused(exec, id, name, conn);
  await exec.finish(20_000);
  const got = exec.channelBytes.get(1) ?? 0;
  const ms = Date.now() - started;
  const ok = got === MIB && exec.statusJson?.status === 'Success';
  const detail = ok ? `${got} bytes on stdout in ${ms} ms, status Success` : `${got} of ${MIB} bytes on stdout; ${exec.statusText()}${exec.closeCode === null ? '; no close frame' : ''}`;
  return outcome(exec, id, name, conn, ok ? 'pass' : 'fail', detail, { bytes: got, ms });
}

async function checkPing(u: Upstream, pod: PodTarget, conn: string): Promise<CheckOutcome> {
  const id = 'pod-ping';
  const name = 'WebSocket ping/pong';
  const exec = new WsExec(u, pod, randomUUID());
  if (!(await exec.open(['sleep', '1']))) return refused(exec, id, name, conn);
  const sent = Date.now();
  exec.sendFrame(OPCODE.ping, Buffer.from('kubewire-doctor'));
  const got = await exec.wait(() => exec.pongAt !== null, 5_000);
  await exec.finish(10_000);
  if (!got) return outcome(exec, id, name, conn, 'fail', 'no pong within 5 s: kubectl aborts a session whose pings go unanswered (after 61 s)');
  return outcome(exec, id, name, conn, 'pass', `pong after ${exec.pongAt! - sent} ms`, { ms: exec.pongAt! - sent });
}

async function checkResize(u: Upstream, pod: PodTarget, conn: string): Promise<CheckOutcome> {
  const id = 'pod-resize';
  const name = 'tty resize';
  const exec = new WsExec(u, pod, randomUUID());
  if (!(await exec.open(['sh', '-c', 'sleep 0.5; stty size'], { tty: true, stdin: true }))) return refused(exec, id, name, conn);
  exec.sendChannel(4, '{"Width":100,"Height":30}');
  await exec.wait(() => /\d+ \d+/.test(exec.stdout), 10_000);
  // Stdin ends with the v5 close signal, so the shell is not kept waiting.
  exec.sendChannel(255, Buffer.from([0]));
  await exec.finish(10_000);
  const size = /(\d+) (\d+)/.exec(exec.stdout);
  const ok = size !== null && size[1] === '30' && size[2] === '100';
  return outcome(exec, id, name, conn, ok ? 'pass' : 'fail', ok ? 'stty size saw "30 100" after the resize on channel 4' : `stty size printed ${JSON.stringify(exec.stdout.trim().slice(0, 60))}, expected "30 100"`);
}

async function checkIdle(u: Upstream, pod: PodTarget, seconds: number, conn: string): Promise<CheckOutcome> {
  const id = 'pod-idle';
  const name = `idle ${seconds} s`;
  const exec = new WsExec(u, pod, randomUUID());
  const sleep = seconds + 5;
  if (!(await exec.open(['sleep', String(sleep)]))) return refused(exec, id, name, conn);
  await exec.finish((sleep + 10) * 1000);
  const lasted = ((exec.endedAt ?? Date.now()) - exec.openedAt) / 1000;
  if (exec.statusJson?.status === 'Success') {
    return outcome(exec, id, name, conn, 'pass', `a session idle for ${sleep} s without pings was not cut (status Success after ${lasted.toFixed(1)} s)`, { seconds: lasted });
  }
  const cut = lasted < seconds;
  return outcome(exec, id, name, conn, cut ? 'fail' : 'warn', `the idle session ended after ${lasted.toFixed(1)} s without a status${exec.closeCode === null ? ' or close frame' : ''}: the path cuts idle connections at about ${Math.round(lasted)} s`, { seconds: lasted });
}

export async function runPodChecks(u: Upstream, pod: PodTarget, idleSeconds: number | null, nextConn: () => string): Promise<CheckOutcome[]> {
  const out: CheckOutcome[] = [];
  out.push(await checkEcho(u, pod, nextConn()));
  out.push(await checkBulk(u, pod, nextConn()));
  out.push(await checkPing(u, pod, nextConn()));
  out.push(await checkResize(u, pod, nextConn()));
  if (idleSeconds !== null) out.push(await checkIdle(u, pod, idleSeconds, nextConn()));
  return out;
}
