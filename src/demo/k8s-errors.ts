/**
 * `metav1.Status` failures, shaped and worded as a real API server writes them
 * (apimachinery `pkg/api/errors/errors.go`), because kubectl prints them verbatim:
 * `Error from server (<reason>): <message>`, or for 401 `error: You must be logged in to the
 * server (<message>)`.
 */
import type { ServerResponse } from 'node:http';
import type { K8sStatus } from './contracts.js';

export type FailureStatus = K8sStatus & { kind: 'Status'; apiVersion: 'v1'; status: 'Failure'; message: string; reason: string; code: number };

function failure(code: number, reason: string, message: string, details?: K8sStatus['details']): FailureStatus {
  // Key order as the API server serialises it.
  const s: FailureStatus = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason } as FailureStatus;
  if (details) s.details = details;
  s.code = code;
  return s;
}

/** `pods "x" not found` (NewNotFound). */
export function notFound(kind: string, name: string): FailureStatus {
  return failure(404, 'NotFound', `${kind} "${name}" not found`, { name, kind });
}

/** A path no handler serves (the apiserver's NotFound handler). */
export function pathNotFound(): FailureStatus {
  return failure(404, 'NotFound', 'the server could not find the requested resource', {});
}

export function badRequest(message: string): FailureStatus {
  return failure(400, 'BadRequest', message);
}

/** What the authentication filter answers when no authenticator accepts the request. */
export function unauthorized(): FailureStatus {
  return failure(401, 'Unauthorized', 'Unauthorized');
}

/**
 * NewForbidden: `pods "web" is forbidden: <why>`, or `pods is forbidden: <why>` without a name.
 * `why` is the authorizer's text, e.g. `User "x" cannot get resource "pods" in API group "" in the namespace "default"`.
 */
export function forbidden(kind: string, name: string | undefined, why: string): FailureStatus {
  const message = name ? `${kind} "${name}" is forbidden: ${why}` : `${kind} is forbidden: ${why}`;
  return failure(403, 'Forbidden', message, name ? { name, kind } : { kind });
}

export function methodNotAllowed(): FailureStatus {
  return failure(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource', {});
}

/** NewRequestEntityTooLargeError, as the apiserver answers a body over its limit. */
export function requestEntityTooLarge(limit: number): FailureStatus {
  return failure(413, 'RequestEntityTooLarge', `Request entity too large: limit is ${limit}`);
}

/** NewInternalError: the cause is repeated in details.causes. */
export function internalError(message: string): FailureStatus {
  // The real cause has no reason (omitempty), which K8sStatus cannot express.
  const details = { causes: [{ message }] } as unknown as K8sStatus['details'];
  return failure(500, 'InternalError', `Internal error occurred: ${message}`, details);
}

export function statusBody(status: K8sStatus): string {
  return JSON.stringify(status) + '\n';
}

/** Sends the Status as the whole response. A response already under way is just ended. */
export function writeStatus(res: ServerResponse, status: K8sStatus): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const body = statusBody(status);
  res.writeHead(status.code ?? 500, {
    'Content-Type': 'application/json',
    'Cache-Control': 'no-cache, private',
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(body);
}
