/**
 * Primary events and derived records. Primary events are what kubewire saw on the wire and in
 * its relay: connections, requests, answers, frames, data, statuses, its own errors. Derived
 * records are what consumers made of them and wrote back into the same log: findings
 * (diagnosis), audit records (the chain), sink reports. Consumers that derive something read
 * primary events only, so a record never feeds the process that made it; this is the one
 * place that says which is which.
 */
import type { EventType } from './types.js';

export type RecordKind = 'primary' | 'derived' | 'lifecycle';

export function recordKind(type: EventType | string): RecordKind {
  if (type === 'finding' || type.startsWith('audit.') || type.startsWith('sink.')) return 'derived';
  if (type === 'proxy.start' || type === 'proxy.stop') return 'lifecycle';
  return 'primary';
}
