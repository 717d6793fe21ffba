/**
 * How far an audit store is behind, on its own: the relay's thread reads it (the gateway's
 * `/metrics`) without loading the audit sink and the chain behind it.
 */

/** How far a store is behind: what the gateway's `/metrics` shows as store lag and spool size. */
export interface StoreBacklog {
  /** When the oldest record not yet in the store was handed to it (ms since the epoch), or null. */
  oldestUnstoredAt: number | null;
  /** Bytes in the local spool waiting for the store. */
  spoolBytes: number;
}

/** What a files log or store reports: never behind. */
export const NO_BACKLOG: StoreBacklog = { oldestUnstoredAt: null, spoolBytes: 0 };
