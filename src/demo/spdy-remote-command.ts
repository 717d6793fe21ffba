/**
 * exec and attach over SPDY/3.1, as the kubelet serves them (protocol.md A §2.1, §2.4; B §4).
 *
 * kubectl opens the streams one by one, each named by its `streamtype` header: error, stdin
 * (-i), stdout, stderr (not with a tty), resize (tty, v3 and later). Once all the request needs
 * are there the command starts; stdin and resize are read from the client, stdout and stderr
 * written to it. At the end the server FINs stdout and stderr, writes the status on the error
 * stream, FINs it and closes the connection (RST for the rest, GOAWAY, end of TCP). With v4 the
 * status is the JSON of a metav1.Status without kind and apiVersion:
 *
 *   {"metadata":{},"status":"Success"}
 *
 * v1 to v3 write nothing on success and the status message as plain text on failure.
 */
import { StringDecoder } from 'node:string_decoder';
import { JsonObjectStream, terminalSize } from '../codec/json-object-stream.js';
import { MAX_RESIZE_JSON_BYTES } from '../codec/limits.js';
import type { CommandOutput, CommandRequest, K8sStatus, RunningCommand, StartCommand } from './contracts.js';
import type { SpdyServerConnection, SpdyServerStream } from './spdy-server-connection.js';

/** What the kubelet accepts over SPDY, best first (SupportedStreamingProtocols); never v5. */
export const SPDY_REMOTE_COMMAND_PROTOCOLS = ['v4.channel.k8s.io', 'v3.channel.k8s.io', 'v2.channel.k8s.io', 'channel.k8s.io'];

/** The kubelet's stream creation timeout (KL server.go). */
export const DEFAULT_STREAM_CREATION_TIMEOUT_MS = 30_000;

export const STREAM_TIMEOUT_MESSAGE = 'timed out waiting for client to create streams';

export type SpdyNegotiation =
  | { ok: true; protocol: string }
  | { ok: false; status: 400 | 403; body: string; headers: Record<string, string> };

export interface SpdyRemoteCommandOptions {
  /** Read when the command ends: true drops the status (gateway profile `drop-status`). */
  dropStatus: () => boolean;
  /** How long the client has to create every stream the request needs. */
  streamTimeoutMs?: number;
}

