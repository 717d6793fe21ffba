/**
 * forward-proxy: a proxy answered instead of the API server. Either kubewire could not cross the
 * kubeconfig's proxy-url (`proxy.error` KW_ERR_UPSTREAM_PROXY: CONNECT refused, proxy unreachable),
 * or the answer is one the API server never writes: an HTML page, a 407, or headers of a proxy
 * product (Proxy-Agent, X-Squid-Error, Server: squid/Zscaler/…).
 */
import { bodyText, clip, isHtml } from '../../session/answered-by.js';
import { header } from '../../session/handshake.js';
import { answerComplete, describeAnswer, describeRequest, htmlTitle, laterUpgrade, seqsOf } from '../answer.js';
import type { ConnView, FindingDraft, Rule } from '../types.js';

const FORWARD_PROXY_SERVER = /squid|zscaler|bluecoat|proxysg|fortigate|forcepoint|websense|mcafee|symantec|netskope|palo ?alto|cisco|proxy/i;

export const forwardProxy: Rule = {
  id: 'forward-proxy',
  evaluate(view) {
    const out: FindingDraft[] = [];
    for (const c of view.conns) {
      const pe = c.proxyErrors.find((e) => e.code === 'KW_ERR_UPSTREAM_PROXY');
      if (pe) {
        out.push({
          rule: 'forward-proxy',
          conn: c.conn,
          severity: 'error',
          title: 'The forward proxy from the kubeconfig refused the tunnel',
          explanation: `kubewire goes to the API server through the kubeconfig's proxy-url, as kubectl would, and the proxy failed it: ${pe.message}. `
            + `kubectl got a 502 from kubewire${pe.status !== null ? ` (${pe.status})` : ''} naming this cause; without kubewire it would have failed the same way.`,
          evidence: { facts: [...(c.request ? [describeRequest(c)] : []), `${c.conn}: ${pe.code} ${pe.message}`], seqs: seqsOf(c.request, pe) },
          hop: { where: 'kubewire↔upstream', answeredBy: 'kubewire', why: `kubewire reported ${pe.code}: the proxy between it and the API server failed the CONNECT` },
          fix: 'Ask for the API server\'s host and port to be allowed through CONNECT (and long-lived connections after it), or reach it without the proxy: remove proxy-url from the cluster entry or add the host to NO_PROXY.',
        });
        continue;
      }
      const marker = proxyMarker(c);
      if (!marker) continue;
      out.push({
        rule: 'forward-proxy',
        conn: c.conn,
        // A refused WebSocket attempt that kubectl retried over SPDY: the retry decides.
        severity: laterUpgrade(view, c) ? 'warn' : 'error',
        title: c.response?.status === 407 ? 'A proxy wants authentication (407)' : 'A proxy answered instead of the API server',
        explanation: `The answer was ${describeAnswer(c)}, with ${marker}. The API server answers with a 101 or a JSON Status, never ${c.response?.status === 407 ? 'a 407' : 'like this'}: `
          + 'a proxy on the path (a corporate proxy, TLS inspection, or a gateway in front of the API server) wrote it, and kubectl shows its text as if the server had.',
        evidence: { facts: [describeRequest(c), `${c.conn}: ${describeAnswer(c)}`, `${c.conn}: ${marker}`], seqs: seqsOf(c.request, c.response, c.body) },
        hop: { where: 'kubewire↔upstream', answeredBy: 'intermediary', why: marker },
        fix: 'If a corporate proxy is in the way (HTTPS_PROXY, proxy-url), exempt the API server (NO_PROXY) or ask for an exception that allows CONNECT and WebSocket/SPDY upgrades to it without TLS inspection; '
          + 'otherwise find the gateway named by the Server/Via headers and route the API server through it unchanged.',
      });
    }
    return out;
  },
};

function proxyMarker(c: ConnView): string | null {
  const r = c.response;
  if (!r || r.status === 101 || !answerComplete(c)) return null;
  if (r.status === 407) return `407 Proxy Authentication Required${header(r.headers, 'proxy-authenticate') ? ` (Proxy-Authenticate: ${header(r.headers, 'proxy-authenticate')})` : ''}`;
  for (const name of ['proxy-agent', 'x-squid-error']) {
    const v = header(r.headers, name);
    if (v !== null) return `${name}: ${v}`;
  }
  const server = header(r.headers, 'server');
  if (server && FORWARD_PROXY_SERVER.test(server)) return `Server: ${server}`;
  const via = header(r.headers, 'via');
  if (via && FORWARD_PROXY_SERVER.test(via)) return `Via: ${via}`;
  if (isHtml(c)) {
    const title = htmlTitle(bodyText(c));
    return `an HTML page${title ? ` titled "${clip(title, 80)}"` : ''}`;
  }
  return null;
}
