/**
 * The audit hash chain. Every record of an audit log carries `prev`, the previous record's
 * `hash`, and `hash`, a SHA-256 of the record without `hash`; with a key (`--audit-key-file`) an
 * HMAC-SHA256 under that key, so someone who edits the log cannot recompute the chain.
 *
 * What exactly is hashed is the chain's format, declared in `audit.start` and every `audit.file`
 * (`chain.format`):
 * - format 3 (`"format": 3`, what kubewire writes): hashed as format 2. What it adds is where a
 *   rotating log switches files: the writer seals a file before a record that would not fit,
 *   and that seal and the next file's `audit.file` repeat the seq of the record before them;
 *   and a payload event too long for a file is written as pieces of the same seq, each with
 *   `piece: {index, count}` (record-pieces.ts).
 * - format 2 (`"format": 2`): the record's line itself, as bytes, without its last member
 *   `,"hash":"…"`. The writer builds the line once (event-line.ts), hashes it in one pass and
 *   writes those same bytes, then puts the hash in. A verifier hashes the bytes it reads, so any
 *   change to a line, even one that leaves its JSON value alone, breaks its hash. Every record
 *   has a seq of its own: a rotation's seal and `audit.file` came from the bus.
 * - format 1 (no `format`, logs written before format 2): RFC 8785 canonical JSON of the record
 *   without `hash` (JSON Canonicalization Scheme: keys sorted, no whitespace, ECMAScript number
 *   and string forms), independent of how the line was written. That meant a second serializing
 *   of every record, big payloads included; `verify` still checks such logs.
 *
 * Lines are written in the event's own key order with a payload after the other fields, then
 * `prev`, then `hash`, for people reading them.
 */
import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { ChainInfo } from '../events/types.js';
import { encodeEventLine, type LineAllocator } from '../sinks/event-line.js';

/** `prev` of a chain's first record. */
export const GENESIS = '0'.repeat(64);

/** The format kubewire writes (see above); a chain without `format` is format 1. */
export const CHAIN_FORMAT = 3;

/** The formats `verify` checks. */
export const KNOWN_CHAIN_FORMATS: readonly unknown[] = [1, 2, 3];

/** Whether a format hashes each line's bytes (2 and 3) rather than the canonical JSON (1). */
export function hashesLineBytes(format: unknown): boolean {
  return format === 2 || format === 3;
}

/** The format a chain declares: 1 when it names none (logs from before format 2). */
export function chainFormatOf(info: { format?: unknown }): unknown {
  return info.format ?? 1;
}

/** A key shorter than this is refused: HMAC under a guessable key proves nothing. */
export const MIN_KEY_BYTES = 16;

/**
 * Format 1's hash input, kept for `verify` of older logs. RFC 8785 for the values an event holds
 * (objects, arrays, strings, finite numbers, booleans, null): keys sorted by UTF-16 code units,
 * strings and numbers as ECMAScript's JSON.stringify writes them (RFC 8785 §3.2.2 adopts exactly
 * that), no whitespace; a string with a lone surrogate has no RFC 8785 form and throws. The
 * `canonicalize` package is the reference, and a property test holds this to it; this one
 * checks strings with the native isWellFormed instead of a loop over every character, which
 * halves the cost of a record with a 64 KiB payload.
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

/** Format 1: the hash of a record (which must not contain `hash`), hex. */
export function recordHash(record: object, key: Buffer | null): string {
  const input = canonicalJson(record);
  return (key ? createHmac('sha256', key) : createHash('sha256')).update(input, 'utf8').digest('hex');
}

/** A name for a key that does not reveal it: 16 hex digits of a domain-separated SHA-256. */
export function keyIdOf(key: Buffer): string {
  return createHash('sha256').update('kubewire audit key id\0').update(key).digest('hex').slice(0, 16);
}

export function chainInfo(key: Buffer | null, signature: ChainInfo['signature'] | null = null): ChainInfo {
  const info: ChainInfo = key ? { algorithm: 'hmac-sha256', keyId: keyIdOf(key), format: CHAIN_FORMAT } : { algorithm: 'sha256', keyId: null, format: CHAIN_FORMAT };
  if (signature) info.signature = signature;
  return info;
}

/** `,"hash":"` + 64 hex digits + `"}`: how a format-2 line ends. */
const HASH_MEMBER = ',"hash":"';
export const LINE_HASH_SUFFIX_BYTES = HASH_MEMBER.length + 64 + 2;
const HASH_PLACEHOLDER = '0'.repeat(64);
const CLOSE_BRACE = Buffer.from('}');
const HASH_MEMBER_BYTES = Buffer.from(HASH_MEMBER);

function hasher(key: Buffer | null): Hash | Hmac {
  return key ? createHmac('sha256', key) : createHash('sha256');
}

/**
 * Format 2: the hash a line (without its newline) claims, and the one its bytes give: over the
 * line up to its last member `,"hash":"…"`, and the closing brace. Null when the line does not
 * end with that member, exactly as the writer puts it.
 */
export function lineHashes(line: Buffer, key: Buffer | null): { claimed: string; computed: string } | null {
  const at = line.length - LINE_HASH_SUFFIX_BYTES;
  if (at < 1 || line[line.length - 1] !== 0x7d || line[line.length - 2] !== 0x22) return null;
  if (!line.subarray(at, at + HASH_MEMBER.length).equals(HASH_MEMBER_BYTES)) return null;
  const claimed = line.toString('latin1', at + HASH_MEMBER.length, line.length - 2);
  if (!/^[0-9a-f]{64}$/.test(claimed)) return null;
  const computed = hasher(key).update(line.subarray(0, at)).update(CLOSE_BRACE).digest('hex');
  return { claimed, computed };
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
  /** The JSON line with its newline, as written. */
  data: Buffer;
  hash: string;
  /** The JSON line as text, without the newline. */
  readonly line: string;
}

/**
 * Links records into a chain of line-byte hashes (formats 2 and 3): each gets `prev` (the last hash) and its own `hash`.
 * Sans-IO: the caller writes the lines, in memory from `alloc` (the audit sink's LineArena).
 */
export class ChainLinker {
  private lastHash: string;

  constructor(private readonly key: Buffer | null, prev: string = GENESIS, private readonly alloc?: LineAllocator) {
    this.lastHash = prev;
  }

  get last(): string {
    return this.lastHash;
  }

  /** `record` must not carry `prev` or `hash`; they are added here. */
  link(record: object): LinkedRecord {
    // The line is serialized once, `prev` and a placeholder hash last: `{…,"prev":"…","hash":"0…0"}\n`.
    const data = encodeEventLine(record, `,"prev":"${this.lastHash}"${HASH_MEMBER}${HASH_PLACEHOLDER}"`, this.alloc);
    // The hash input is the line without `,"hash":"…"`: everything before it, then `}`. A lone
    // UTF-16 surrogate needs no care here (format 1 had no form for it): JSON.stringify writes
    // it as a \u escape (ECMAScript 2019, well-formed JSON.stringify), so the line is ASCII
    // there, and the hash is over its bytes.
    const end = data.length - 1 - LINE_HASH_SUFFIX_BYTES;
    const hash = hasher(this.key).update(data.subarray(0, end)).update(CLOSE_BRACE).digest('hex');
    data.write(hash, end + HASH_MEMBER.length, 'latin1');
    this.lastHash = hash;
    return {
      data,
      hash,
      get line(): string {
        return data.toString('utf8', 0, data.length - 1);
      },
    };
  }
}
