/**
 * The lease period of both stores' writers (file-lease.ts, pg-lease.ts): a writer renews its
 * lease every HEARTBEAT_MS, so a lease not renewed for LEASE_SECONDS (four heartbeats missed)
 * belongs to a writer that is gone, or cut off from the store.
 */
export const LEASE_SECONDS = 60;
export const HEARTBEAT_MS = 15_000;
