/**
 * Audit chain format 1, as kubewire wrote audit logs before format 2 (src/audit/chain.ts): a
 * record's hash is over its RFC 8785 canonical JSON without `hash`, and its line is
 * `JSON.stringify` of the record with `prev` and `hash` last; the chain info names no format.
 * Kept here, and only here, to write logs in the old format, so that `verify` is held to them.
 */
import { ChainLinker, chainInfo, GENESIS, recordHash, type LinkedRecord } from '../../src/audit/chain.js';
import type { ChainInfo } from '../../src/events/types.js';

/** 1 and 2: the formats of older writers; 3 is what AuditSink writes (test/audit/audit-sink.test.ts). */
export type ChainFormat = 1 | 2 | 3;

/** The chain info a log of `format` declares. */
export function chainInfoOf(key: Buffer | null, format: ChainFormat): ChainInfo {
  const { format: _format, ...v1 } = chainInfo(key);
  return format === 1 ? v1 : { ...v1, format };
}

/** The chain format a parsed `chain` field declares. */
export function formatOf(chain: unknown): ChainFormat {
  const format = (chain as { format?: unknown } | null)?.format;
  return format === 2 || format === 3 ? format : 1;
}

/** The format-1 counterpart of ChainLinker. */
export class CanonicalChainLinker {
  private lastHash: string;

  constructor(private readonly key: Buffer | null, prev: string = GENESIS) {
    this.lastHash = prev;
  }

  get last(): string {
    return this.lastHash;
  }

  link(record: object): LinkedRecord {
    let withPrev = { ...record, prev: this.lastHash };
    let hash: string;
    try {
      hash = recordHash(withPrev, this.key);
    } catch {
      // RFC 8785 has no form for a lone UTF-16 surrogate; the format-1 writer put U+FFFD there.
      withPrev = wellFormed(withPrev) as typeof withPrev;
      hash = recordHash(withPrev, this.key);
    }
    this.lastHash = hash;
    const line = `${JSON.stringify(withPrev).slice(0, -1)},"hash":"${hash}"}`;
    return { line, hash, data: Buffer.from(`${line}\n`, 'utf8') };
  }
}

/** A linker of either format. */
export function linkerOf(format: ChainFormat, key: Buffer | null, prev: string = GENESIS): { link(record: object): LinkedRecord; readonly last: string } {
  return format === 1 ? new CanonicalChainLinker(key, prev) : new ChainLinker(key, prev);
}

function wellFormed(value: unknown): unknown {
  if (typeof value === 'string') return (value as string & { toWellFormed(): string }).toWellFormed();
  if (Array.isArray(value)) return value.map(wellFormed);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [wellFormed(k) as string, wellFormed(v)]));
  return value;
}
