/**
 * buffering: a plain streaming response (`logs -f`, a watch) arrived in one late burst. The API
 * server sends the headers of a follow/watch response at once and the body as it comes; when the
 * headers take seconds and the whole body arrives just before the end, a proxy held the response
 * back. Only clear evidence counts: the request and the response timestamps, the close, bytes.
 */
import { tsOf } from '../stream.js';
import { describeRequest, seconds, seqsOf, upstreamHop } from '../answer.js';
import type { ConnView, FindingDraft, Rule } from '../types.js';

/** Headers of a streaming response later than this are suspicious. */
export const SLOW_HEADERS_MS = 5_000;
/** Other requests of the session must have been this many times faster. */
const USUAL_FACTOR = 10;

export const buffering: Rule = {
  id: 'buffering',
  evaluate(view) {
    const out: FindingDraft[] = [];
    const usual = median(view.conns.filter((c) => !isStream(c)).map(ttfb).filter((x): x is number => x !== null));
    for (const c of view.conns) {
      if (!isStream(c) || !c.close || c.close.bytes.s2c <= 0 || (c.response?.status ?? 0) >= 300) continue;
      const first = ttfb(c);
      const respondedAt = tsOf(c.response);
      const closedAt = tsOf(c.close);
      if (first === null || respondedAt === null || closedAt === null || first < SLOW_HEADERS_MS) continue;
      if (usual !== null && first < usual * USUAL_FACTOR) continue;
      // The whole body came with or right after the late headers: one burst, not a stream.
      const tail = closedAt - respondedAt;
      if (tail > Math.max(1000, first * 0.1)) continue;
      const what = c.request?.k8s?.operation === 'log' ? '`logs -f` output' : 'the watch';
      out.push({
        rule: 'buffering',
        conn: c.conn,
        severity: 'warn',
        title: `${what[0]!.toUpperCase()}${what.slice(1)} arrived in one burst after ${seconds(first)}`,
        explanation: `The API server starts a follow or watch response at once and streams it as data comes. Here the response headers took ${seconds(first)}`
          + `${usual !== null ? ` (other requests of this command: ${Math.round(usual)} ms)` : ''} and all ${c.close.bytes.s2c} bytes arrived within ${seconds(tail)} of them, right before the end: `
          + 'a proxy on the path buffers the response instead of streaming it.',
        evidence: {
          facts: [describeRequest(c), `${c.conn}: response headers ${seconds(first)} after the request`, `${c.conn}: closed ${seconds(tail)} after the headers, ${c.close.bytes.s2c} bytes down`],
          seqs: seqsOf(c.request, c.response, c.close),
        },
        hop: upstreamHop(c),
        fix: 'Turn response buffering off for the API server: nginx `proxy_buffering off;` (or `X-Accel-Buffering: no`), no gzip on streamed responses; '
          + 'other gateways: disable response buffering or content inspection for /api and /apis.',
      });
    }
    return out;
  },
};

function isStream(c: ConnView): boolean {
  const r = c.request;
  if (!r || r.type !== 'http.request') return false;
  const q = r.target.includes('?') ? r.target.slice(r.target.indexOf('?') + 1) : '';
  const params = new URLSearchParams(q);
  const on = (k: string): boolean => params.getAll(k).some((v) => v === 'true' || v === '1');
  return (r.k8s?.operation === 'log' && on('follow')) || on('watch');
}

function ttfb(c: ConnView): number | null {
  const a = tsOf(c.request);
  const b = tsOf(c.response);
  return a === null || b === null ? null : b - a;
}

function median(xs: number[]): number | null {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}
