/**
 * Who a credential belongs to, remembered for a while: bounded in entries and in age, keyed by
 * the SHA-256 of the credential (never the credential itself), and one lookup at a time per
 * credential, so a burst of requests with a new token makes one review, not one each.
 *
 * Only answers that name a user are kept. A credential revoked meanwhile is still refused by
 * the API server on every request it forwards: the cache only decides the name recorded, never
 * what anyone may do.
 */
import { createHash } from 'node:crypto';

export interface IdentityCacheOptions {
  maxEntries: number;
  ttlMs: number;
  now?: () => number;
}

export class IdentityCache<T> {
  private readonly entries = new Map<string, { value: T; expires: number }>();
  private readonly inFlight = new Map<string, Promise<T>>();
  private readonly now: () => number;

  constructor(private readonly opts: IdentityCacheOptions) {
    this.now = opts.now ?? Date.now;
  }

  get size(): number {
    return this.entries.size;
  }

  /** The remembered value for `credential`, else `lookup()`'s, kept when `keep` says so. */
  async get(credential: string, lookup: () => Promise<T>, keep: (value: T) => boolean): Promise<T> {
    const key = createHash('sha256').update(credential).digest('base64');
    const hit = this.entries.get(key);
    if (hit && hit.expires > this.now()) {
      // Refreshed as the most recently used, so the oldest unused entry goes first.
      this.entries.delete(key);
      this.entries.set(key, hit);
      return hit.value;
    }
    if (hit) this.entries.delete(key);
    const pending = this.inFlight.get(key);
    if (pending) return pending;
    const p = lookup().then((value) => {
      if (keep(value)) this.keep(key, value);
      return value;
    }).finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, p);
    return p;
  }

  private keep(key: string, value: T): void {
    this.entries.set(key, { value, expires: this.now() + this.opts.ttlMs });
    while (this.entries.size > this.opts.maxEntries) this.entries.delete(this.entries.keys().next().value!);
  }
}
