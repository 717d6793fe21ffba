/**
 * The doctor's own findings, over the verdicts of its checks rather than over one connection:
 * `check-failed` for a failed check that no rule explained (so a failure never ends in
 * "FINDINGS: none"), and `transport-blocked` when one transport is refused and the other gets
 * through, whose fix is the exact `kubewire run --translate …` command for the way across.
 */
import type { DiagnosedFinding } from '../diagnose/engine.js';
import type { FindingHop } from '../events/types.js';
import type { CheckOutcome, CheckResult } from './checks.js';

/** What the doctor was run with, for the commands its fixes print. */
export interface CommandContext {
  kubeconfig?: string;
  context?: string;
  namespace: string;
  pod: { namespace: string; name: string; container: string | null } | null;
}

const UPSTREAM: FindingHop = { where: 'kubewire↔upstream', answeredBy: 'unknown', why: 'the doctor probes the path to the API server itself' };

export type CheckFinding = DiagnosedFinding & { check: string };

function finding(check: CheckResult, severity: DiagnosedFinding['severity'], rule: string, title: string, explanation: string, fix: string): CheckFinding {
  const session = check.data?.['session'];
  return {
    type: 'finding',
    rule,
    severity,
    title,
    explanation,
    evidence: { facts: [`${check.name}: ${check.verdict.toUpperCase()} ${check.detail}`], seqs: [] },
    hop: { ...UPSTREAM },
    fix,
    ...(typeof session === 'string' ? { session } : {}),
    check: check.id,
  };
}

/** The fix for a failed check, by what it probed and the layer that failed. */
function fixFor(c: CheckResult): string {
  const layer = c.data?.['layer'];
  if (c.id === 'rest') {
    switch (layer) {
      case 'tcp': return 'Check the server URL of the kubeconfig\'s cluster and that it is reachable from here (VPN, firewall, DNS); `kubectl get --raw /version` fails the same way.';
      case 'proxy': return 'Check proxy-url in the kubeconfig (or HTTPS_PROXY): the proxy must be reachable and allow CONNECT to the API server.';
      case 'credentials': return 'Fix the user\'s credentials in the kubeconfig: run the exec credential plugin by hand (users[].user.exec.command) and check that it prints an ExecCredential, or that the token file exists.';
      case 'tls': return 'Check certificate-authority(-data), tls-server-name and the client certificate of the kubeconfig against the API server\'s certificate.';
      default: return 'The API server (or something in front of it) did not answer GET /version with a version: check the server URL, and that nothing on the way answers in its place.';
    }
  }
  if (c.id.startsWith('rbac-')) return 'Ask the cluster\'s admins for get and create on the subresource (a Role with verbs ["get", "create"] on it, bound to this user).';
  if (c.id.startsWith('pod-')) return 'Run the same command with `kubewire run -- kubectl exec …` to see its traffic decoded, and check the hops between here and the pod\'s node (a gateway, a load balancer, the kubelet).';
  return 'Something between here and the API server refused the upgrade: run `kubewire run -- kubectl exec …` through it to see which hop answered, and let every hop pass HTTP/1.1 upgrades (WebSocket and SPDY/3.1) on.';
}

/** `check-failed` for every failed check that has no finding of its own. */
export function unexplainedFailures(outcomes: readonly CheckOutcome[]): CheckFinding[] {
  return outcomes.filter((o) => o.check.verdict === 'fail' && o.findings.length === 0).map(({ check: c }) => {
    const layer = c.data?.['layer'];
    const where = c.id === 'rest' && typeof layer === 'string' ? ` (${LAYER_WORDS[layer] ?? layer})` : '';
    return finding(c, 'error', 'check-failed', `${c.name} failed${where}: ${c.detail}`, `The doctor's check "${c.name}" failed: ${c.detail}.`, fixFor(c));
  });
}

const LAYER_WORDS: Record<string, string> = { tcp: 'TCP', proxy: 'the proxy', credentials: 'the credentials', tls: 'TLS', http: 'HTTP' };

function q(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** `kubewire run [--kubeconfig F] [--context C] --translate MODE -- kubectl …` for this cluster. */
export function translateCommand(ctx: CommandContext, mode: 'spdy-to-ws' | 'ws-to-spdy', op: 'exec' | 'portforward'): string {
  const flags = [...(ctx.kubeconfig ? ['--kubeconfig', q(ctx.kubeconfig)] : []), ...(ctx.context ? ['--context', q(ctx.context)] : [])];
  const ns = ctx.pod?.namespace ?? ctx.namespace;
  const pod = ctx.pod ? q(ctx.pod.name) : 'POD';
  const kubectl = op === 'exec'
    ? ['kubectl', 'exec', '-n', q(ns), pod, ...(ctx.pod?.container ? ['-c', q(ctx.pod.container)] : []), '--', 'echo', 'ok']
    : ['kubectl', 'port-forward', '-n', q(ns), pod, '8080:80'];
  return ['kubewire', 'run', ...flags, '--translate', mode, '--', ...kubectl].join(' ');
}

const PAIRS = [
  { op: 'exec' as const, ws: 'ws-exec', spdy: 'spdy-exec', what: 'exec, attach and cp' },
  { op: 'portforward' as const, ws: 'ws-portforward', spdy: 'spdy-portforward', what: 'port-forward' },
];

/** `transport-blocked` for each operation with one transport refused and the other working. */
export function blockedTransports(outcomes: readonly CheckOutcome[], ctx: CommandContext): CheckFinding[] {
  const byId = new Map(outcomes.map((o) => [o.check.id, o.check]));
  const out: CheckFinding[] = [];
  for (const p of PAIRS) {
    const ws = byId.get(p.ws);
    const spdy = byId.get(p.spdy);
    if (!ws || !spdy) continue;
    if (ws.verdict === 'fail' && spdy.verdict === 'pass') {
      const cmd = translateCommand(ctx, 'ws-to-spdy', p.op);
      out.push(finding(ws, 'warn', 'transport-blocked', `WebSocket is refused for ${p.what}, SPDY gets through`,
        `With fallback off, the WebSocket upgrade failed (${ws.detail}) and the SPDY one passed (${spdy.detail}). kubectl 1.30+ falls back to SPDY by itself, without a word; `
          + 'clients without a SPDY fallback (python-kubernetes, @kubernetes/client-node, client-go 0.36 tools: no-fallback) fail here, and so does kubectl wherever SPDY is refused further on.',
        `Let the WebSocket upgrade through (the other findings of ${p.ws} say what refused it); until then kubewire can speak SPDY upstream for a WebSocket client: ${cmd} (any client's command goes after --).`));
    } else if (spdy.verdict === 'fail' && ws.verdict === 'pass') {
      const cmd = translateCommand(ctx, 'spdy-to-ws', p.op);
      out.push(finding(spdy, 'warn', 'transport-blocked', `SPDY is refused for ${p.what}, WebSocket gets through`,
        `With fallback off, the SPDY upgrade failed (${spdy.detail}) and the WebSocket one passed (${ws.detail}). kubectl 1.30+ (1.31+ for port-forward) uses WebSocket and works; `
          + 'kubectl 1.29 and older, clients that speak only SPDY, and kubectl\'s own SPDY fallback fail here.',
        `Let SPDY/3.1 upgrades through (the other findings of ${p.spdy} say what refused them), or use kubectl 1.30+; for a client that speaks only SPDY, kubewire speaks WebSocket upstream: ${cmd}`));
    }
  }
  return out;
}
