/**
 * Auth and TLS for one upstream connection, from the kubeconfig's chosen user: @kubernetes/
 * client-node evaluates tokens, token files, client certificates, basic auth, exec plugins and
 * auth-providers (applyToHTTPSOptions), and this module turns its answer into headers and
 * tls.connect options, and its failures into KW_ERR_UPSTREAM_AUTH errors that name the file or
 * the plugin at fault. Like kubectl, no user credentials are sent to a plain http:// server
 * (protocol.md Part B §1).
 */
import type https from 'node:https';
import net from 'node:net';
import type tls from 'node:tls';
import { describeFsError } from '../io/errors.js';
import type { KubeconfigTarget } from '../kubeconfig/load-kubeconfig.js';
import { UpstreamError, type UpstreamConnectionOptions } from './upstream.js';
import { bareHost } from './upstream-dial.js';

/** `display` names the API server in messages. Rejects with UpstreamError. */
export async function evaluateCredentials(target: KubeconfigTarget, display: string): Promise<UpstreamConnectionOptions> {
  if (target.server.protocol === 'http:') return { headers: {}, tls: {} };
  const opts: https.RequestOptions = {};
  try {
    await target.kc.applyToHTTPSOptions(opts);
  } catch (e) {
    throw credentialError(target, display, e);
  }
  const headers: Record<string, string> = {};
  for (const [key, value] of Object.entries(opts.headers ?? {})) {
    if (value === undefined) continue;
    const name = key.toLowerCase() === 'authorization' ? 'Authorization' : key;
    headers[name] = Array.isArray(value) ? value.join(', ') : String(value);
  }
  // As applyToFetchOptions does: basic auth comes back as `auth`, not as a header.
  if (opts.auth) headers['Authorization'] = 'Basic ' + Buffer.from(opts.auth).toString('base64');
  // A token file usually ends with a newline, which client-node keeps and Node refuses in a header.
  if (headers['Authorization'] !== undefined) headers['Authorization'] = headers['Authorization'].trim();

  const tlsOptions: tls.ConnectionOptions = { rejectUnauthorized: opts.rejectUnauthorized !== false };
  if (opts.ca) tlsOptions.ca = opts.ca;
  if (opts.cert) tlsOptions.cert = opts.cert;
  if (opts.key) tlsOptions.key = opts.key;
  const host = bareHost(target.server);
  // RFC 6066 §3: SNI carries DNS names only, never an IP address literal.
  const servername = opts.servername || (net.isIP(host) ? undefined : host);
  if (servername) tlsOptions.servername = servername;
  return { headers, tls: tlsOptions };
}

function credentialError(target: KubeconfigTarget, display: string, e: unknown): UpstreamError {
  const err = e as NodeJS.ErrnoException;
  const who = `cannot get credentials for ${display} (user "${target.userName}")`;
  const exec = (target.user?.exec ?? target.user?.authProvider?.config?.exec) as { command?: string } | undefined;
  if (typeof err.path === 'string' && err.syscall !== undefined && !err.syscall.startsWith('spawn')) {
    return new UpstreamError('KW_ERR_UPSTREAM_AUTH', `${who}: cannot read ${err.path}: ${describeFsError(err)}`, e);
  }
  if (exec) {
    const plugin = `exec credential plugin "${exec.command ?? ''}"`;
    if (err.syscall?.startsWith('spawn')) {
      return new UpstreamError('KW_ERR_UPSTREAM_AUTH', `${who}: ${plugin} could not be started: ${describeFsError(err)} (${err.code}); check users[].user.exec.command`, e);
    }
    if (e instanceof SyntaxError) {
      return new UpstreamError('KW_ERR_UPSTREAM_AUTH', `${who}: ${plugin} did not print an ExecCredential as JSON: ${e.message}`, e);
    }
    if (e instanceof TypeError) {
      return new UpstreamError('KW_ERR_UPSTREAM_AUTH', `${who}: ${plugin} printed an ExecCredential without status`, e);
    }
    const stderr = (err.message ?? '').trim();
    return new UpstreamError('KW_ERR_UPSTREAM_AUTH', `${who}: ${plugin} failed${stderr ? `: ${stderr}` : ' with a non-zero exit status and no output'}`, e);
  }
  return new UpstreamError('KW_ERR_UPSTREAM_AUTH', `${who}: ${err.message ?? String(e)}`, e);
}
