/**
 * kubectl connections as a live proxy logs them (conn.open … conn.close), built by hand: an
 * exec upgrade over WebSocket or SPDY that kubectl accepts (src/session/handshake.ts) or that
 * the server refuses, with its output, its status and its close. Times are set by the caller.
 */
import type { EventBody, K8sRequestInfo } from '../../src/events/types.js';

export interface ExecConnection {
  transport: 'websocket' | 'spdy';
  command: string[];
  /** The `Kubectl-Command` header (`kubectl exec`, `kubectl cp`). */
  kubectlCommand: string;
  session: string;
  /** An HTTP status to refuse the upgrade with instead of 101. */
  refuse?: number;
  stdout?: string;
  /** The remote command's exit code (a Status with it on the error channel). */
  exitCode?: number;
}

const USER_AGENT = 'kubectl/v1.33.1 (linux/amd64) kubernetes/8adc0f0';
const WS_PROTOCOLS = ['v5.channel.k8s.io', 'v4.channel.k8s.io'];

export function execK8s(command: string[]): K8sRequestInfo {
  return { operation: 'exec', namespace: 'default', pod: 'web', container: 'app', command, stdin: false, stdout: true, stderr: true, tty: false, ports: [] };
}

/** The events of one exec connection, in the order the proxy logs them. */
export function execConnection(c: ExecConnection): EventBody[] {
  const ws = c.transport === 'websocket';
  const path = '/api/v1/namespaces/default/pods/web/exec';
  const query = c.command.map((w) => `command=${encodeURIComponent(w)}`).join('&');
  const upgrade = ws ? 'websocket' : 'SPDY/3.1';
  const out: EventBody[] = [
    { type: 'conn.open', kind: 'upgrade', client: '127.0.0.1:50000', upstream: 'https://10.0.0.1:6443' },
    {
      type: 'upgrade.request', dir: 'c2s', offset: 0, method: ws ? 'GET' : 'POST', target: `${path}?${query}&container=app&stdout=true&stderr=true`, path, version: 'HTTP/1.1',
      headers: [['Upgrade', upgrade], ['Connection', 'Upgrade'], ['Kubectl-Command', c.kubectlCommand], ['Kubectl-Session', c.session], ['User-Agent', USER_AGENT]],
      upgrade, offered: ws ? WS_PROTOCOLS : ['v4.channel.k8s.io'], kubectlSession: c.session, kubectlCommand: c.kubectlCommand, userAgent: USER_AGENT, k8s: execK8s(c.command),
    },
  ];
  if (c.refuse !== undefined) {
    const body = JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', message: 'upgrade refused', reason: 'Forbidden', code: c.refuse });
    out.push(
      { type: 'upgrade.response', dir: 's2c', offset: 0, status: c.refuse, reason: 'Forbidden', version: 'HTTP/1.1', headers: [['Content-Type', 'application/json']], protocol: null, auditId: 'a-1', server: null, contentType: 'application/json' },
      { type: 'http.body', dir: 's2c', offset: 0, contentType: 'application/json', k8sStatus: { status: 'Failure', reason: 'Forbidden', message: 'upgrade refused', code: c.refuse }, text: body, size: body.length, payload: Buffer.from(body).toString('base64') },
      { type: 'conn.close', closedBy: 'upstream', bytes: { c2s: 300, s2c: body.length }, durationMs: 5, error: null },
    );
    return out;
  }
  const protocol = ws ? 'v5.channel.k8s.io' : 'v4.channel.k8s.io';
  const stdout = Buffer.from(c.stdout ?? '');
  const status = c.exitCode === undefined || c.exitCode === 0
    ? { status: 'Success', reason: null, message: null, code: null, exitCode: 0 }
    : { status: 'Failure', reason: 'NonZeroExitCode', message: `command terminated with non-zero exit code: exit status ${c.exitCode}`, code: 500, exitCode: c.exitCode };
  out.push(
    {
      type: 'upgrade.response', dir: 's2c', offset: 0, status: 101, reason: 'Switching Protocols', version: 'HTTP/1.1',
      headers: ws ? [['Upgrade', 'websocket'], ['Connection', 'Upgrade'], ['Sec-WebSocket-Protocol', protocol]] : [['Upgrade', 'SPDY/3.1'], ['Connection', 'Upgrade'], ['X-Stream-Protocol-Version', protocol]],
      protocol, auditId: null, server: null, contentType: null,
    },
    { type: 'decode.stack', transport: ws ? 'websocket' : 'spdy', protocol, semantics: ws ? 'channel-v5' : 'spdy-v4', layers: ws ? ['websocket', 'channel'] : ['spdy', 'streams'], reason: 'test' },
  );
  if (stdout.length) out.push({ type: 'k8s.data', dir: 's2c', offset: 0, channel: 1, stream: 'stdout', size: stdout.length, payload: stdout.toString('base64') });
  out.push(
    { type: 'k8s.data', dir: 's2c', offset: stdout.length, channel: 3, stream: 'error', size: 34, payload: Buffer.from('{"metadata":{},"status":"Success"}').toString('base64') },
    { type: 'k8s.status', dir: 's2c', offset: stdout.length, format: 'json', raw: '{}', ...status },
    { type: 'conn.end', dir: 'c2s', offset: 200 },
    { type: 'conn.end', dir: 's2c', offset: 100 + stdout.length },
    { type: 'conn.close', closedBy: 'upstream', bytes: { c2s: 200, s2c: 100 + stdout.length }, durationMs: 20, error: null },
  );
  return out;
}
