/**
 * `--translate`: which upgrades kubewire answers itself and carries over another transport,
 * instead of relaying them byte-exactly.
 *
 * - `off` (the default): every upgrade is relayed as it is, so `run` and `proxy` stay a tap.
 * - `spdy-to-ws`: a SPDY/3.1 exec or attach from the client is answered by kubewire and spoken
 *   upstream as WebSocket `v5.channel.k8s.io` (or v4), and a SPDY port-forward as the
 *   `SPDY/3.1+portforward.k8s.io` tunnel, for paths that refuse SPDY (an AWS ALB, Cloudflare,
 *   GKE Connect Gateway). WebSocket requests are relayed as before.
 * - `ws-to-spdy`: the reverse, for a cluster that streams only over SPDY (API server 1.29 or
 *   older, or the translator gates off) behind a path where kubectl's own SPDY fallback cannot
 *   help: a WebSocket exec or attach (v5, v4, `channel.k8s.io` and the base64 variants), the
 *   port-forward tunnel and the kubelet's legacy WebSocket port-forward (ports in the query,
 *   no tunnel) are answered here and spoken upstream as SPDY/3.1. SPDY requests are relayed as
 *   before.
 * - `auto`: everything is relayed as with `off` until the upstream refuses a transport with an
 *   answer that means "not here" (auto-verdicts.ts); from then on that transport's exec,
 *   attach and port-forward are translated to the other one.
 */
import type { IncomingMessage } from 'node:http';
import { k8sRequestInfo } from '../codec/k8s-request.js';
import type { TransportVerdicts } from './auto-verdicts.js';

export const TRANSLATE_MODES = ['off', 'spdy-to-ws', 'ws-to-spdy', 'auto'] as const;

export type TranslateMode = (typeof TRANSLATE_MODES)[number];

export type Translation = 'spdy-to-ws' | 'ws-to-spdy';

/** The translation `mode` gives the upgrade `req`, or null when it is relayed; `auto` asks `verdicts`. */
export function translationOf(mode: TranslateMode | undefined, req: IncomingMessage, verdicts?: TransportVerdicts): Translation | null {
  const upgrade = String(req.headers.upgrade ?? '').trim();
  const op = k8sRequestInfo(req.url ?? '/')?.operation;
  const spdy = /^spdy\/3\.1$/i.test(upgrade) && (op === 'exec' || op === 'attach' || op === 'portforward');
  const ws = /^websocket$/i.test(upgrade) && (op === 'exec' || op === 'attach' || op === 'portforward');
  if (mode === 'spdy-to-ws' || (mode === 'auto' && verdicts?.refuses('spdy'))) {
    if (spdy) return 'spdy-to-ws';
  }
  if (mode === 'ws-to-spdy' || (mode === 'auto' && verdicts?.refuses('websocket'))) {
    if (ws) return 'ws-to-spdy';
  }
  return null;
}

/** Whether `req` is an upgrade that `mode` translates. */
export function translates(mode: TranslateMode | undefined, req: IncomingMessage, verdicts?: TransportVerdicts): boolean {
  return translationOf(mode, req, verdicts) !== null;
}
