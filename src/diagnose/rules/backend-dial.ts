/**
 * backend-dial: the API server could not reach the kubelet (`error dialing backend: …`, AM
 * upgradeaware.go). With the v5 translator this arrives as a Status on channel 3 after a 101,
 * otherwise as the answer to the upgrade.
 */
import { bodyText } from '../../session/answered-by.js';
import { describeAnswer, describeRequest, seqsOf } from '../answer.js';
import type { FindingDraft, Rule } from '../types.js';

const DIAL = /error dialing backend[^"\n]*/i;

export const backendDial: Rule = {
  id: 'backend-dial',
  evaluate(view) {
    const out: FindingDraft[] = [];
    for (const c of view.conns) {
      const texts = [c.body?.k8sStatus?.message ?? '', bodyText(c), c.status?.message ?? '', c.status?.raw ?? ''];
      const m = texts.map((t) => DIAL.exec(t)).find((x) => x !== null);
      if (!m) continue;
      const viaStatus = c.status !== null && DIAL.test(`${c.status.message ?? ''}${c.status.raw}`);
      const cause = /i\/o timeout|timed out|deadline/i.test(m[0]) ? 'timeout' : /connection refused/i.test(m[0]) ? 'refused' : /no such host|lookup/i.test(m[0]) ? 'dns' : /x509|certificate|tls/i.test(m[0]) ? 'tls' : 'other';
      out.push({
        rule: 'backend-dial',
        conn: c.conn,
        severity: 'error',
        title: 'The API server could not reach the kubelet',
        explanation: `The API server answered "${m[0].trim()}": it reached no kubelet on the pod's node (port 10250) to carry the stream. `
          + { timeout: 'A timeout points at a firewall or a missing control-plane-to-node tunnel (Konnectivity).', refused: 'Connection refused: the kubelet is not listening (stopped, or on another port).', dns: 'The node\'s address does not resolve from the control plane (check --kubelet-preferred-address-types).', tls: 'The TLS handshake with the kubelet failed (kubelet serving certificate).', other: '' }[cause]
          + (viaStatus ? ' It arrived as the stream\'s status after the 101: the API server accepts the WebSocket before dialling the kubelet.' : '')
          + ' `kubectl logs` fails the same way.',
        evidence: {
          facts: [describeRequest(c), viaStatus ? `${c.conn}: status "${c.status?.message ?? c.status?.raw ?? ''}"` : `${c.conn}: ${describeAnswer(c)}`],
          seqs: seqsOf(c.request, c.response, c.body, viaStatus ? c.status : null),
        },
        hop: { where: 'kubewire↔upstream', answeredBy: 'api-server', why: '"error dialing backend" is written by the API server when it cannot open the connection to the kubelet' },
        fix: 'Check that the node is Ready (`kubectl get nodes`), that the control plane can reach the kubelet port 10250 on the node (firewall, security groups), '
          + 'and, where the control plane reaches nodes through Konnectivity (GKE, AKS, EKS with private nodes), that the konnectivity-agent pods run (`kubectl -n kube-system get pods | grep konnectivity`).',
      });
    }
    return out;
  },
};
