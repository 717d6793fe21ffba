/**
 * What the PostgreSQL writer stores with a record besides its line: its type and, for an
 * `audit.session`, its session index row (session-index.ts). One function builds it from the
 * record, both as the writer links it (its `annotate`, open-store.ts) and as a spooled record is
 * read back for upload (pg-output.ts), so that a session spooled during an outage is indexed
 * exactly as one that went to the database directly.
 */
import type { KubewireEvent } from '../events/types.js';
import { SessionIndexer, type SessionRow } from './session-index.js';

export interface RecordAttachment {
  type: string;
  row?: SessionRow;
}

/** The record's attachment; `indexer` is fed the records of its chain in order, this one now. */
export function recordAttachment(indexer: SessionIndexer, e: KubewireEvent): RecordAttachment {
  const row = indexer.push(e);
  return row ? { type: e.type, row } : { type: e.type };
}

/** The writer's `annotate` for a store: each record's attachment, indexed from the chain's start. */
export function storeAnnotator(): (e: KubewireEvent) => RecordAttachment {
  const indexer = new SessionIndexer();
  return (e) => recordAttachment(indexer, e);
}
