/**
 * Who a credential belongs to, remembered for a while: bounded in entries and in age, keyed by
 * the SHA-256 of the credential (never the credential itself), and one lookup at a time per
 * credential, so a burst of requests with a new token makes one review, not one each.
 *
 * An answer that names a user is kept for `ttlMs`, never past the credential's own expiry.
 * How long that may be depends on what the answer decides (gateway-admission.ts): in
 * passthrough the API server still authenticates every forwarded request, so a revoked token
 * is refused there and the cache only names the user recorded; in impersonation the cached
 * TokenReview is the whole authentication, so a revoked token keeps working until its entry
 * expires, and the gateway keeps it short.
 *
 * A failed lookup (a refused credential, an API server that could not be asked) is kept too, for
 * `failureTtlMs` and in a bound of its own, so a stream of made-up tokens costs the API server one
 * review per token and a few seconds, and never pushes the known users out.
 */
import { createHash } from 'node:crypto';

export interface IdentityCacheOptions {
  maxEntries: number;
  ttlMs: number;
  /** How long a failed lookup is remembered; 0 (the default) not at all. */
  failureTtlMs?: number;
  /** How many failed lookups are remembered at most. */
  maxFailures?: number;
  now?: () => number;
}

/** What a lookup's answer is: a success (kept up to `expiresAt`, epoch ms, when it gives one) or a failure. */
export type Judged = { ok: true; expiresAt?: number | null } | { ok: false };

interface Entry<T> {
  value: T;
  expires: number;
}

export class IdentityCache<T> {
  private readonly entries = new Map<string, Entry<T>>();
  private readonly failures = new Map<string, Entry<T>>();
  private readonly inFlight = new Map<string, Promise<T>>();
  private readonly now: () => number;

  constructor(private readonly opts: IdentityCacheOptions) {
    this.now = opts.now ?? Date.now;
  }

  get size(): number {
    return this.entries.size;
  }

  /** How many failed lookups are remembered now. */
  get failedSize(): number {
    return this.failures.size;
  }

  /** The remembered value for `credential`, else `lookup()`'s, kept as `judge` says. */
  async get(credential: string, lookup: () => Promise<T>, judge: (value: T) => Judged): Promise<T> {
    const key = createHash('sha256').update(credential).digest('base64');
    const hit = fresh(this.entries, key, this.now()) ?? fresh(this.failures, key, this.now());
    if (hit) return hit.value;
    const pending = this.inFlight.get(key);
    if (pending) return pending;
    const p = lookup().then((value) => {
      const j = judge(value);
      if (j.ok) {
        const until = Math.min(this.now() + this.opts.ttlMs, j.expiresAt ?? Infinity);
        if (until > this.now()) keep(this.entries, key, { value, expires: until }, this.opts.maxEntries);
      } else if (this.opts.failureTtlMs) {
        keep(this.failures, key, { value, expires: this.now() + this.opts.failureTtlMs }, this.opts.maxFailures ?? this.opts.maxEntries);
      }
      return value;
    }).finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, p);
    return p;
  }
}

/** The unexpired entry for `key`, refreshed as the most recently used, so the oldest unused goes first. */
function fresh<T>(map: Map<string, Entry<T>>, key: string, now: number): Entry<T> | null {
  const hit = map.get(key);
  if (!hit) return null;
  map.delete(key);
  if (hit.expires <= now) return null;
  map.set(key, hit);
  return hit;
}

function keep<T>(map: Map<string, Entry<T>>, key: string, entry: Entry<T>, max: number): void {
  map.set(key, entry);
  while (map.size > max) map.delete(map.keys().next().value!);
}
