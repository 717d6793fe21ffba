/**
 * Reading a remote command's status, as client-go does (protocol.md A §1.4).
 *
 * v4 and later send one `metav1.Status` as JSON on the error channel:
 *   {"metadata":{},"status":"Failure","message":"command terminated with non-zero exit code: …",
 *    "reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"3"}]}}
 * The exit code is the `ExitCode` cause parsed as a uint8 (client-go v4.go errorDecoderV4), so
 * "300" or "notanumber" give no exit code. v1 to v3 send the error as plain text, and nothing on
 * success. Servers that negotiated v1 still send JSON in practice, so JSON is tried first.
 */
import type { K8sStatusInfo } from '../events/types.js';

export interface ParsedStatus extends K8sStatusInfo {
  format: 'json' | 'text';
  exitCode: number | null;
}

export function parseStatusText(text: string, jsonExpected: boolean): ParsedStatus {
  const obj = parseJsonObject(text);
  if (obj) {
    const info = statusInfo(obj);
    return { format: 'json', ...info, exitCode: exitCodeOf(obj, info) };
  }
  // v1-v3 carry the error itself as text; for v4+ text means the server broke the protocol.
  return {
    format: 'text',
    status: jsonExpected ? 'Unparsable' : 'Failure',
    reason: null,
    message: text,
    code: null,
    exitCode: null,
  };
}

/** The Status fields of a response body, when it is a Kubernetes Status object. */
export function parseStatusBody(text: string): K8sStatusInfo | null {
  const obj = parseJsonObject(text);
  if (!obj || (obj['kind'] !== 'Status' && typeof obj['status'] !== 'string')) return null;
  return statusInfo(obj);
}

function parseJsonObject(text: string): Record<string, unknown> | null {
  try {
    const v: unknown = JSON.parse(text);
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

function statusInfo(obj: Record<string, unknown>): K8sStatusInfo {
  const str = (k: string): string | null => (typeof obj[k] === 'string' ? (obj[k] as string) : null);
  const code = obj['code'];
  return {
    status: str('status'),
    reason: str('reason'),
    message: str('message'),
    code: typeof code === 'number' && Number.isInteger(code) ? code : null,
  };
}

function exitCodeOf(obj: Record<string, unknown>, info: K8sStatusInfo): number | null {
  if (info.status === 'Success') return 0;
  if (info.reason !== 'NonZeroExitCode') return null;
  const details = obj['details'];
  const causes = details && typeof details === 'object' ? (details as Record<string, unknown>)['causes'] : undefined;
  if (!Array.isArray(causes)) return null;
  for (const cause of causes) {
    if (!cause || typeof cause !== 'object') continue;
    const c = cause as Record<string, unknown>;
    if (c['reason'] !== 'ExitCode' || typeof c['message'] !== 'string') continue;
    // strconv.ParseUint(message, 10, 8): decimal digits only, at most 255.
    if (!/^[0-9]+$/.test(c['message'])) return null;
    const n = Number(c['message']);
    return n <= 255 ? n : null;
  }
  return null;
}
