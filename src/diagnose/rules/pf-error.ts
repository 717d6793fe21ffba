/**
 * pf-error: text on a port-forward error stream (SPDY `streamtype: error`, the tunnel, or a legacy
 * WebSocket error channel). The kubelet writes `error forwarding port P to pod …: <cause>` there;
 * kubectl prints `an error occurred forwarding L -> P: …` and the whole command exits with
 * `error: lost connection to pod` (protocol.md A §3a, B §7).
 */
import { clip } from '../../session/answered-by.js';
import { describeRequest, seqsOf } from '../answer.js';
import type { FindingDraft, Rule } from '../types.js';

/** Causes in the order they decide, the first found wins (the kubelet joins its IPv4 and IPv6 dial errors in one text). */
const CAUSES = [/connection refused/i, /i\/o timeout|timed? ?out/i, /no route to host/i, /network is unreachable/i, /socat not found|nsenter/i];

/**
 * The cause a title names: a known one wherever it stands, else the last `: `-part. The kubelet
 * writes `IPv4: dial tcp4 127.0.0.1:8080: connect: connection refused IPv6 dial tcp6: address
 * localhost: no suitable address`; the IPv6 part only says there was no IPv6 address to try.
 */
export function causeText(message: string): string {
  for (const re of CAUSES) {
    const m = re.exec(message);
    if (m) return m[0];
  }
  return message.split(': ').pop() ?? message;
}

export const pfError: Rule = {
  id: 'pf-error',
  evaluate(view) {
    const out: FindingDraft[] = [];
    for (const c of view.conns) {
      const first = c.pfErrors[0];
      if (!first) continue;
      const port = first.port ?? c.request?.k8s?.ports[0] ?? null;
      const pod = c.request?.k8s?.pod ? `${c.request.k8s.namespace ?? 'default'}/${c.request.k8s.pod}` : 'the pod';
      const cause = /connection refused/i.test(first.message)
        ? `Nothing accepts connections on port ${port ?? '?'} inside ${pod}: the process is not listening there, listens on another port, or is not up yet.`
        : /socat|nsenter/i.test(first.message)
          ? 'The node lacks a tool the container runtime uses for port-forward (socat or nsenter).'
          : /timed? ?out|timeout/i.test(first.message)
            ? `The connection to port ${port ?? '?'} inside the pod timed out (a network policy or firewall inside the pod's namespace).`
            : /not found|no such|not running/i.test(first.message)
              ? 'The pod\'s sandbox or container is gone or not running.'
              : '';
      out.push({
        rule: 'pf-error',
        conn: c.conn,
        severity: 'error',
        title: `Port-forward to port ${port ?? '?'} failed: ${clip(causeText(first.message), 70)}`,
        explanation: `The node's kubelet wrote on the error stream of port ${port ?? '?'}${first.requestId !== null ? ` (connection ${first.requestId})` : ''}: "${clip(first.message, 300)}". ${cause} `
          + 'kubectl prints "an error occurred forwarding … -> …" and then exits with `error: lost connection to pod` (rc 1): every forwarded port of the command stops, not only this connection.'
          + (c.pfErrors.length > 1 ? ` ${c.pfErrors.length} errors in all.` : ''),
        evidence: {
          facts: [describeRequest(c), ...c.pfErrors.slice(0, 5).map((e) => `${c.conn} #${e.seq}: port ${e.port ?? '?'}${e.requestId !== null ? ` req ${e.requestId}` : ''}: ${clip(e.message, 160)}`)],
          seqs: seqsOf(c.request, ...c.pfErrors),
        },
        hop: { where: 'kubewire↔upstream', answeredBy: 'kubelet', why: 'the port-forward error stream is written by the kubelet (container runtime) on the pod\'s node' },
        fix: /connection refused/i.test(first.message)
          ? `Forward to a port the container listens on: \`kubectl get pod ${c.request?.k8s?.pod ?? 'POD'} -o jsonpath='{.spec.containers[*].ports}'\`, and check with \`kubectl exec ${c.request?.k8s?.pod ?? 'POD'} -- ss -ltn\` (or netstat) that it listens on ${port ?? 'that port'} (port-forward connects to localhost inside the pod).`
          : 'Check the pod and the node: `kubectl describe pod`, the kubelet and container runtime logs on that node.',
      });
    }
    return out;
  },
};
