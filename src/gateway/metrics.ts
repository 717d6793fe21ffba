/**
 * The gateway's Prometheus metrics, in the text exposition format 0.0.4
 * (https://prometheus.io/docs/instrumenting/exposition_formats/): counters fed by the session
 * reports (session-report.ts) and identity lookups, gauges read when scraped. Labels come from
 * closed sets (verb, transport, outcome, rule ids, severity), never from user input or a
 * credential, so the series stay few and no secret can reach a scrape.
 */
import type { StoreBacklog } from '../audit/store-backlog.js';
import type { GatewayReport } from './session-report.js';

/** What the audit store says about itself (a files store is never behind: both 0). */
export interface StoreStatus {
  /** Seconds between the oldest record not yet stored and now. */
  lagSeconds(): number;
  /** Bytes waiting in the local spool for the store. */
  spoolBytes(): number;
}

/** The status of a store whose writer (on the observer's thread) last reported `backlog()`. */
export function backlogStatus(backlog: () => StoreBacklog, now: () => number = Date.now): StoreStatus {
  return {
    lagSeconds: () => {
      const oldest = backlog().oldestUnstoredAt;
      return oldest === null ? 0 : Math.max(0, now() - oldest) / 1000;
    },
    spoolBytes: () => backlog().spoolBytes,
  };
}

interface Family {
  help: string;
  type: 'counter' | 'gauge';
  series: Map<string, number>;
}

export class GatewayMetrics {
  private readonly families = new Map<string, Family>();

  constructor(private readonly store: StoreStatus, private readonly openConnections: () => number = () => 0, private readonly droppedLogLines: () => number = () => 0) {
    this.define('kubewire_sessions_total', 'counter', 'kubectl commands (sessions) that settled, by verb, transport and outcome.');
    this.define('kubewire_findings_total', 'counter', 'Diagnosis findings, by rule and severity.');
    this.define('kubewire_bytes_total', 'counter', 'Bytes relayed by settled sessions, by direction (c2s: client to server).');
    this.define('kubewire_fallbacks_total', 'counter', 'Sessions in which kubectl fell back from WebSocket to SPDY.');
    this.define('kubewire_proxy_errors_total', 'counter', 'Errors kubewire answered itself (upstream unreachable, audit refusals), by code.');
    this.define('kubewire_identity_lookups_total', 'counter', 'Who-is-this lookups (SelfSubjectReview or TokenReview), by result.');
  }

  report(r: GatewayReport): void {
    switch (r.kind) {
      case 'session':
        this.add('kubewire_sessions_total', { verb: r.verb, transport: r.transport, outcome: r.outcome });
        this.add('kubewire_bytes_total', { direction: 'c2s' }, r.bytes.c2s);
        this.add('kubewire_bytes_total', { direction: 's2c' }, r.bytes.s2c);
        if (r.fallback) this.add('kubewire_fallbacks_total', {});
        return;
      case 'finding':
        this.add('kubewire_findings_total', { rule: r.rule, severity: r.severity });
        return;
      case 'error':
        this.add('kubewire_proxy_errors_total', { code: r.code });
        return;
    }
  }

  identityLookup(result: string): void {
    this.add('kubewire_identity_lookups_total', { result });
  }

  /** The exposition text. */
  text(): string {
    const out: string[] = [];
    for (const [name, f] of this.families) {
      out.push(`# HELP ${name} ${f.help}`, `# TYPE ${name} ${f.type}`);
      for (const [labels, value] of f.series) out.push(`${name}${labels} ${value}`);
    }
    const gauge = (name: string, help: string, value: number): void => void out.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`, `${name} ${value}`);
    gauge('kubewire_store_lag_seconds', 'Seconds since the oldest record not yet in the audit store was made (0 for a files store).', this.store.lagSeconds());
    gauge('kubewire_store_spool_bytes', 'Bytes in the local spool waiting for the audit store (0 for a files store).', this.store.spoolBytes());
    gauge('kubewire_open_connections', 'Client connections open now.', this.openConnections());
    out.push('# HELP kubewire_log_dropped_lines_total JSON log lines dropped because stdout was not read and more than --log-buffer waited.', '# TYPE kubewire_log_dropped_lines_total counter', `kubewire_log_dropped_lines_total ${this.droppedLogLines()}`);
    return out.join('\n') + '\n';
  }

  private define(name: string, type: Family['type'], help: string): void {
    this.families.set(name, { help, type, series: new Map() });
  }

  private add(name: string, labels: Record<string, string>, by = 1): void {
    const series = this.families.get(name)!.series;
    const key = labelText(labels);
    series.set(key, (series.get(key) ?? 0) + by);
  }
}

/** `{a="x",b="y"}`, values escaped as the format asks (backslash, double quote, line feed). */
function labelText(labels: Record<string, string>): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}
