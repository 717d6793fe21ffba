/**
 * `--translate auto`: which transports this upstream refuses, learnt from its answers.
 *
 * Every upgrade is relayed byte-exactly until the upstream refuses a transport with an answer
 * that means "not here" rather than "not you" (protocol.md A §4, §5):
 * - 400 `Upgrade request required`: the Upgrade header did not arrive (an ALB, an HTTP/2 hop);
 * - 400 `query parameter "port" is required`: the kubelet got a tunnel the API server did not
 *   translate (PortForwardWebsockets off);
 * - a 403 or 404 that the API server did not write (no Audit-Id, no Status from it: a gateway's
 *   page, or the kubelet's empty x/net 403 to a v5 exec that no translator took), as the
 *   session model attributes it (src/session/answered-by.ts);
 * - no answer at all.
 * From then on that transport's exec, attach and port-forward are translated for the life of
 * the process, and the verdict is said once (stderr and the log).
 *
 * The refused attempt itself is not retried in place: its answer was relayed to the client as it
 * came (the relay never holds a byte to judge it), and kubectl's own fallback may already retry
 * over the other transport. The next attempt of the refused transport is the translated one.
 */
import { attribute, bodyText } from '../session/answered-by.js';
import type { ConnectionFacts } from '../session/connection-facts.js';

export type UpgradeTransport = 'spdy' | 'websocket';

export class TransportVerdicts {
  private readonly refused = new Map<UpgradeTransport, string>();

  /** `say` is told once per transport, with why it was judged refused. */
  constructor(private readonly say: (transport: UpgradeTransport, why: string) => void) {}

  refuses(transport: UpgradeTransport): boolean {
    return this.refused.has(transport);
  }

  /** One ended connection: a relayed streaming upgrade refused as "not here" sets the verdict. */
  judge(c: ConnectionFacts): void {
    const transport = c.upgradeKind;
    if ((transport !== 'spdy' && transport !== 'websocket') || c.open?.translated || this.refused.has(transport)) return;
    const op = c.request?.k8s?.operation;
    if (op !== 'exec' && op !== 'attach' && op !== 'portforward') return;
    const why = notHere(c);
    if (why === null) return;
    this.refused.set(transport, why);
    this.say(transport, why);
  }
}

/** Why the answer means the transport does not get through here, or null. */
export function notHere(c: ConnectionFacts): string | null {
  const r = c.response;
  if (r === null) {
    // Only an upstream that ended or failed without a word; a client that left first proves nothing.
    // An error counts only on the upstream's side: a client killed while waiting (ECONNRESET) is
    // also an 'error' close, and would turn translation on for the rest of the process.
    const by = c.close?.closedBy;
    const upstreamError = by === 'error' && /^upstream socket/.test(c.close?.error ?? '');
    return by === 'upstream' || upstreamError ? 'no answer' : null;
  }
  const text = bodyText(c);
  if (r.status === 400 && /Upgrade request required/.test(text)) return '400 Upgrade request required';
  if (r.status === 400 && /query parameter "port" is required/.test(text)) return '400 query parameter "port" is required (the tunnel was not translated)';
  if (r.status === 403 || r.status === 404) {
    const by = attribute(c).answeredBy;
    if (by !== 'api-server') return `${r.status} ${r.reason || ''} from ${by === 'unknown' ? 'something other than the API server' : `the ${by}`}`.replace(/  +/g, ' ');
  }
  return null;
}
