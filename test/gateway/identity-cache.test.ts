/**
 * The gateway's identity cache: a user is remembered for the mode's TTL (short in
 * impersonation, where the cached review is the authentication) and never past the token's own
 * expiry; a failed lookup is remembered briefly, in a bound of its own.
 */
import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { GatewayAdmission, IDENTITY_TTL_MS } from '../../src/gateway/gateway-admission.js';
import { IdentityCache } from '../../src/gateway/identity-cache.js';
import { jwtExpiry } from '../../src/gateway/user-review.js';
import type { Upstream } from '../../src/proxy/upstream.js';

describe('IdentityCache', () => {
  it('keeps a user for its TTL, or until the credential expires if sooner', async () => {
    let now = 1_000_000;
    const cache = new IdentityCache<string>({ maxEntries: 10, ttlMs: 10_000, now: () => now });
    let asked = 0;
    const lookup = async (): Promise<string> => `v${++asked}`;
    expect(await cache.get('a', lookup, () => ({ ok: true }))).toBe('v1');
    now += 9_999;
    expect(await cache.get('a', lookup, () => ({ ok: true }))).toBe('v1');
    now += 1;
    expect(await cache.get('a', lookup, () => ({ ok: true, expiresAt: now + 2000 }))).toBe('v2');
    now += 2000;
    expect(await cache.get('a', lookup, () => ({ ok: true }))).toBe('v3');
  });

  it('keeps a failure briefly and in its own bound, so made-up tokens neither multiply reviews nor push users out', async () => {
    let now = 0;
    const cache = new IdentityCache<string>({ maxEntries: 2, ttlMs: 60_000, failureTtlMs: 5000, maxFailures: 3, now: () => now });
    let asked = 0;
    const fail = async (): Promise<string> => `no${++asked}`;
    await cache.get('user', async () => 'alice', () => ({ ok: true }));
    expect(await cache.get('bad', fail, () => ({ ok: false }))).toBe('no1');
    expect(await cache.get('bad', fail, () => ({ ok: false }))).toBe('no1');
    for (let i = 0; i < 10; i++) await cache.get(`random-${i}`, fail, () => ({ ok: false }));
    expect(cache.failedSize).toBe(3);
    expect(cache.size).toBe(1);
    expect(await cache.get('user', async () => 'asked again', () => ({ ok: true }))).toBe('alice');
    now += 5000;
    const before = asked;
    await cache.get('random-9', fail, () => ({ ok: false }));
    expect(asked).toBe(before + 1);
  });
});

describe('GatewayAdmission cache lifetimes', () => {
  it('uses 10 s in impersonation and 60 s in passthrough', () => {
    expect(IDENTITY_TTL_MS).toEqual({ passthrough: 60_000, impersonate: 10_000 });
    const ttl = (a: GatewayAdmission): number => (a as unknown as { cache: { opts: { ttlMs: number } } }).cache.opts.ttlMs;
    expect(ttl(new GatewayAdmission({ mode: 'impersonate', upstream: {} as Upstream, cache: { maxEntries: 5 } }))).toBe(10_000);
    expect(ttl(new GatewayAdmission({ mode: 'passthrough', upstream: {} as Upstream }))).toBe(60_000);
  });

  it('reads a JWT\'s exp, and nothing from a token that is not one', () => {
    const jwt = (payload: object): string => `h.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.s`;
    expect(jwtExpiry(jwt({ exp: 1700000000 }))).toBe(1700000000_000);
    expect(jwtExpiry(jwt({ sub: 'x' }))).toBeNull();
    expect(jwtExpiry('opaque-token')).toBeNull();
    expect(jwtExpiry('a.%%%.c')).toBeNull();
  });

  it('asks once for a refused token within the failure lifetime', async () => {
    const admission = new GatewayAdmission({ mode: 'impersonate', upstream: {} as Upstream });
    let reviews = 0;
    const cache = (admission as unknown as { cache: IdentityCache<unknown> }).cache;
    const original = cache.get.bind(cache);
    cache.get = (credential, _lookup, judge) => original(credential, async () => (reviews++, { ok: false, status: 401, message: 'Unauthorized' }), judge);
    const req = { headers: { authorization: 'Bearer made-up' }, rawHeaders: ['Authorization', 'Bearer made-up'], socket: {} } as unknown as IncomingMessage;
    for (let i = 0; i < 5; i++) expect(await admission.admit(req)).toMatchObject({ ok: false, status: 401 });
    expect(reviews).toBe(1);
  });
});
