/**
 * Small demo pods and a recording CommandOutput for the demo-cluster tests.
 */
import type { CommandOutput, DemoPod, K8sStatus } from '../../src/demo/contracts.js';

export function fakePod(overrides: Partial<DemoPod> = {}): DemoPod {
  return {
    namespace: 'default',
    name: 'web',
    uid: '6f1c1f4e-2b7a-4c55-9c1e-0c0ffee00001',
    phase: 'Running',
    containers: [{ name: 'app', image: 'nginx:1.27-alpine' }],
    ports: [
      { port: 80, protocol: 'http', name: 'http' },
      { port: 7, protocol: 'echo', name: 'echo' },
    ],
    labels: { app: 'web' },
    createdAt: new Date('2026-11-21T10:00:00Z'),
    nodeName: 'kubewire-node',
    podIP: '10.244.0.11',
    ...overrides,
  };
}

export interface RecordingOutputOptions {
  /** stdout/stderr return false once this many bytes are unacknowledged. */
  highWaterMark?: number;
  /**
   * With a highWaterMark: this long after a write was refused, acknowledge everything and fire
   * drain (ms). Only a refusal starts the wait, so however fast or slow the command writes, an
   * output larger than the mark is refused at least once.
   */
  drainEveryMs?: number;
}

/**
 * A CommandOutput that records what it is given. With a highWaterMark it plays a slow
 * transport: bytes stay "in flight" until the next drain tick.
 */
export class RecordingOutput implements CommandOutput {
  readonly stdoutChunks: Buffer[] = [];
  readonly stderrChunks: Buffer[] = [];
  readonly statuses: K8sStatus[] = [];
  inFlight = 0;
  maxInFlight = 0;
  falseReturns = 0;
  readonly finished: Promise<K8sStatus>;
  private resolveFinished!: (s: K8sStatus) => void;
  private drainListeners: (() => void)[] = [];
  private drainTimer: NodeJS.Timeout | null = null;

  constructor(private readonly options: RecordingOutputOptions = {}) {
    this.finished = new Promise((resolve) => (this.resolveFinished = resolve));
  }

  stdout(data: Buffer): boolean {
    this.stdoutChunks.push(Buffer.from(data));
    return this.account(data.length);
  }

  stderr(data: Buffer): boolean {
    this.stderrChunks.push(Buffer.from(data));
    return this.account(data.length);
  }

  onDrain(listener: () => void): void {
    this.drainListeners.push(listener);
  }

  finish(status: K8sStatus): void {
    this.statuses.push(status);
    this.stopDraining();
    this.resolveFinished(status);
  }

  get stdoutText(): string {
    return Buffer.concat(this.stdoutChunks).toString('utf8');
  }

  get stderrText(): string {
    return Buffer.concat(this.stderrChunks).toString('utf8');
  }

  get stdoutBytes(): number {
    return this.stdoutChunks.reduce((n, c) => n + c.length, 0);
  }

  /** Resolves once stdout contains `text`; rejects after `ms`. */
  async waitForStdout(text: string | RegExp, ms = 3000): Promise<string> {
    const deadline = Date.now() + ms;
    for (;;) {
      const s = this.stdoutText;
      if (typeof text === 'string' ? s.includes(text) : text.test(s)) return s;
      if (Date.now() > deadline) throw new Error(`stdout never contained ${String(text)}; got ${JSON.stringify(s.slice(-500))}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  stopDraining(): void {
    if (this.drainTimer) clearTimeout(this.drainTimer);
    this.drainTimer = null;
  }

  private account(n: number): boolean {
    const hwm = this.options.highWaterMark;
    if (hwm === undefined) return true;
    this.inFlight += n;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    if (this.inFlight < hwm) return true;
    this.falseReturns += 1;
    this.drainTimer ??= setTimeout(() => {
      this.drainTimer = null;
      this.inFlight = 0;
      for (const l of this.drainListeners) l();
    }, this.options.drainEveryMs ?? 5);
    return false;
  }
}

/** Polls `check` every 10 ms until it returns true; fails after `ms`. */
export async function waitUntil(check: () => boolean, ms = 3000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
