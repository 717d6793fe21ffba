/**
 * The doctor's path checks: the four upgrades kubectl uses (REST reachability is rest-check.ts),
 * each sent for a pod that does not exist so that no pod is needed: the API server's 404 Status
 * proves the upgrade reached it.
 */
import { randomBytes } from 'node:crypto';
import type { DiagnosedFinding } from '../diagnose/engine.js';
import type { Upstream } from '../proxy/upstream.js';
import { diagnoseTranscript, exchange, parseAnswer, type Transcript } from './exchange.js';

export type Verdict = 'pass' | 'fail' | 'warn' | 'skip';

export interface CheckResult {
  id: string;
  name: string;
  verdict: Verdict;
  detail: string;
  /** Extra facts for --json (status code, protocol, seconds …). */
  data?: Record<string, unknown>;
}

export interface CheckOutcome {
  check: CheckResult;
  findings: DiagnosedFinding[];
}

function hostHeader(u: Upstream): string {
  return u.server.host;
}

/** The request head kubectl would send, with the credentials headers. */
export function requestHead(u: Upstream, method: string, path: string, headers: Record<string, string>, extra: Record<string, string>, session: string): Buffer {
  const lines = [`${method} ${path} HTTP/1.1`, `Host: ${hostHeader(u)}`, 'User-Agent: kubewire-doctor', `Kubectl-Session: ${session}`];
  for (const [k, v] of Object.entries(extra)) lines.push(`${k}: ${v}`);
  for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
  return Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1');
}

/** The server URL's path prefix (a kubeconfig server may carry one), without a trailing slash. */
export function apiPath(u: Upstream, path: string): string {
  return u.server.pathname.replace(/\/+$/, '') + path;
}

// ---------------------------------------------------------------------------------------------
// 2-5. Upgrades

export type UpgradeKind = 'ws-exec' | 'spdy-exec' | 'ws-portforward' | 'spdy-portforward';

const UPGRADES: Record<UpgradeKind, { name: string; transport: 'websocket' | 'spdy'; sub: 'exec' | 'portforward' }> = {
  'ws-exec': { name: 'WebSocket v5 exec upgrade', transport: 'websocket', sub: 'exec' },
  'spdy-exec': { name: 'SPDY exec upgrade', transport: 'spdy', sub: 'exec' },
  'ws-portforward': { name: 'port-forward tunnel (WebSocket)', transport: 'websocket', sub: 'portforward' },
  'spdy-portforward': { name: 'SPDY port-forward', transport: 'spdy', sub: 'portforward' },
};

export const UPGRADE_KINDS = Object.keys(UPGRADES) as UpgradeKind[];

export function upgradeName(kind: UpgradeKind): string {
  return UPGRADES[kind].name;
}

export function upgradeRequest(u: Upstream, kind: UpgradeKind, namespace: string, pod: string, session: string, headers: Record<string, string>, container: string | null = null): Buffer {
  const spec = UPGRADES[kind];
  const base = `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(pod)}/${spec.sub}`;
  const query = spec.sub === 'exec' ? `?command=echo&command=kubewire-doctor${container ? `&container=${encodeURIComponent(container)}` : ''}&stdout=true&stderr=true` : spec.transport === 'spdy' ? '' : '?ports=80';
  const path = apiPath(u, base + query);
  if (spec.transport === 'websocket') {
    return requestHead(u, 'GET', path, headers, {
      Connection: 'Upgrade',
      Upgrade: 'websocket',
      'Sec-WebSocket-Version': '13',
      'Sec-WebSocket-Key': randomBytes(16).toString('base64'),
      'Sec-WebSocket-Protocol': spec.sub === 'exec' ? 'v5.channel.k8s.io, v4.channel.k8s.io, v3.channel.k8s.io, v2.channel.k8s.io, channel.k8s.io' : 'SPDY/3.1+portforward.k8s.io',
    }, session);
  }
  return requestHead(u, 'POST', path, headers, {
    Connection: 'Upgrade',
    Upgrade: 'SPDY/3.1',
    'X-Stream-Protocol-Version': spec.sub === 'exec' ? 'v4.channel.k8s.io' : 'portforward.k8s.io',
    'Content-Length': '0',
  }, session);
}

function firstLine(s: string, max = 100): string {
  const l = s.replace(/\s+/g, ' ').trim();
  return l.length > max ? `${l.slice(0, max - 1)}…` : l;
}

