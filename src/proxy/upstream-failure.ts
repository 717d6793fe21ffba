/**
 * What kubectl gets when kubewire cannot reach the upstream: a `502` with a Kubernetes Status
 * whose message names the upstream and the cause, so kubectl prints something useful
 * (`Error from server: kubewire: cannot reach the API server https://…: connection refused`)
 * instead of an EOF.
 */
import { rawResponseHead } from '../http/raw-response.js';
import { UpstreamError, type Upstream } from './upstream.js';

export interface UpstreamFailure {
  code: `KW_ERR_${string}`;
  message: string;
  statusBody(): string;
  rawResponse(): string;
}

export function upstreamFailure(upstream: Upstream, e: unknown): UpstreamFailure {
  const code = e instanceof UpstreamError ? e.code : 'KW_ERR_UPSTREAM';
  const message = e instanceof UpstreamError ? e.message : `cannot reach the API server ${upstream.server.origin}: ${(e as Error).message ?? String(e)}`;
  const statusBody = (): string =>
    JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: `kubewire: ${message}`, reason: 'BadGateway', code: 502 });
  return {
    code,
    message,
    statusBody,
    rawResponse: () => {
      const body = statusBody();
      return rawResponseHead(502, { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(body)), Connection: 'close' }) + body;
    },
  };
}
