/**
 * The gateway's log: one JSON object per line on stdout, for the cluster's log pipeline
 * (`ts`, `level`, `msg`, then fields). Session lines name the user, never a credential; lines
 * from the shared proxy code (warnings, audit failures) arrive as text and become `warn` lines.
 *
 * stdout is written on the observer's worker thread (src/io/fd-line-writer.ts), never on the
 * relay's: the session, finding and error lines are made there from the reports, and the few
 * lines of the relay's thread (start, stop, its warnings) travel there through LogRoute, in
 * order with the relay's events. A log pipeline that stops reading costs at most
 * `--log-buffer` of memory; past it lines are dropped, counted, and said in one `warn` line.
 */
import type { Output } from '../io/output.js';
import type { GatewayReport } from './session-report.js';

/** One log line: `ts`, `level`, `msg`, then the fields. */
export function jsonLine(level: string, msg: string, fields: Record<string, unknown>): string {
  return JSON.stringify({ ts: new Date().toISOString(), level, msg, ...fields });
}

/** The line written once stdout caught up after `count` lines were dropped. */
export function droppedLinesLine(count: number): string {
  return jsonLine('warn', 'log lines dropped', { dropped: count, reason: 'stdout was not read fast enough and more than --log-buffer waited' });
}

export class JsonLog implements Output {
  constructor(private readonly out: Output) {}

  info(msg: string, fields: Record<string, unknown> = {}): void {
    this.write('info', msg, fields);
  }

  /** A line of text from the shared code (`kubewire: …`). */
  line(text: string): void {
    this.write('warn', text.replace(/^kubewire: /, ''), {});
  }

  report(r: GatewayReport): void {
    switch (r.kind) {
      case 'session': {
        const { kind: _kind, user, ...rest } = r;
        this.write(r.outcome === 'ok' ? 'info' : 'warn', 'session', { user: user?.username ?? null, uid: user?.uid ?? null, groups: user?.groups ?? [], ...rest });
        return;
      }
      case 'finding': {
        const { kind: _kind, ...rest } = r;
        this.write(r.severity === 'error' ? 'error' : r.severity === 'warn' ? 'warn' : 'info', 'finding', rest);
        return;
      }
      case 'error': {
        const { kind: _kind, ...rest } = r;
        this.write('error', 'proxy error', rest);
        return;
      }
    }
  }

  private write(level: string, msg: string, fields: Record<string, unknown>): void {
    this.out.line(jsonLine(level, msg, fields));
  }
}

/**
 * Where the relay thread's finished lines go: to the observer's worker, which writes stdout,
 * while it takes them (`log` says false before it started, after it stopped or died), else
 * straight to `out`.
 */
export class LogRoute implements Output {
  private via: { log(line: string): boolean } | null = null;

  constructor(private readonly out: Output) {}

  through(observer: { log(line: string): boolean }): void {
    this.via = observer;
  }

  line(text: string): void {
    if (!this.via?.log(text)) this.out.line(text);
  }
}
