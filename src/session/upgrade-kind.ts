/**
 * Which streaming transport a request asks for, read from its `Upgrade` header: `websocket`
 * (RFC 6455 §4.1, kubectl 1.30+ for exec/attach/cp, 1.31+ for port-forward) or `SPDY/3.1`
 * (the legacy one, a POST). The port-forward tunnel (KEP-4006) is a WebSocket upgrade that
 * offers `SPDY/3.1+portforward.k8s.io`.
 */
export type UpgradeKind = 'websocket' | 'spdy';

export function upgradeKindOf(upgrade: string | null | undefined): UpgradeKind | null {
  const u = upgrade?.trim() ?? '';
  if (/^websocket$/i.test(u)) return 'websocket';
  if (/^spdy\//i.test(u)) return 'spdy';
  return null;
}

/** The port-forward tunnel: SPDY framed inside WebSocket binary messages (KEP-4006). */
export function offersTunnel(offered: readonly string[]): boolean {
  return offered.some((p) => /^SPDY\/3\.1\+/i.test(p));
}
