/**
 * The audit hash chain. Every record of an audit log carries `prev`, the previous record's
 * `hash`, and `hash`, SHA-256 over the record's canonical JSON without `hash` (RFC 8785, JSON
 * Canonicalization Scheme: keys sorted, no whitespace, ECMAScript number and string forms).
 * With a key (`--audit-key-file`) the hash is HMAC-SHA256 under that key, so someone who edits
 * the log cannot recompute the chain.
 *
 * The line itself is written in the event's own key order with `prev` and `hash` last, for
 * people reading it; only the hash input is canonical, so a verifier never depends on how a
 * writer orders keys.
 */
import { createHash, createHmac } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { ChainInfo } from '../events/types.js';

/** `prev` of a chain's first record. */
export const GENESIS = '0'.repeat(64);

/** A key shorter than this is refused: HMAC under a guessable key proves nothing. */
export const MIN_KEY_BYTES = 16;

/**
 * RFC 8785 for the values an event holds (objects, arrays, strings, finite numbers, booleans,
 * null): keys sorted by UTF-16 code units, strings and numbers as ECMAScript's JSON.stringify
 * writes them (RFC 8785 §3.2.2 adopts exactly that), no whitespace; a string with a lone
 * surrogate has no RFC 8785 form and throws. The `canonicalize` package is the reference, and a
 * property test holds this to it; this one checks strings with the native isWellFormed instead
 * of a loop over every character, which halves the cost of a record with a 64 KiB payload.
 */
export function canonicalJson(value: unknown): string {
  switch (typeof value) {
    case 'string':
      if (!(value as string & { isWellFormed(): boolean }).isWellFormed()) throw new TypeError('a string with a lone surrogate has no canonical JSON form');
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`${value} has no JSON form`);
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object': {
      if (value === null) return 'null';
      if (Array.isArray(value)) return `[${value.map((v) => (v === undefined || typeof v === 'function' || typeof v === 'symbol' ? 'null' : canonicalJson(v))).join(',')}]`;
      const obj = value as Record<string, unknown>;
      const keys = Object.keys(obj).filter((k) => { const v = obj[k]; return v !== undefined && typeof v !== 'function' && typeof v !== 'symbol'; }).sort();
      let out = '{';
      for (let i = 0; i < keys.length; i++) {
        const k = keys[i]!;
        if (i > 0) out += ',';
        out += `${canonicalJson(k)}:${canonicalJson(obj[k])}`;
      }
      return `${out}}`;
    }
    default:
      throw new TypeError(`a ${typeof value} has no JSON form`);
  }
}

/** The hash of a record (which must not contain `hash`), hex. */
export function recordHash(record: object, key: Buffer | null): string {
  const input = canonicalJson(record);
  return (key ? createHmac('sha256', key) : createHash('sha256')).update(input, 'utf8').digest('hex');
}

/** A name for a key that does not reveal it: 16 hex digits of a domain-separated SHA-256. */
export function keyIdOf(key: Buffer): string {
  return createHash('sha256').update('kubewire audit key id\0').update(key).digest('hex').slice(0, 16);
}

export function chainInfo(key: Buffer | null): ChainInfo {
  return key ? { algorithm: 'hmac-sha256', keyId: keyIdOf(key) } : { algorithm: 'sha256', keyId: null };
}

export class KeyFileError extends Error {}

/**
 * Reads an HMAC key: the file's bytes, less one trailing newline (so `echo`/`base64` output
 * works as is), at least MIN_KEY_BYTES long.
 */
export async function readKeyFile(path: string): Promise<Buffer> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new KeyFileError(`cannot read the key file ${path}: ${err.code === 'ENOENT' ? 'no such file' : err.code === 'EACCES' ? 'permission denied' : err.message}`);
  }
  let end = bytes.length;
  if (end > 0 && bytes[end - 1] === 0x0a) end--;
  if (end > 0 && bytes[end - 1] === 0x0d) end--;
  const key = bytes.subarray(0, end);
  if (key.length < MIN_KEY_BYTES) {
    throw new KeyFileError(`the key file ${path} holds ${key.length} bytes; an audit key needs at least ${MIN_KEY_BYTES} (for example: head -c 32 /dev/urandom | base64 > ${path})`);
  }
  return key;
}

export interface LinkedRecord {
  /** The JSON line, without the newline. */
  line: string;
  hash: string;
}

/**
 * Links records into a chain: each gets `prev` (the last hash) and its own `hash`. Sans-IO: the
 * caller writes the lines.
 */
export class ChainLinker {
  private lastHash: string;

  constructor(private readonly key: Buffer | null, prev: string = GENESIS) {
    this.lastHash = prev;
  }

  get last(): string {
    return this.lastHash;
  }

  /** `record` must not carry `prev` or `hash`; they are added here. */
  link(record: object): LinkedRecord {
    let withPrev = { ...record, prev: this.lastHash };
    let hash: string;
    try {
      hash = recordHash(withPrev, this.key);
    } catch {
      // RFC 8785 has no form for a lone UTF-16 surrogate; such a string (never seen from the
      // decoders, whose text is decoded UTF-8) is written with U+FFFD in its place.
      withPrev = wellFormed(withPrev) as typeof withPrev;
      hash = recordHash(withPrev, this.key);
    }
    const json = JSON.stringify(withPrev);
    this.lastHash = hash;
    return { line: `${json.slice(0, -1)},"hash":"${hash}"}`, hash };
  }
}

function wellFormed(value: unknown): unknown {
  if (typeof value === 'string') return (value as string & { toWellFormed(): string }).toWellFormed();
  if (Array.isArray(value)) return value.map(wellFormed);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [wellFormed(k) as string, wellFormed(v)]));
  return value;
}