/** Judges the answer to an upgrade for a pod that does not exist. */
export function judgeUpgrade(t: Transcript & { error: string | null }): { verdict: Verdict; detail: string; status: number | null } {
  const bytes = Buffer.concat(t.s2c.map((c) => c.bytes));
  const a = parseAnswer(bytes);
  if (!a) {
    if (bytes.length === 0) return { verdict: 'fail', detail: `no answer${t.error ? `: ${t.error}` : ''}`, status: null };
    return { verdict: 'fail', detail: `not an HTTP answer (${bytes.length} B)${t.error ? `: ${t.error}` : ''}`, status: null };
  }
  const ctype = a.headers['content-type'] ?? '';
  let kubeStatus: { kind?: string; message?: string; reason?: string } | null = null;
  try {
    const j = JSON.parse(a.body) as { kind?: string; message?: string; reason?: string };
    if (j && j.kind === 'Status') kubeStatus = j;
  } catch {
    /* not JSON */
  }
  const html = /html/i.test(ctype) || /^\s*<(!doctype|html)/i.test(a.body);
  const label = `${a.status}${a.reason ? ` ${a.reason}` : ''}`;
  if (a.status === 101) {
    const proto = a.headers['sec-websocket-protocol'] ?? a.headers['x-stream-protocol-version'] ?? '';
    return { verdict: 'pass', detail: `101 Switching Protocols${proto ? ` (${proto})` : ''}: the upgrade went through to the pod`, status: 101 };
  }
  if (a.status === 404 && kubeStatus && !html) {
    return { verdict: 'pass', detail: `the upgrade reached the API server (404 Status: ${firstLine(kubeStatus.message ?? 'not found')})`, status: 404 };
  }
  if (html) return { verdict: 'fail', detail: `${label} with an HTML body: an intermediary answered; the upgrade did not reach the API server`, status: a.status };
  if (/upgrade request required|missing upgrade headers/i.test(a.body)) {
    return { verdict: 'fail', detail: `${label} "${firstLine(kubeStatus?.message ?? a.body, 60)}": the upgrade headers were stripped on the way`, status: a.status };
  }
  const msg = kubeStatus?.message ?? a.body;
  return { verdict: 'fail', detail: `${label}${msg.trim() ? ` "${firstLine(msg, 80)}"` : ' with no body'}: the upgrade was refused`, status: a.status };
}

/**
 * Rules about what follows a 101 (the status, the close, silence): after a 101 the probe hangs
 * up by itself, so these would describe the probe, not the path.
 */
const AFTER_101_RULES = new Set(['status-missing', 'exit-unknown', 'no-close-frame', 'no-frames-after-101', 'idle-timeout', 'pong-missing']);

/**
 * Findings the probe itself causes: the 404 of the pod that was chosen not to exist, its own
 * hang-up after a 101, and the SPDY retry it does not make (each transport is probed on its own).
 */
function expected(f: DiagnosedFinding, probePod: string, status: number | null): boolean {
  if (f.rule === 'not-found' && f.title.includes(probePod)) return true;
  if (f.rule === 'no-fallback') return true;
  return status === 101 && AFTER_101_RULES.has(f.rule);
}

/**
 * Sends one upgrade for `pod` (normally one that does not exist; with --pod, the real one). With
 * `serverMinor` below 30, a WebSocket exec that only reached the API server's 404 is a warning:
 * an API server before 1.30 (1.29 without a feature gate) refuses v5 once the pod exists.
 */
export async function checkUpgrade(u: Upstream, kind: UpgradeKind, namespace: string, pod: string, session: string, conn: string, serverMinor: number | null = null, container: string | null = null): Promise<CheckOutcome> {
  const spec = UPGRADES[kind];
  const t = await exchange(u, (headers) => upgradeRequest(u, kind, namespace, pod, session, headers, container));
  const judged = judgeUpgrade(t);
  const { findings } = diagnoseTranscript(t, session, conn, serverMinor !== null ? `v1.${serverMinor}` : null);
  let { verdict, detail } = judged;
  if (kind === 'ws-exec' && judged.status === 404 && serverMinor !== null && serverMinor < 30) {
    verdict = 'warn';
    detail += `; but the API server is 1.${serverMinor}: WebSocket exec needs 1.30+ (kubectl falls back to SPDY)`;
  }
  return {
    check: { id: kind, name: spec.name, verdict, detail, data: { status: judged.status, pod: `${namespace}/${pod}`, session } },
    findings: findings.filter((f) => !expected(f, pod, judged.status)),
  };
}
