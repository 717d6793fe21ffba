/**
 * The doctor's first check: can the API server be reached at all, and if not, at which layer.
 * In the order a connection needs them, so that the first failing one is named: TCP (or the
 * proxy-url's CONNECT), the credentials (a token file, an exec credential plugin), TLS, then
 * the API server's `/version` over HTTP/1.1 (the ALPN offer h2,http/1.1 is probed apart).
 */
import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import { UpstreamError, type Upstream, type UpstreamConnectionOptions } from '../proxy/upstream.js';
import { apiPath, type CheckOutcome } from './checks.js';

const TIMEOUT_MS = 10_000;
const MAX_BODY_BYTES = 1024 * 1024;

/** Where a connection failed: the layer names the row and the finding's fix. */
export type Layer = 'tcp' | 'proxy' | 'credentials' | 'tls' | 'http';

export interface RestOutcome extends CheckOutcome {
  /** The layer that failed, or null when `/version` answered. */
  failed: Layer | null;
  serverVersion: string | null;
}

/** One REST call with the kubeconfig's credentials over the keep-alive agent. */
export async function restCall(u: Upstream, method: string, path: string, body: unknown = undefined): Promise<{ status: number; body: string }> {
  const agent = await u.agent();
  const options = await u.connectionOptions();
  const mod = u.server.protocol === 'https:' ? https : http;
  const payload = body === undefined ? null : Buffer.from(JSON.stringify(body), 'utf8');
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...options.headers, Accept: 'application/json' };
    if (payload) {
      headers['Content-Type'] = 'application/json';
      headers['Content-Length'] = String(payload.length);
    }
    const req = mod.request(
      { protocol: u.server.protocol, hostname: bare(u), port: u.server.port, path: apiPath(u, path), method, agent, headers },
      (res) => {
        const parts: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size <= MAX_BODY_BYTES) parts.push(c);
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.setTimeout(TIMEOUT_MS, () => req.destroy(new Error(`no answer within ${TIMEOUT_MS / 1000} s`)));
    req.on('error', reject);
    req.end(payload ?? undefined);
  });
}

function bare(u: Upstream): string {
  return u.server.hostname.replace(/^\[|\]$/g, '');
}

function failed(layer: Layer, detail: string, data: Record<string, unknown> = {}): RestOutcome {
  return { check: { id: 'rest', name: NAME, verdict: 'fail', detail, data: { layer, ...data } }, findings: [], failed: layer, serverVersion: null };
}

const NAME = 'REST /version';

/** A credential error names the exec plugin when one ran (client-go's words: "exec plugin"). */
function credentialWords(message: string): string {
  return /plugin/i.test(message) ? 'credential plugin failed' : 'credentials failed';
}

export async function checkRest(u: Upstream): Promise<RestOutcome> {
  // TCP first, without credentials (no exec plugin runs for it).
  const tcp = u.probe ? await u.probe(TIMEOUT_MS) : null;
  if (tcp !== null) return failed(u.proxyUrl && /proxy/i.test(tcp) ? 'proxy' : 'tcp', `TCP connection failed: ${tcp}`);
  let options: UpstreamConnectionOptions;
  try {
    options = await u.connectionOptions();
  } catch (e) {
    const message = (e as Error).message;
    return failed('credentials', `${credentialWords(message)}: ${message}`);
  }
  let alpn = 'n/a (plain http)';
  let alpnNote = '';
  if (u.server.protocol === 'https:') {
    try {
      (await u.connect(options)).destroy();
    } catch (e) {
      const code = e instanceof UpstreamError ? e.code : '';
      const layer: Layer = code === 'KW_ERR_UPSTREAM_TLS' ? 'tls' : code === 'KW_ERR_UPSTREAM_PROXY' ? 'proxy' : code === 'KW_ERR_UPSTREAM_AUTH' ? 'credentials' : 'tcp';
      const words = layer === 'tls' ? 'TLS failed' : layer === 'proxy' ? 'the proxy failed' : layer === 'credentials' ? credentialWords((e as Error).message) : 'TCP connection failed';
      return failed(layer, `${words}: ${(e as Error).message}`);
    }
    if (u.proxyUrl) alpn = 'not probed (proxy-url)';
    else {
      alpn = await probeAlpn(u, options).catch((e: Error) => `unknown (${e.message})`);
      if (alpn === 'h2') alpnNote = ' (upgrades must still use HTTP/1.1, as kubectl does)';
    }
  }
  let answer: { status: number; body: string };
  try {
    answer = await restCall(u, 'GET', '/version');
  } catch (e) {
    return failed('http', `GET /version failed: ${(e as Error).message}`, { alpnAccepted: alpn });
  }
  let version: string | null = null;
  try {
    version = (JSON.parse(answer.body) as { gitVersion?: string }).gitVersion ?? null;
  } catch {
    /* not JSON */
  }
  const data = { layer: 'http', status: answer.status, serverVersion: version, alpnOffered: ['h2', 'http/1.1'], alpnAccepted: alpn };
  if (answer.status !== 200 || version === null) {
    return { ...failed('http', `GET /version answered ${answer.status}${version ? '' : ' without a version'}; ALPN accepted ${alpn}`, data), serverVersion: version };
  }
  return {
    check: { id: 'rest', name: NAME, verdict: 'pass', detail: `server ${version}; ALPN offered h2,http/1.1, accepted ${alpn}${alpnNote}`, data },
    findings: [],
    failed: null,
    serverVersion: version,
  };
}

/** The ALPN protocol the server picks from kubectl's REST offer (h2, http/1.1). */
function probeAlpn(u: Upstream, options: UpstreamConnectionOptions): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const s = tls.connect({ ...options.tls, host: bare(u), port: Number(u.server.port || 443), ALPNProtocols: ['h2', 'http/1.1'] });
    const timer = setTimeout(() => { s.destroy(); reject(new Error('TLS handshake timed out')); }, TIMEOUT_MS);
    s.once('secureConnect', () => { clearTimeout(timer); const p = s.alpnProtocol; s.destroy(); resolve(p ? p : 'none'); });
    s.once('error', (e) => { clearTimeout(timer); reject(e); });
  });
}
