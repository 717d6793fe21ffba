/**
 * The demo containers' main processes, for `kubectl attach` and `kubectl logs`. Each
 * container of a Running pod has one in-process "process" that prints a tick line every
 * second, echoes the lines written to its stdin, and keeps the last lines as its log:
 *
 *   [web/app] tick 12 2026-11-21T10:57:03Z
 *   [web/app] echo: hello
 *
 * Nothing here spawns a child process; stop() clears every timer so the host can exit.
 */
import { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import type { DemoPod } from './contracts.js';

/** Where an attached client receives the process's output. */
export interface AttachSink {
  /** Whole lines, each ending in `\n`. */
  output(data: Buffer): void;
  /** The process ended (the hub stopped); no more output follows. */
  end(): void;
}

/** An attached client's side of the process. */
export interface AttachHandle {
  /** Bytes from the client's stdin; each complete line is echoed. */
  write(data: Buffer): void;
  /** The client closed stdin: a pending partial line is echoed as a line. */
  endInput(): void;
  /** Stop receiving output. The process keeps running. */
  detach(): void;
}

export interface LogOptions {
  follow?: boolean;
  tailLines?: number;
  sinceSeconds?: number;
  timestamps?: boolean;
}

export interface AttachHubOptions {
  /** Milliseconds between tick lines; tests shorten it. */
  tickMs?: number;
  /** Log lines kept per container. */
  maxLines?: number;
  now?: () => Date;
}

/** Errors with the text the API server or kubelet would give; `code` is stable. */
export class ContainerUnavailableError extends Error {
  constructor(
    readonly code: 'KW_ERR_DEMO_NO_CONTAINER' | 'KW_ERR_DEMO_CONTAINER_WAITING' | 'KW_ERR_DEMO_CONTAINER_COMPLETED',
    message: string,
  ) {
    super(message);
  }
}

interface LogEntry {
  time: Date;
  text: string;
}

interface LogFollower {
  push(entry: LogEntry): void;
  end(): void;
}

/** Longest stdin line kept before it is echoed anyway. */
const MAX_INPUT_LINE = 64 * 1024;

class DemoProcess {
  readonly lines: LogEntry[] = [];
  readonly sinks = new Set<AttachSink>();
  readonly followers = new Set<LogFollower>();
  private timer: NodeJS.Timeout | null = null;
  private ticks = 0;

  constructor(
    readonly label: string,
    readonly live: boolean,
    private readonly maxLines: number,
    private readonly now: () => Date,
  ) {}

  get running(): boolean {
    return this.timer !== null;
  }

  emit(text: string, time = this.now()): void {
    const entry = { time, text: `[${this.label}] ${text}` };
    this.lines.push(entry);
    if (this.lines.length > this.maxLines) this.lines.splice(0, this.lines.length - this.maxLines);
    const data = Buffer.from(`${entry.text}\n`);
    for (const sink of this.sinks) {
      try {
        sink.output(data);
      } catch {
        // A broken transport must not stop the others or the timer; it is detached.
        this.sinks.delete(sink);
      }
    }
    for (const follower of this.followers) follower.push(entry);
  }

  start(tickMs: number): void {
    if (!this.live || this.timer) return;
    this.timer = setInterval(() => {
      this.ticks += 1;
      const now = this.now();
      this.emit(`tick ${this.ticks} ${now.toISOString().replace(/\.\d+Z$/, 'Z')}`, now);
    }, tickMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    const sinks = [...this.sinks];
    this.sinks.clear();
    for (const sink of sinks) {
      try {
        sink.end();
      } catch {
        // Ending one transport must not keep the others attached.
      }
    }
    const followers = [...this.followers];
    this.followers.clear();
    for (const follower of followers) follower.end();
  }
}

export class AttachHub {
  private readonly processes = new Map<string, DemoProcess>();
  private readonly tickMs: number;
  private readonly maxLines: number;
  private readonly now: () => Date;
  private started = false;

  constructor(
    private readonly pods: Iterable<DemoPod> = [],
    options: AttachHubOptions = {},
  ) {
    this.tickMs = options.tickMs ?? 1000;
    this.maxLines = options.maxLines ?? 1000;
    this.now = options.now ?? (() => new Date());
  }

  /** Starts the process of every container of every Running pod. */
  start(): void {
    this.started = true;
    for (const pod of this.pods) {
      if (pod.phase !== 'Running') continue;
      for (const c of pod.containers) this.processFor(pod, c.name);
    }
    for (const proc of this.processes.values()) proc.start(this.tickMs);
  }

  /** Stops every timer, ends every attached client and every followed log. */
  stop(): void {
    this.started = false;
    for (const proc of this.processes.values()) proc.stop();
  }

  /**
   * Joins the container's process: `sink` gets its output from now on. Throws a
   * ContainerUnavailableError for an unknown container or a pod that is not Running.
   */
  attach(pod: DemoPod, container: string, sink: AttachSink): AttachHandle {
    const proc = this.processFor(pod, container);
    if (!proc.live) {
      throw new ContainerUnavailableError(
        'KW_ERR_DEMO_CONTAINER_COMPLETED',
        `cannot attach a container in a completed pod; current phase is ${pod.phase}`,
      );
    }
    proc.sinks.add(sink);
    const input = new LineAssembler((line) => proc.emit(`echo: ${line}`));
    return {
      write: (data) => input.write(data),
      endInput: () => input.end(),
      detach: () => {
        proc.sinks.delete(sink);
      },
    };
  }

  /**
   * The container's log as `kubectl logs` reads it: the kept lines (after sinceSeconds and
   * tailLines), then, with follow, new lines until the caller destroys the stream or the hub
   * stops.
   */
  logs(pod: DemoPod, container: string, options: LogOptions = {}): Readable {
    const proc = this.processFor(pod, container);
    const format = (e: LogEntry): string => (options.timestamps ? `${e.time.toISOString()} ${e.text}\n` : `${e.text}\n`);
    let entries = proc.lines;
    if (typeof options.sinceSeconds === 'number') {
      const since = this.now().getTime() - options.sinceSeconds * 1000;
      entries = entries.filter((e) => e.time.getTime() >= since);
    }
    if (typeof options.tailLines === 'number' && options.tailLines >= 0) {
      entries = options.tailLines === 0 ? [] : entries.slice(-options.tailLines);
    }
    const stream = new Readable({ read() {} });
    if (entries.length > 0) stream.push(entries.map(format).join(''));
    if (!options.follow || !proc.running) {
      stream.push(null);
      return stream;
    }
    const follower: LogFollower = {
      push: (e) => {
        stream.push(format(e));
      },
      end: () => {
        stream.push(null);
      },
    };
    proc.followers.add(follower);
    stream.once('close', () => proc.followers.delete(follower));
    return stream;
  }

  private processFor(pod: DemoPod, container: string): DemoProcess {
    if (!pod.containers.some((c) => c.name === container)) {
      throw new ContainerUnavailableError('KW_ERR_DEMO_NO_CONTAINER', `container ${container} is not valid for pod ${pod.name}`);
    }
    const key = `${pod.namespace}/${pod.name}/${container}`;
    const existing = this.processes.get(key);
    if (existing) return existing;
    if (pod.phase === 'Pending') {
      throw new ContainerUnavailableError(
        'KW_ERR_DEMO_CONTAINER_WAITING',
        `container "${container}" in pod "${pod.name}" is waiting to start: ContainerCreating`,
      );
    }
    const live = pod.phase === 'Running';
    const proc = new DemoProcess(`${pod.name}/${container}`, live, this.maxLines, this.now);
    if (live) {
      proc.emit(`demo process started; try: kubectl attach -it ${pod.name} -c ${container}`);
      if (this.started) proc.start(this.tickMs);
    } else {
      const t = pod.createdAt.getTime();
      proc.emit('demo job started', new Date(t + 1000));
      proc.emit('processed 3 items', new Date(t + 2000));
      proc.emit('done, exiting with code 0', new Date(t + 3000));
    }
    this.processes.set(key, proc);
    return proc;
  }
}

/** Turns stdin bytes into lines: `\n`, `\r` or `\r\n` end a line; DEL and BS erase a character. */
class LineAssembler {
  private readonly decoder = new StringDecoder('utf8');
  private line = '';
  private afterCR = false;

  constructor(private readonly onLine: (line: string) => void) {}

  write(data: Buffer): void {
    for (const ch of this.decoder.write(data)) {
      if (ch === '\n' && this.afterCR) {
        this.afterCR = false;
        continue;
      }
      this.afterCR = ch === '\r';
      if (ch === '\r' || ch === '\n') {
        this.flush();
      } else if (ch === '\x7f' || ch === '\b') {
        this.line = this.line.slice(0, -1);
      } else {
        this.line += ch;
        if (this.line.length >= MAX_INPUT_LINE) this.flush();
      }
    }
  }

  end(): void {
    this.line += this.decoder.end();
    if (this.line !== '') this.flush();
  }

  private flush(): void {
    const line = this.line;
    this.line = '';
    this.onLine(line);
  }
}
