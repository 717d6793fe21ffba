/**
 * The doctor's run: the path checks in order, then (with a pod) the pod checks; the findings of
 * every check, each under its own session id.
 */
import { randomUUID } from 'node:crypto';
import type { DiagnosedFinding } from '../diagnose/engine.js';
import type { Upstream } from '../proxy/upstream.js';
import { checkRest, checkUpgrade, UPGRADE_KINDS, type CheckOutcome, type CheckResult } from './checks.js';
import { runPodChecks } from './pod-checks.js';

export interface DoctorPlan {
  namespace: string;
  /** A pod name that does not exist, for the upgrade probes. */
  probePod: string;
  pod: { namespace: string; name: string; container: string | null } | null;
  idleSeconds: number | null;
}

export interface DoctorReport {
  upstream: { server: string; context: string; namespace: string };
  checks: CheckResult[];
  findings: (DiagnosedFinding & { check: string })[];
}

export async function runDoctor(upstream: Upstream, plan: DoctorPlan): Promise<DoctorReport> {
  // Upstream dials are unref'd until they connect (so that they never keep a stopping proxy
  // alive); the doctor has nothing else running, so it holds the process open itself.
  const keepAlive = setInterval(() => {}, 60_000);
  try {
    return await probeAll(upstream, plan);
  } finally {
    clearInterval(keepAlive);
  }
}

async function probeAll(upstream: Upstream, plan: DoctorPlan): Promise<DoctorReport> {
  const outcomes: CheckOutcome[] = [];
  const rest = await checkRest(upstream);
  outcomes.push(rest);
  const version = /^v?(\d+)\.(\d+)/.exec(String(rest.check.data?.['serverVersion'] ?? ''));
  const serverMinor = version && version[1] === '1' ? Number(version[2]) : null;
  let n = 0;
  // With --pod the upgrades go to that pod: they then pass the API server's pod lookup and meet
  // whatever refuses them behind it (an old API server, a kubelet); a 101 is hung up at once.
  const target = plan.pod ? { namespace: plan.pod.namespace, name: plan.pod.name } : { namespace: plan.namespace, name: plan.probePod };
  for (const kind of UPGRADE_KINDS) {
    outcomes.push(await checkUpgrade(upstream, kind, target.namespace, target.name, randomUUID(), `c${++n}`, serverMinor, plan.pod?.container ?? null));
  }
  if (plan.pod) outcomes.push(...(await runPodChecks(upstream, plan.pod, plan.idleSeconds, () => `c${++n}`)));
  return {
    upstream: { server: upstream.server.href, context: upstream.contextName, namespace: plan.namespace },
    checks: outcomes.map((o) => o.check),
    findings: outcomes.flatMap((o) => o.findings.map((f) => ({ ...f, check: o.check.id }))),
  };
}
