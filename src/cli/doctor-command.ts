/**
 * `kubewire doctor`: actively probes the path to the cluster of a kubeconfig, one row per check,
 * then the findings of the diagnosis rules over what the probes exchanged.
 */
import { randomBytes } from 'node:crypto';
import type { DiagnosedFinding } from '../diagnose/engine.js';
import { runDoctor, type DoctorReport } from '../doctor/doctor.js';
import { CliError, ExitCode } from '../io/errors.js';
import type { Output } from '../io/output.js';
import { loadUpstream } from '../proxy/kubeconfig-upstream.js';

export interface DoctorOptions {
  kubeconfig?: string;
  context?: string;
  pod?: string;
  container?: string;
  idle?: string | number;
  json?: boolean;
  env?: NodeJS.ProcessEnv;
}

export async function runDoctorCommand(opts: DoctorOptions, out: Output): Promise<number> {
  let pod: { namespace: string; name: string } | null = null;
  if (opts.pod !== undefined) {
    const m = /^(?:([a-z0-9]([-a-z0-9]*[a-z0-9])?)\/)?([a-z0-9]([-.a-z0-9]*[a-z0-9])?)$/.exec(opts.pod);
    if (!m) throw new CliError('KW_ERR_DOCTOR_POD', `--pod expects NAMESPACE/NAME (or NAME), not "${opts.pod}"`);
    pod = { namespace: m[1] ?? '', name: m[3]! };
  }
  if (opts.container !== undefined && !pod) throw new CliError('KW_ERR_DOCTOR_USAGE', '--container needs --pod');
  let idle: number | null = null;
  if (opts.idle !== undefined) {
    idle = Number(opts.idle);
    if (!Number.isFinite(idle) || idle <= 0) throw new CliError('KW_ERR_DOCTOR_USAGE', `--idle expects a number of seconds, not "${opts.idle}"`);
    if (!pod) throw new CliError('KW_ERR_DOCTOR_USAGE', '--idle needs --pod');
  }
  const upstream = await loadUpstream({
    ...(opts.kubeconfig !== undefined ? { kubeconfig: opts.kubeconfig } : {}),
    ...(opts.context !== undefined ? { context: opts.context } : {}),
    ...(opts.env ? { env: opts.env } : {}),
  });
  const namespace = upstream.namespace || 'default';
  const report = await runDoctor(upstream, {
    namespace,
    probePod: `kubewire-doctor-probe-${randomBytes(4).toString('hex')}`,
    pod: pod ? { namespace: pod.namespace || namespace, name: pod.name, container: opts.container ?? null } : null,
    idleSeconds: idle,
    ...(opts.kubeconfig !== undefined ? { kubeconfig: opts.kubeconfig } : {}),
    ...(opts.context !== undefined ? { context: opts.context } : {}),
  });
  if (opts.json) out.line(JSON.stringify(report));
  else printReport(report, upstream.describe(), out);
  return exitCodeOf(report);
}

/** 2 when the kubeconfig's credentials could not be had (as for a kubeconfig error), 1 when a check failed or a finding is an error. */
export function exitCodeOf(report: DoctorReport): number {
  if (report.checks.some((c) => c.id === 'rest' && c.verdict === 'fail' && c.data?.['layer'] === 'credentials')) return ExitCode.Usage;
  const failed = report.checks.some((c) => c.verdict === 'fail') || report.findings.some((f) => f.severity === 'error');
  return failed ? ExitCode.Failure : ExitCode.Ok;
}

const GRAVITY = { info: 0, warn: 1, error: 2 } as const;

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

export function printReport(report: DoctorReport, upstream: string, out: Output): void {
  out.line(`kubewire doctor: ${upstream}`);
  const w = Math.max(5, ...report.checks.map((c) => c.name.length));
  out.line(`${pad('CHECK', w)}  VERDICT  DETAIL`);
  for (const c of report.checks) out.line(`${pad(c.name, w)}  ${pad(c.verdict.toUpperCase(), 7)}  ${c.detail}`);
  out.line('');
  if (report.findings.length === 0) {
    out.line('FINDINGS: none');
    return;
  }
  // The same finding from several checks (the RBAC review and the refused upgrade, say) is
  // printed once, with the checks it came from and the gravest severity.
  const groups = new Map<string, { f: DiagnosedFinding; checks: string[] }>();
  for (const f of report.findings) {
    const key = `${f.rule}|${f.title}|${f.fix}`;
    const g = groups.get(key);
    if (!g) groups.set(key, { f, checks: [f.check] });
    else {
      g.checks.push(f.check);
      if (GRAVITY[f.severity] > GRAVITY[g.f.severity]) g.f = f;
    }
  }
  out.line(`FINDINGS (${report.findings.length})`);
  for (const { f, checks } of groups.values()) {
    out.line(`! ${f.severity} ${f.rule}: ${f.title} [${checks.join(', ')}]`);
    out.line(`    fix: ${f.fix}`);
  }
}
