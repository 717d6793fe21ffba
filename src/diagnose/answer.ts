/**
 * Describing a connection's request and answer for findings: what was asked, what came back,
 * who wrote it, and whether it was kubectl's last word. The facts themselves (the handshake
 * verdict, hop attribution, the fallback rule) are the session model's (src/session); this
 * file only puts them into words.
 */
import type { FindingHop } from '../events/types.js';
import { attribute, bodyText, clip, isHtml, isKubeStatusBody, isPlain } from '../session/answered-by.js';
import { header } from '../session/handshake.js';
import { FALLBACK_GRACE_MS, retryOf } from '../session/session-facts.js';
import { offersTunnel } from '../session/upgrade-kind.js';
import type { ConnView, SessionView } from './types.js';

export function operationOf(c: ConnView): string | null {
  return c.request?.k8s?.operation ?? null;
}

/** exec and attach carry a remote command (channels, a status); port-forward carries ports. */
export function isRemoteCommand(c: ConnView): boolean {
  const op = operationOf(c);
  return op === 'exec' || op === 'attach';
}

/** The port-forward tunnel (KEP-4006): SPDY inside WebSocket. */
export function isTunnelRequest(c: ConnView): boolean {
  return c.upgradeKind === 'websocket' && offersTunnel(c.request?.offered ?? []);
}

export function isHttp2(version: string | undefined | null): boolean {
  return !!version && /^(HTTP\/)?2(\.0)?$/i.test(version.trim());
}

/** The answer is complete enough to judge: its body arrived, or cannot come any more. */
export function answerComplete(c: ConnView): boolean {
  const r = c.response;
  if (!r) return false;
  if (r.status === 101 || c.body !== null || c.ended) return true;
  // The proxy relays plain requests without recording their bodies: the head is all there will be.
  if (c.open?.kind === 'http') return true;
  const length = header(r.headers, 'content-length');
  return length !== null && Number(length) === 0;
}

export function htmlTitle(text: string): string | null {
  const m = /<title[^>]*>([^<]*)<\/title>/i.exec(text);
  return m ? m[1]!.replace(/\s+/g, ' ').trim() || null : null;
}

/** The Status message of the answer, or its text (first line, bounded). */
export function answerMessage(c: ConnView): string | null {
  const status = c.body?.k8sStatus;
  if (status?.message) return status.message;
  const text = bodyText(c).trim();
  if (!text) return null;
  if (isHtml(c)) return htmlTitle(text) ?? 'an HTML page';
  return clip(text.split('\n')[0]!, 200);
}

/** `403 Forbidden with a Status (reason Forbidden): "…"`, `404 Not Found with an HTML page ("…")`, … */
export function describeAnswer(c: ConnView): string {
  const r = c.response;
  if (!r) return 'no answer (the connection closed first)';
  const head = `${r.status} ${r.reason}`.trim();
  if (r.status === 101) return `${head}${r.protocol ? ` (${r.protocol})` : ''}`;
  const status = c.body?.k8sStatus;
  if (status && (isKubeStatusBody(c) || status.reason !== null)) {
    return `${head} with a Status${status.reason ? ` (reason ${status.reason})` : ''}${status.message ? `: "${clip(status.message, 200)}"` : ''}`;
  }
  if (isHtml(c)) {
    const title = htmlTitle(bodyText(c));
    return `${head} with an HTML page${title ? ` ("${clip(title, 80)}")` : ''}`;
  }
  const text = bodyText(c).trim();
  if (text) return `${head} with the text "${clip(text, 200)}"`;
  if (c.body) return `${head} with a ${c.body.size}-byte ${c.body.contentType ?? 'binary'} body`;
  // Plain requests go through http-proxy, whose bodies kubewire does not record.
  if (isPlain(c)) return `${head}${r.contentType ? ` (${r.contentType})` : ''}`;
  return `${head} with an empty body`;
}

/** `c3: GET /api/v1/…/exec (WebSocket, offers v5.channel.k8s.io)` */
export function describeRequest(c: ConnView): string {
  const r = c.request;
  if (!r) return `${c.conn}: (no request seen)`;
  const t = c.upgradeKind;
  const what = t === 'websocket' ? (isTunnelRequest(c) ? 'WebSocket tunnel' : 'WebSocket') : t === 'spdy' ? 'SPDY/3.1' : r.upgrade ? `Upgrade: ${r.upgrade}` : null;
  const offers = r.offered.length ? `offers ${r.offered.join(', ')}` : '';
  const detail = [what, offers].filter(Boolean).join(', ');
  return `${c.conn || 'connection'}: ${r.method} ${r.path}${detail ? ` (${detail})` : ''}`;
}

export function upstreamHop(c: ConnView): FindingHop {
  return { where: 'kubewire↔upstream', ...attribute(c) };
}

/** kubectl's SPDY retry of this refused WebSocket attempt, by the session model's fallback rule. */
export function laterUpgrade(view: SessionView, c: ConnView): ConnView | undefined {
  return retryOf(c, view.upgrades) ?? undefined;
}

/**
 * A refusal is kubectl's last word: nothing follows it. SPDY refusals and plain requests always
 * are (kubectl has no further fallback); a refused WebSocket attempt is, unless kubectl retried
 * it over SPDY, once the session settled without a retry, or FALLBACK_GRACE_MS after it closed
 * (the model's fallback rule: a later retry is no longer its fallback).
 */
export function isFinalAnswer(view: SessionView, c: ConnView, closedAt: number | null): boolean {
  if (c.upgradeKind !== 'websocket') return true;
  if (retryOf(c, view.upgrades)) return false;
  if (view.ended) return true;
  return closedAt !== null && Number.isFinite(view.now) && view.now - closedAt >= FALLBACK_GRACE_MS;
}

export function seqsOf(...events: ({ seq: number } | null | undefined)[]): number[] {
  return [...new Set(events.filter((e): e is { seq: number } => !!e).map((e) => e.seq))].sort((a, b) => a - b);
}

export function seconds(ms: number): string {
  const s = ms / 1000;
  return s >= 10 ? `${Math.round(s)} s` : `${s.toFixed(1)} s`;
}
