/**
 * runtime-streaming: the upgrade went through (a 101), then the stream's status is an
 * InternalError from the container runtime's streaming server: the leg from the kubelet (or,
 * on 1.36, the API server) to the runtime failed, not the network or a gateway. Two texts that
 * only that leg writes: Go's `http: server gave HTTP response to HTTPS client` with a
 * `//[::]:PORT/cri/exec/…` URL (cri-dockerd's plain-HTTP streaming server, dialled over TLS
 * once 1.36 proxies WebSocket straight to the kubelet, ExtendWebSocketsToKubelet), and CRI-O's
 * `websocket server finished before becoming ready`.
 */
import { clip } from '../../session/answered-by.js';
import { describeRequest, seqsOf } from '../answer.js';
import type { ConnView, FindingDraft, Rule } from '../types.js';

const RUNTIME = /server gave HTTP response to HTTPS client|websocket server finished before becoming ready|\/cri\/(exec|attach|portforward)\//i;
const CRI_URL = /\/\/(\[[^\]]*\]|[^/\s"]+):(\d+)\/cri\/(exec|attach|portforward)\//i;

/** The runtime's error text of a stream's status (or of a refusal's Status body), or null. */
function runtimeText(c: ConnView): { text: string; viaStatus: boolean } | null {
  const status = c.status;
  if (status && status.reason === 'InternalError') {
    const text = `${status.message ?? ''} ${status.raw}`;
    if (RUNTIME.test(text)) return { text: status.message ?? status.raw, viaStatus: true };
  }
  const body = c.body?.k8sStatus;
  if (body?.reason === 'InternalError' && RUNTIME.test(body.message ?? '')) return { text: body.message ?? '', viaStatus: false };
  return null;
}

export const runtimeStreaming: Rule = {
  id: 'runtime-streaming',
  evaluate(view) {
    const out: FindingDraft[] = [];
    for (const c of view.upgrades) {
      const hit = runtimeText(c);
      if (!hit) continue;
      const http = /server gave HTTP response to HTTPS client/i.test(hit.text);
      const url = CRI_URL.exec(hit.text);
      out.push({
        rule: 'runtime-streaming',
        conn: c.conn,
        severity: 'error',
        title: http ? 'The container runtime\'s streaming server answered plain HTTP to a TLS dial' : 'The container runtime\'s streaming server failed the stream',
        explanation: `${hit.viaStatus ? `The upgrade was accepted (${c.response?.status ?? '?'}${c.response?.protocol ? ` ${c.response.protocol}` : ''}), then the stream's status said` : 'The answer was'} InternalError: "${clip(hit.text, 300)}". `
          + 'The network and the gateway are fine: the API server and kubelet were reached and answered; the leg to the container runtime\'s streaming server failed'
          + `${url ? ` (${url[1]}:${url[2]}, its /cri/${url[3]} endpoint)` : ''}. `
          + (http
            ? 'On Kubernetes 1.36 the API server proxies WebSocket streams straight to the kubelet (ExtendWebSocketsToKubelet), which dials the runtime over TLS; cri-dockerd serves its streams over plain HTTP, hence "server gave HTTP response to HTTPS client". '
            : 'CRI-O\'s "websocket server finished before becoming ready" is its streaming server giving up on the WebSocket path. ')
          + 'kubectl prints "error: Internal error occurred: …" and exits 1.',
        evidence: {
          facts: [describeRequest(c), `${c.conn}: ${c.response?.status ?? '?'} ${c.response?.reason ?? ''}`.trim(), `${c.conn}: ${hit.viaStatus ? 'status' : 'Status body'} InternalError: ${clip(hit.text, 200)}`],
          seqs: seqsOf(c.request, c.response, hit.viaStatus ? c.status : c.body),
        },
        hop: { where: 'kubewire↔upstream', answeredBy: 'kubelet', why: 'the text is the container runtime\'s streaming server (or the dial to it), relayed by the kubelet and the API server' },
        fix: 'Upgrade the container runtime (cri-dockerd, CRI-O) to a release that supports the 1.36 streaming path, '
          + 'or turn the feature gate off until then: `--feature-gates=ExtendWebSocketsToKubelet=false` on the API server (and the kubelet).',
      });
    }
    return out;
  },
};
