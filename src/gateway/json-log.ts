/**
 * The gateway's log: one JSON object per line on stdout, for the cluster's log pipeline
 * (`ts`, `level`, `msg`, then fields). Session lines name the user, never a credential; lines
 * from the shared proxy code (warnings, audit failures) arrive as text and become `warn` lines.
 */
import type { Output } from '../io/output.js';
import type { GatewayReport } from './session-report.js';

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
    this.out.line(JSON.stringify({ ts: new Date().toISOString(), level, msg, ...fields }));
  }
}
