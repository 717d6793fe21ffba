/**
 * Who may use the proxy, and with which credential its requests go upstream. `kubewire proxy`
 * and `run` admit the holder of their per-run token and swap it for the kubeconfig's
 * credential (proxy-server.ts); `kubewire gateway` admits each user by their own credential and
 * says who they are (src/gateway). Decided once per request or upgrade, before anything of it
 * is forwarded.
 */
import type { IncomingMessage } from 'node:http';
import type { SessionUser } from '../events/types.js';

export interface Admitted {
  ok: true;
  /** Who the client is, for its `conn.open` and the session record; null when unknown. */
  user: SessionUser | null;
  /**
   * The credential headers to send upstream, given the upstream's own (Authorization from the
   * kubeconfig): the client's own token in passthrough, Impersonate-* added in impersonation.
   * Null: the upstream's own, unchanged. Never logged.
   */
  credentials: ((own: Record<string, string>) => Record<string, string | string[]>) | null;
}

export interface Refused {
  ok: false;
  status: number;
  /** A `metav1.Status` JSON, which kubectl prints. */
  body: string;
}

export type Admission = Admitted | Refused;

export interface ClientAdmission {
  admit(req: IncomingMessage): Admission | Promise<Admission>;
}

/** A Status as the API server writes one: `Error from server (Forbidden): …` in kubectl. */
export function statusBody(code: number, reason: string, message: string): string {
  return JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code });
}

export function refused(code: number, reason: string, message: string): Refused {
  return { ok: false, status: code, body: statusBody(code, reason, message) };
}

export const UNAUTHORIZED: Refused = refused(401, 'Unauthorized', 'Unauthorized');
