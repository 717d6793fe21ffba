/**
 * `--translate`: which upgrades kubewire answers itself and carries over another transport,
 * instead of relaying them byte-exactly.
 *
 * - `off` (the default): every upgrade is relayed as it is, so `run` and `proxy` stay a tap.
 * - `spdy-to-ws`: a SPDY/3.1 exec or attach from the client is answered by kubewire and spoken
 *   upstream as WebSocket `v5.channel.k8s.io` (or v4), and a SPDY port-forward as the
 *   `SPDY/3.1+portforward.k8s.io` tunnel, for paths that refuse SPDY (an AWS ALB, Cloudflare,
 *   GKE Connect Gateway). WebSocket requests are relayed as before.
 */
import type { IncomingMessage } from 'node:http';
import { k8sRequestInfo } from '../codec/k8s-request.js';

export const TRANSLATE_MODES = ['off', 'spdy-to-ws'] as const;

export type TranslateMode = (typeof TRANSLATE_MODES)[number];

/** Whether `req` is an upgrade that `mode` translates. */
export function translates(mode: TranslateMode | undefined, req: IncomingMessage): boolean {
  if (mode !== 'spdy-to-ws') return false;
  if (!/^spdy\/3\.1$/i.test(String(req.headers.upgrade ?? '').trim())) return false;
  const op = k8sRequestInfo(req.url ?? '/')?.operation;
  return op === 'exec' || op === 'attach' || op === 'portforward';
}
