/**
 * What a request asks of a pod, read from its path and query (protocol.md A §6):
 *   /api/v1/namespaces/NS/pods/NAME/exec?command=sh&command=-c&container=c1&stdin=true&tty=true
 * Kubelet paths (/exec/NS/POD/CTR, /portForward/NS/POD) are read too, for users who put kubewire
 * in front of a kubelet.
 */
import type { K8sRequestInfo } from '../events/types.js';

const API_POD_PATH = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)(?:\/([^/]+))?\/?$/;
const KUBELET_PATH = /^\/(exec|attach|portForward)\/([^/]+)\/([^/]+)(?:\/([^/]+))?\/?$/;

export function splitTarget(target: string): { path: string; query: URLSearchParams } {
  const q = target.indexOf('?');
  const rawPath = q < 0 ? target : target.slice(0, q);
  // An absolute-form target (a forward proxy request) still names the path after the authority.
  const path = rawPath.startsWith('http://') || rawPath.startsWith('https://') ? new URL(rawPath).pathname : rawPath;
  return { path, query: new URLSearchParams(q < 0 ? '' : target.slice(q + 1)) };
}

export function k8sRequestInfo(target: string): K8sRequestInfo | null {
  const { path, query } = splitTarget(target);
  let namespace: string;
  let pod: string;
  let sub: string | undefined;
  let container: string | null = query.get('container');
  const api = API_POD_PATH.exec(path);
  const kubelet = api ? null : KUBELET_PATH.exec(path);
  if (api) {
    namespace = decode(api[1]!);
    pod = decode(api[2]!);
    sub = api[3];
  } else if (kubelet) {
    sub = kubelet[1] === 'portForward' ? 'portforward' : kubelet[1];
    namespace = decode(kubelet[2]!);
    pod = decode(kubelet[3]!);
    if (kubelet[4]) container = decode(kubelet[4]);
  } else {
    return null;
  }
  const operation: K8sRequestInfo['operation'] =
    sub === 'exec' || sub === 'attach' || sub === 'portforward' || sub === 'log' ? sub : 'other';
  const flag = (k: string, alias: string): boolean => isTrue(query.get(k)) || isTrue(query.get(alias));
  const ports: number[] = [];
  for (const v of [...query.getAll('ports'), ...query.getAll('port')]) {
    for (const p of v.split(',')) {
      const n = Number(p.trim());
      if (Number.isInteger(n) && n > 0 && n < 65536) ports.push(n);
    }
  }
  return {
    operation,
    namespace,
    pod,
    container,
    // The kubelet's own query uses cmd= alongside input/output/error/tty=1.
    command: query.getAll('command').length ? query.getAll('command') : query.getAll('cmd'),
    stdin: flag('stdin', 'input'),
    stdout: flag('stdout', 'output'),
    stderr: flag('stderr', 'error'),
    tty: isTrue(query.get('tty')),
    ports,
  };
}

/**
 * A query boolean as the API server reads it: Go's strconv.ParseBool accepts 1, t, T, TRUE,
 * true and True. python-kubernetes sends `stdout=True`.
 */
export function isTrue(v: string | null): boolean {
  return v !== null && GO_TRUE.has(v);
}

const GO_TRUE = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);

function decode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/**
 * The ports of a legacy WebSocket port-forward (protocol.md A §3b), checked as the kubelet
 * checks them (KL portforward/websocket.go `NewV4Options`), with its refusal text when they
 * are missing or bad. The API server's `ports` reaches the kubelet as `port`; both are read.
 *
 *   ?ports=8080&ports=9090  → [8080, 9090]
 *   ?ports=x                → `unable to parse "x" as a port: strconv.ParseUint: parsing "x": invalid syntax`
 */
export function legacyPortForwardPorts(query: URLSearchParams): { ok: true; ports: number[] } | { ok: false; message: string } {
  const values = [...query.getAll('ports'), ...query.getAll('port')];
  if (values.length === 0) return { ok: false, message: 'query parameter "port" is required' };
  const ports: number[] = [];
  for (const value of values) {
    if (value.length === 0) return { ok: false, message: 'query parameter "port" cannot be empty' };
    for (const p of value.split(',')) {
      // strconv.ParseUint(p, 10, 16): ASCII digits only, no sign, no spaces.
      const error = !/^[0-9]+$/.test(p) ? 'invalid syntax' : Number(p) > 0xffff ? 'value out of range' : null;
      if (error !== null) return { ok: false, message: `unable to parse ${JSON.stringify(value)} as a port: strconv.ParseUint: parsing ${JSON.stringify(p)}: ${error}` };
      if (Number(p) < 1) return { ok: false, message: `port ${JSON.stringify(value)} must be > 0` };
      ports.push(Number(p));
    }
  }
  return { ok: true, ports };
}
