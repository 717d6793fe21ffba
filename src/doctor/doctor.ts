/**
 * The doctor's run: the checks in order, each transport on its own with fallback off (so a
 * silent fallback hides nothing): REST and the layer that fails first, the RBAC verbs, the four
 * upgrades, then (with a pod) the pod checks over the transport that works. Then the findings of
 * every check, each under its own session id, and the doctor's own over the verdicts.
 */
import { randomUUID } from 'node:crypto';
import type { DiagnosedFinding } from '../diagnose/engine.js';
import type { Upstream } from '../proxy/upstream.js';
import { runAccessChecks } from './access-checks.js';
import { checkUpgrade, upgradeName, UPGRADE_KINDS, type CheckOutcome, type CheckResult } from './checks.js';
import { blockedTransports, unexplainedFailures, type CommandContext } from './doctor-findings.js';
import type { ExecTransport } from './exec-probe.js';
import { runPodChecks } from './pod-checks.js';
import { checkRest } from './rest-check.js';

export interface DoctorPlan {
  namespace: string;
  /** A pod name that does not exist, for the upgrade probes. */
  probePod: string;
  pod: { namespace: string; name: string; container: string | null } | null;
  idleSeconds: number | null;
  /** The flags the doctor was run with, for the commands its fixes print. */
  kubeconfig?: string;
  context?: string;
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

/** The transport kubectl would end up on: WebSocket when its upgrade got through, else SPDY when that did. */
function workingTransport(outcomes: readonly CheckOutcome[]): ExecTransport {
  const verdict = (id: string): string | undefined => outcomes.find((o) => o.check.id === id)?.check.verdict;
  if (verdict('ws-exec') !== 'fail') return 'websocket';
  return verdict('spdy-exec') === 'pass' ? 'spdy' : 'websocket';
}

async function probeAll(upstream: Upstream, plan: DoctorPlan): Promise<DoctorReport> {
  const outcomes: CheckOutcome[] = [];
  const rest = await checkRest(upstream);
  outcomes.push(rest);
  const version = /^v?(\d+)\.(\d+)/.exec(rest.serverVersion ?? '');
  const serverMinor = version && version[1] === '1' ? Number(version[2]) : null;
  let n = 0;
  const next = (): string => `c${++n}`;
  const ns = plan.pod?.namespace ?? plan.namespace;
  if (rest.failed !== null && rest.failed !== 'http') {
    // Nothing gets further than the layer that failed: the other checks would say it again.
    const why = `skipped: the REST check failed at ${rest.failed === 'credentials' ? 'the credentials' : rest.failed.toUpperCase()}`;
    for (const [id, name] of SKIPPED) outcomes.push({ check: { id, name, verdict: 'skip', detail: why }, findings: [] });
  } else {
    outcomes.push(...(await runAccessChecks(upstream, ns, serverMinor, next)));
    // With --pod the upgrades go to that pod: they then pass the API server's pod lookup and meet
    // whatever refuses them behind it (an old API server, a kubelet); a 101 is hung up at once.
    const target = plan.pod ? { namespace: plan.pod.namespace, name: plan.pod.name } : { namespace: plan.namespace, name: plan.probePod };
    for (const kind of UPGRADE_KINDS) {
      outcomes.push(await checkUpgrade(upstream, kind, target.namespace, target.name, randomUUID(), next(), serverMinor, plan.pod?.container ?? null));
    }
    if (plan.pod) outcomes.push(...(await runPodChecks(upstream, plan.pod, plan.idleSeconds, next, workingTransport(outcomes))));
  }
  const ctx: CommandContext = {
    ...(plan.kubeconfig !== undefined ? { kubeconfig: plan.kubeconfig } : {}),
    ...(plan.context !== undefined ? { context: plan.context } : {}),
    namespace: plan.namespace,
    pod: plan.pod,
  };
  const own = [...unexplainedFailures(outcomes), ...blockedTransports(outcomes, ctx)];
  return {
    upstream: { server: upstream.server.href, context: upstream.contextName, namespace: plan.namespace },
    checks: outcomes.map((o) => o.check),
    findings: [
      ...outcomes.flatMap((o) => o.findings.map((f) => ({ ...f, check: o.check.id }))),
      ...own,
    ],
  };
}

const SKIPPED: [string, string][] = [
  ['rbac-exec', 'RBAC get+create pods/exec'],
  ['rbac-attach', 'RBAC get+create pods/attach'],
  ['rbac-portforward', 'RBAC get+create pods/portforward'],
  ...UPGRADE_KINDS.map((k): [string, string] => [k, upgradeName(k)]),
];
