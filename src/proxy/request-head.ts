/**
 * The upgrade request as it goes upstream: the client's head as received (method, target,
 * header lines in their order and case), apart from the credential swap: the client's
 * `Authorization` (kubewire's own per-run token) is removed and the upstream's credentials are
 * added, and `Host` names the upstream, as a gateway in front of the API server may route by it.
 */
import type { IncomingMessage } from 'node:http';

const DROPPED = new Set(['authorization', 'proxy-authorization', 'host']);

export function upstreamRequestHead(req: IncomingMessage, upstreamHost: string, pathPrefix: string, credentials: Record<string, string | string[]>): Buffer {
  const lines = [`${req.method} ${joinPath(pathPrefix, req.url ?? '/')} HTTP/${req.httpVersion}`, `Host: ${upstreamHost}`];
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    if (!DROPPED.has(raw[i]!.toLowerCase())) lines.push(`${raw[i]}: ${raw[i + 1]}`);
  }
  // A header given several values (Impersonate-Group) is sent as one line per value, as client-go does.
  for (const [name, value] of Object.entries(credentials)) for (const v of typeof value === 'string' ? [value] : value) lines.push(`${name}: ${v}`);
  return Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1');
}

/** A kubeconfig server URL may carry a path (`https://gw.example/k8s/`): requests go below it. */
export function joinPath(prefix: string, path: string): string {
  const p = prefix.replace(/\/+$/, '');
  return p === '' ? path : p + (path.startsWith('/') ? path : `/${path}`);
}