/** Headers Go's http.Error sets on a refusal. */
const PLAIN_TEXT_HEADERS = { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' };

/**
 * AM httpstream `Handshake`: the first protocol in the CLIENT's order that the server supports.
 * Each offered value may itself be a comma-separated list (commaSeparatedHeaderValues). The
 * refusal bodies are Go's: lists print as `[a b]`, and http.Error ends the body with a newline.
 */
export function negotiateSpdyProtocol(offered: string[]): SpdyNegotiation {
  const client = offered.flatMap((value) => value.split(',')).map((p) => p.trim()).filter((p) => p.length > 0);
  if (client.length === 0) {
    return { ok: false, status: 400, body: 'unable to upgrade: X-Stream-Protocol-Version is required\n', headers: { ...PLAIN_TEXT_HEADERS } };
  }
  const protocol = client.find((p) => SPDY_REMOTE_COMMAND_PROTOCOLS.includes(p));
  if (protocol !== undefined) return { ok: true, protocol };
  const server = SPDY_REMOTE_COMMAND_PROTOCOLS;
  return {
    ok: false,
    status: 403,
    body: `unable to upgrade: unable to negotiate protocol: client supports [${client.join(' ')}], server accepts [${server.join(' ')}]\n`,
    // Go adds one header line per protocol; one comma-joined line means the same in HTTP.
    headers: { ...PLAIN_TEXT_HEADERS, 'X-Accepted-Stream-Protocol-Versions': server.join(', ') },
  };
}

/** v4 (and v5, which a server could pick and kubectl reads like v4) carry JSON statuses. */
function jsonStatus(protocol: string): boolean {
  return protocol === 'v4.channel.k8s.io' || protocol === 'v5.channel.k8s.io';
}

/** v2 and v1 have no resize stream (the handler's supportsTerminalResizing). */
function supportsResize(protocol: string): boolean {
  return protocol === 'v3.channel.k8s.io' || jsonStatus(protocol);
}

/**
 * The bytes the kubelet writes on the error stream for `status` (v4WriteStatusFunc,
 * v1WriteStatusFunc). Empty means nothing is written.
 */
export function encodeSpdyStatus(protocol: string, status: K8sStatus): Buffer {
  if (jsonStatus(protocol)) return Buffer.from(marshalStatus(status), 'utf8');
  if (status.status === 'Success') return Buffer.alloc(0);
  return Buffer.from(status.message ?? '', 'utf8');
}

/**
 * Go's json.Marshal of metav1.Status as the kubelet builds it: TypeMeta left empty (so no kind
 * or apiVersion), fields in struct order, omitempty honoured, `metadata` always present.
 */
export function marshalStatus(status: K8sStatus): string {
  const out: Record<string, unknown> = { metadata: {} };
  if (status.status) out['status'] = status.status;
  if (status.message) out['message'] = status.message;
  if (status.reason) out['reason'] = status.reason;
  if (status.details !== undefined) {
    const d = status.details;
    const details: Record<string, unknown> = {};
    if (d.name) details['name'] = d.name;
    if (d.kind) details['kind'] = d.kind;
    if (d.causes !== undefined && d.causes.length > 0) {
      details['causes'] = d.causes.map((c) => {
        const cause: Record<string, string> = {};
        if (c.reason) cause['reason'] = c.reason;
        if (c.message) cause['message'] = c.message;
        return cause;
      });
    }
    out['details'] = details;
  }
  if (status.code) out['code'] = status.code;
  return goJson(out);
}

/** encoding/json escapes <, >, & and U+2028/U+2029 inside strings; JSON.stringify does not. */
function goJson(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

type StreamType = 'error' | 'stdin' | 'stdout' | 'stderr' | 'resize';
const STREAM_TYPES: readonly string[] = ['error', 'stdin', 'stdout', 'stderr', 'resize'];

/** Serves one exec/attach session on an upgraded connection; returns at once. */
export function serveSpdyRemoteCommand(
  conn: SpdyServerConnection,
  protocol: string,
  req: CommandRequest,
  startCommand: StartCommand,
  options: SpdyRemoteCommandOptions,
): void {
  new SpdyRemoteCommandSession(conn, protocol, req, startCommand, options).serve();
}

class SpdyRemoteCommandSession {
  private readonly streams: Partial<Record<StreamType, SpdyServerStream>> = {};
  private readonly required: StreamType[];
  private state: 'waiting' | 'running' | 'done' = 'waiting';
  private cmd: RunningCommand | null = null;
  /** Client input that arrived before the command started. */
  private early: ((cmd: RunningCommand) => void)[] = [];
  private timer: NodeJS.Timeout | null = null;
  private stdinEnded = false;
  private readonly resizeText = new StringDecoder('utf8');
  private readonly resizeJson = new JsonObjectStream(MAX_RESIZE_JSON_BYTES);
  private resizeBroken = false;

  constructor(
    private readonly conn: SpdyServerConnection,
    private readonly protocol: string,
    private readonly req: CommandRequest,
    private readonly startCommand: StartCommand,
    private readonly options: SpdyRemoteCommandOptions,
  ) {
    // KL remotecommand/httpstream.go: stderr is dropped with a tty; resize exists from v3 on.
    const stderr = req.stderr && !req.tty;
    this.required = ['error'];
    if (req.stdin) this.required.push('stdin');
    if (req.stdout) this.required.push('stdout');
    if (stderr) this.required.push('stderr');
    if (req.tty && supportsResize(protocol)) this.required.push('resize');
  }

  serve(): void {
    this.conn.on('stream', (stream: SpdyServerStream) => this.onStream(stream));
    this.conn.on('goaway', () => this.abort());
    this.conn.on('close', () => this.abort());
    const timeout = this.options.streamTimeoutMs ?? DEFAULT_STREAM_CREATION_TIMEOUT_MS;
    this.timer = setTimeout(() => this.streamsTimedOut(), timeout);
    this.timer.unref();
  }

  private onStream(stream: SpdyServerStream): void {
    const type = stream.header('streamtype') ?? '';
    if (!STREAM_TYPES.includes(type)) return; // the kubelet logs `unexpected stream type` and carries on
    if (type === 'resize' && !supportsResize(this.protocol)) return;
    // As in the kubelet, a second stream of a type replaces the first.
    this.streams[type as StreamType] = stream;
    switch (type) {
      case 'stdin':
        stream.on('data', (data: Buffer) => this.deliver((cmd) => cmd.stdin(data)));
        stream.on('end', () => this.endStdin());
        stream.on('reset', () => this.endStdin());
        break;
      case 'resize':
        stream.on('data', (data: Buffer) => this.onResizeData(data));
        break;
      default:
        // Output streams and the error stream are never reset by a client that still listens.
        stream.on('reset', () => this.abort());
    }
    if (this.state === 'waiting' && this.required.every((t) => this.streams[t] !== undefined)) this.start();
  }

  private start(): void {
    this.clearTimer();
    this.state = 'running';
    const out: CommandOutput = {
      stdout: (data) => this.writeOutput(this.streams.stdout, data),
      stderr: (data) => this.writeOutput(this.streams.stderr, data),
      onDrain: (listener) => this.conn.onDrain(listener),
      finish: (status) => this.finish(status),
    };
    let cmd: RunningCommand;
    try {
      cmd = this.startCommand(this.req, out);
    } catch (err) {
      const message = `Internal error occurred: ${err instanceof Error ? err.message : String(err)}`;
      this.finish({ metadata: {}, status: 'Failure', message, reason: 'InternalError', code: 500 });
      return;
    }
    const early = this.early;
    this.early = [];
    if (this.state !== 'running') return; // finished (or the client left) while starting
    this.cmd = cmd;
    for (const event of early) event(cmd);
  }

  private writeOutput(stream: SpdyServerStream | undefined, data: Buffer): boolean {
    if (this.state !== 'running') return false;
    // Output nobody asked for is dropped, as by a runtime given no such stream.
    if (stream === undefined) return true;
    return stream.write(data);
  }

  private finish(status: K8sStatus): void {
    if (this.state === 'done') return;
    this.state = 'done';
    this.clearTimer();
    this.streams.stdout?.end();
    this.streams.stderr?.end();
    const error = this.streams.error;
    if (error !== undefined) {
      if (!this.options.dropStatus()) {
        const bytes = encodeSpdyStatus(this.protocol, status);
        if (bytes.length > 0) error.write(bytes);
      }
      error.end();
    }
    this.conn.close();
  }

  /** The kubelet only logs this; writing it too lets kubectl say why instead of waiting 30 s. */
  private streamsTimedOut(): void {
    if (this.state !== 'waiting') return;
    this.state = 'done';
    const error = this.streams.error;
    if (error !== undefined) {
      const bytes = encodeSpdyStatus(this.protocol, { metadata: {}, status: 'Failure', message: STREAM_TIMEOUT_MESSAGE });
      if (bytes.length > 0) error.write(bytes);
      error.end();
    }
    this.conn.close();
  }

  /** The client went away (socket closed, GOAWAY, an output stream reset). */
  private abort(): void {
    if (this.state === 'done') return;
    this.state = 'done';
    this.clearTimer();
    this.early = [];
    const cmd = this.cmd;
    this.cmd = null;
    cmd?.abort();
    this.conn.close();
  }

  private endStdin(): void {
    if (this.stdinEnded) return;
    this.stdinEnded = true;
    this.deliver((cmd) => cmd.stdinEnd());
  }

  /** Go's json.Decoder over the resize stream: objects may span DATA frames or share one. */
  private onResizeData(data: Buffer): void {
    if (this.resizeBroken) return;
    for (const item of this.resizeJson.push(this.resizeText.write(data))) {
      if (!item.ok) {
        // handleResizeEvents stops at the first decode error; so do we.
        this.resizeBroken = true;
        return;
      }
      const size = terminalSize(item.value);
      if (size !== null) this.deliver((cmd) => cmd.resize(size.width, size.height));
    }
  }

  private deliver(event: (cmd: RunningCommand) => void): void {
    if (this.cmd !== null && this.state === 'running') event(this.cmd);
    else if (this.state !== 'done') this.early.push(event);
  }

  private clearTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}
