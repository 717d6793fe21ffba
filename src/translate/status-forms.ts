/**
 * The two forms of a remote command's status (protocol.md A §1.4), and the conversions a
 * translation needs when the client and the upstream speak different protocol generations:
 *
 *   v4/v5 (JSON)  {"metadata":{},"status":"Success"}   ↔  v1-v3 (text)  nothing
 *                 {"metadata":{},"status":"Failure",    ↔                 the message
 *                  "message":"…", …}
 *
 * Between two JSON sides (or two text sides) the status is relayed verbatim, so exit codes
 * survive; text carries no exit code, so a text upstream's failure reaches a JSON client as a
 * plain Failure.
 */

const EMPTY = Buffer.alloc(0);

/** v4 and v5 (and v4's base64 twin) carry JSON Status on the error stream; v1-v3 carry text (A §1.4). */
export function jsonStatusProtocol(protocol: string): boolean {
  return protocol === 'v4.channel.k8s.io' || protocol === 'v5.channel.k8s.io' || protocol === 'v4.base64.channel.k8s.io';
}

/**
 * The v1-v3 error-stream text for a JSON Status, as the kubelet's v1WriteStatusFunc writes it:
 * nothing on success, the message on failure. Text that is not a Status passes as it is.
 */
export function statusAsText(json: Buffer): Buffer {
  let status: unknown;
  try {
    status = JSON.parse(json.toString('utf8'));
  } catch {
    return json;
  }
  if (status === null || typeof status !== 'object') return json;
  const s = status as { status?: unknown; message?: unknown };
  if (s.status === 'Success') return EMPTY;
  return Buffer.from(typeof s.message === 'string' ? s.message : 'error', 'utf8');
}

/**
 * The v4/v5 Status for v1-v3 error-stream text: none is success, any text a Failure whose
 * message it is (client-go prints it as `error: <message>` and exits 1).
 */
export function textAsStatus(text: Buffer): Buffer {
  if (text.length === 0) return Buffer.from('{"metadata":{},"status":"Success"}', 'utf8');
  return failureStatus(text.toString('utf8'));
}

/** A failure Status: kubectl prints `error: <message>` and exits 1 (A §5). */
export function failureStatus(message: string): Buffer {
  return Buffer.from(JSON.stringify({ metadata: {}, status: 'Failure', message, reason: 'InternalError', code: 500 }), 'utf8');
}

/** The status bytes of the upstream's form in the client's form. */
export function statusFor(clientProtocol: string, upstreamProtocol: string, status: Buffer): Buffer {
  const client = jsonStatusProtocol(clientProtocol);
  if (client === jsonStatusProtocol(upstreamProtocol)) return status;
  return client ? textAsStatus(status) : statusAsText(status);
}
