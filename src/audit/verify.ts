/**
 * `kubewire verify`: checks an audit log (one file, or the rotated parts of one chain) against
 * the format of `--audit`: every record's `hash` matches its content, `prev` links it to the
 * record before, `seq` counts up by one (except across a recorded `audit.gap`), every file
 * starts with `audit.start` (part 1) or `audit.file` (parts ≥ 2) and ends with its seal, the
 * last file's seal is final, and session and file seals count and name what they close.
 *
 * It stops at the first problem and says what it is, where (file and line) and what most
 * likely happened: a record changed, records missing or moved, a file cut short, a part missing
 * or the files given out of order. Logs can be many gigabytes, so files are read as streams,
 * line by line; what is held is one line plus a small state per open session.
 *
 * Every chain format is checked (chain.ts): formats 2 and 3 hash each line's bytes as read,
 * format 1 (logs from before them) the RFC 8785 canonical JSON of the parsed record; the format
 * is the one the chain's first record declares, and every part must declare the same. In format
 * 3 a rotation's file seal and the next file's `audit.file` repeat the seq of the record before
 * them, and the pieces of an event cut for `--max-size` share its seq, in order, each piece
 * after the one before (only a rotation may stand between two of them, or an `audit.gap` that
 * declares the event's seq lost when the log failed while writing it).
 *
 * The checker (`ChainChecker`) is sans-IO: it is fed lines and says what is wrong. The
 * shell (`verifyFiles`) reads the files, looks ahead in a file when a seq jump needs telling
 * apart (a record moved vs. removed), and assembles the result.
 */
import { open } from 'node:fs/promises';
import { basename } from 'node:path';
import type { ChainInfo } from '../events/types.js';
import { chainFormatOf, GENESIS, hashesLineBytes, keyIdOf, KNOWN_CHAIN_FORMATS, lineHashes, recordHash } from './chain.js';
import type { KeyObject } from 'node:crypto';
import { readFileLines } from '../sinks/jsonl-lines.js';
import { sealSignatureValid, signingKeyIdOf } from './seal-signature.js';

export type ProblemKind = 'changed' | 'missing' | 'reordered' | 'truncated' | 'file-order' | 'seal' | 'key';

export interface VerifyProblem {
  kind: ProblemKind;
  /** The file as given. */
  file: string;
  /** 1-based line number in `file`; null when the problem is the file as a whole. */
  line: number | null;
  /** The seq of the record at that line, when it has one. */
  seq: number | null;
  message: string;
  /**
   * The chain only stops where a writer still writing it would be: its last file ends without
   * its seal (or inside its last line), or its last seal is not final. Tampering when the
   * writer is gone; what `verify --store` calls open for a replica being written.
   */
  unsealedEnd?: true;
}

export interface VerifiedFile {
  path: string;
  /** The part number its first record declares (1 for `audit.start`), or null if unknown. */
  part: number | null;
  /** Records checked in this file (all of them when the chain is intact). */
  records: number;
}

export interface RecordedGap {
  file: string;
  line: number;
  fromSeq: number;
  toSeq: number;
  reason: string;
}

export interface VerifyResult {
  /**
   * `intact`: every check passed and the chain is authenticated (its HMAC checked with
   * `--key-file`, or its signed seals with `--public-key`). `consistent`: every check passed,
   * but nothing authenticates it (a plain SHA-256 chain, or a key that was not given): anyone can
   * write such a chain, so it is never called intact.
   */
  status: 'intact' | 'consistent' | 'tampered' | 'unreadable';
  /** The chain's HMAC or seal signatures were checked with the key given. */
  authenticated: boolean;
  /** The first problem found; verification stops there. Null unless `status` is `tampered`. */
  problem: VerifyProblem | null;
  /** Why the log could not be checked, for status `unreadable`. */
  unreadable: string | null;
  files: VerifiedFile[];
  /** Records checked, in all files. */
  records: number;
  /** Distinct sessions closed by at least one session seal. */
  sessionsSealed: number;
  /** `audit.gap` records: seqs the writer could not write. Not tampering. */
  gaps: RecordedGap[];
  chain: ChainInfo | null;
  /** The hash of the last record checked (the final seal when intact): an anchor to keep. */
  lastHash: string | null;
  /** The last seal checked says the chain ends there. */
  final: boolean;
}

export interface VerifyOptions {
  /** The HMAC key of a keyed chain (`--audit-key-file`), or null. */
  key: Buffer | null;
  /** The Ed25519 public key its seals are signed with (`--audit-signing-key`), or null. */
  publicKey?: KeyObject | null;
}

/**
 * One file of a chain, or what stands for one (a run of a replica in a store): where it is, for
 * messages, and its lines in order.
 */
export interface ChainSource {
  path: string;
  /** Why it cannot be read at all, checked before its lines (a directory, a missing file), or null. */
  check?(): Promise<string | null>;
  lines(): AsyncGenerator<Line, void, undefined>;
}

/** Longer lines are not read: no record kubewire writes comes near this. */
export const MAX_AUDIT_LINE_BYTES = 64 * 1024 * 1024;
const HEX64 = /^[0-9a-f]{64}$/;

// ---------------------------------------------------------------------------------------------
// The shell: files in, result out.

export async function verifyFiles(paths: string[], opts: VerifyOptions): Promise<VerifyResult> {
  return verifySources(paths.map(fileSource), opts);
}

/** A file as a chain source. */
export function fileSource(path: string): ChainSource {
  return { path, check: () => checkFile(path), lines: () => readLines(path) };
}

export async function verifySources(sources: ChainSource[], opts: VerifyOptions): Promise<VerifyResult> {
  const paths = sources.map((s) => s.path);
  if (sources.length === 0) return unreadableResult([], 'no audit log given');
  const heads: FileHead[] = [];
  for (const source of sources) {
    const head = await readHead(source);
    if (typeof head === 'string') return unreadableResult(paths, head);
    heads.push(head);
  }
  const refused = checkKey(heads, opts.key) ?? checkPublicKey(heads, opts.publicKey ?? null);
  if (refused) return unreadableResult(paths, refused);

  const checker = new ChainChecker(heads, opts.key, opts.publicKey ?? null);
  for (let i = 0; i < heads.length; i++) {
    checker.startFile(i);
    const lines = sources[i]!.lines();
    try {
      for (let next = await lines.next(); !next.done; next = await lines.next()) {
        const line = next.value;
        if (line.text === null) {
          return checker.unreadable(`${heads[i]!.path}:${line.lineNo}: a line longer than ${MAX_AUDIT_LINE_BYTES / 1024 / 1024} MiB; no audit record is that long, and verify does not read it`);
        }
        const outcome = checker.line(line.text, line.lineNo, !line.newline, line.bytes!);
        if (outcome === null) continue;
        if ('kind' in outcome) return checker.fail(outcome.kind === 'truncated' && !line.newline && i === heads.length - 1 ? { ...outcome, unsealedEnd: true } : outcome);
        // A seq jump with a broken link: a record moved (it is further on) or removed (it is not).
        const found = await findSeq(lines, outcome.expected);
        return checker.fail(checker.describeJump(outcome, found));
      }
    } catch (e) {
      return checker.unreadable(`cannot read ${heads[i]!.path}: ${describeReadError(e)}`);
    } finally {
      await lines.return(undefined);
    }
    const problem = checker.endFile();
    if (problem) return checker.fail(i === heads.length - 1 ? { ...problem, unsealedEnd: true } : problem);
  }
  const problem = checker.endChain();
  return problem ? checker.fail({ ...problem, unsealedEnd: true }) : checker.passed();
}

/** What the first lines of a file say: read before verifying, to name parts and the key early. */
export interface FileHead {
  path: string;
  /** `audit.start` → 1, `audit.file` → its part; null when the first record says neither. */
  part: number | null;
  chain: ChainInfo | null;
  empty: boolean;
}

/**
 * Opens the file and reads at most its first two lines. A file is an audit log when one of them
 * is a record with `prev` and `hash` (two, so that one damaged first line is reported as damage,
 * not as "not an audit log").
 */
async function checkFile(path: string): Promise<string | null> {
  try {
    const fh = await open(path, 'r');
    try {
      if ((await fh.stat()).isDirectory()) return `cannot read ${path}: it is a directory, not a file`;
    } finally {
      await fh.close();
    }
  } catch (e) {
    return `cannot read ${path}: ${describeReadError(e)}`;
  }
  return null;
}

async function readHead(source: ChainSource): Promise<FileHead | string> {
  const path = source.path;
  const refused = await source.check?.();
  if (refused) return refused;
  const first: unknown[] = [];
  const lines = source.lines();
  try {
    for (let next = await lines.next(); !next.done && first.length < 2; next = await lines.next()) {
      first.push(next.value.text === null ? undefined : parseObject(next.value.text));
    }
  } catch (e) {
    return `cannot read ${path}: ${describeReadError(e)}`;
  } finally {
    await lines.return(undefined);
  }
  if (first.length === 0) return { path, part: null, chain: null, empty: true };
  const records = first.filter(isObject);
  if (!first.some(isAuditRecord)) {
    if (records.length === 0) return `${path} is not an audit log: its first line is not JSON`;
    return `${path} is not an audit log (written without --audit): its records carry no hash or prev`;
  }
  const r = first[0];
  if (!isAuditRecord(r)) return { path, part: null, chain: null, empty: false };
  const chain = isChainInfo(r['chain']) ? r['chain'] : null;
  if (r['type'] === 'audit.start') return { path, part: 1, chain, empty: false };
  if (r['type'] === 'audit.file' && isCount(r['part'])) return { path, part: r['part'], chain, empty: false };
  return { path, part: null, chain: null, empty: false };
}

/**
 * Whether the key given fits the chain, from the first file that declares it. A keyed chain
 * cannot be checked without its key, or with another; a plain chain checked with a key is
 * reported by the checker, as tampering (the records say so where they are read).
 */
function checkKey(heads: FileHead[], key: Buffer | null): string | null {
  if (heads[0]!.empty) return `${heads[0]!.path} is empty: an audit log starts with an audit.start record`;
  const declared = heads.find((h) => h.chain !== null);
  if (!declared) return null;
  const chain = declared.chain!;
  if (chain.algorithm !== 'hmac-sha256' && chain.algorithm !== 'sha256') {
    return `${declared.path} declares the chain algorithm ${JSON.stringify(chain.algorithm)}, which verify does not know`;
  }
  const format = chainFormatOf(chain);
  if (!KNOWN_CHAIN_FORMATS.includes(format)) {
    return `${declared.path} declares the chain format ${JSON.stringify(format)}, which verify does not know (it knows ${KNOWN_CHAIN_FORMATS.slice(0, -1).join(', ')} and ${String(KNOWN_CHAIN_FORMATS.at(-1))}): a newer kubewire wrote it, or the record was changed`;
  }
  if (chain.algorithm !== 'hmac-sha256') return null;
  if (!key) {
    return `${declared.path} is a keyed audit chain (hmac-sha256, key id ${chain.keyId ?? 'not given'}): pass --key-file with the key it was written with (--audit-key-file)`;
  }
  const id = keyIdOf(key);
  if (id !== chain.keyId) {
    return `the key given has id ${id}, but ${declared.path} was written with the key whose id is ${chain.keyId ?? '(none)'}: pass the key the log was written with`;
  }
  return null;
}

export interface Line {
  /** Null for a line over MAX_AUDIT_LINE_BYTES (not read). */
  text: string | null;
  /** The line's bytes as read (what formats 2 and 3 hash), null when `text` is. */
  bytes: Buffer | null;
  lineNo: number;
  /** False for a last line with no newline after it. */
  newline: boolean;
}

/** The file's lines, 1-based, read chunk by chunk; a line is never held beyond the bound. */
async function* readLines(path: string): AsyncGenerator<Line, void, undefined> {
  for await (const l of readFileLines(path, MAX_AUDIT_LINE_BYTES)) yield { text: l.bytes === null ? null : l.bytes.toString('utf8'), bytes: l.bytes, lineNo: l.lineNo, newline: l.newline };
}

/**
 * Reads on in the current file for the record with seq `wanted`, reading only seqs (the
 * envelope puts `seq` second, so a prefix match almost always does). Bounded by the file.
 */
async function findSeq(lines: AsyncGenerator<Line, void, undefined>, wanted: number): Promise<number | null> {
  for (let next = await lines.next(); !next.done; next = await lines.next()) {
    const { text, lineNo } = next.value;
    if (text !== null && seqOfLine(text) === wanted) return lineNo;
  }
  return null;
}

function seqOfLine(text: string): number | null {
  const m = /^\{"v":\d+,"seq":(\d+)[,}]/.exec(text);
  if (m) return Number(m[1]);
  const r = parseObject(text);
  return r && typeof r['seq'] === 'number' ? r['seq'] : null;
}

function describeReadError(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  switch (err.code) {
    case 'ENOENT': return 'no such file';
    case 'EACCES':
    case 'EPERM': return 'permission denied';
    case 'EISDIR': return 'it is a directory, not a file';
    default: return err.message ?? String(e);
  }
}

/**
 * Whether the public key given fits the chain: a chain whose seals are signed by another key
 * cannot be checked with this one. A chain with no signatures at all is reported by the checker,
 * as tampering where it says so (a downgrade).
 */
function checkPublicKey(heads: FileHead[], publicKey: KeyObject | null): string | null {
  if (!publicKey) return null;
  const declared = heads.find((h) => h.chain !== null)?.chain?.signature;
  if (!declared) return null;
  const id = signingKeyIdOf(publicKey);
  if (declared.keyId !== id) return `the public key given has id ${id}, but the seals of ${heads[0]!.path} are signed by the key whose id is ${declared.keyId}: pass the public key of the --audit-signing-key the log was written with`;
  return null;
}

export function unreadableResult(paths: string[], why: string): VerifyResult {
  return {
    status: 'unreadable', authenticated: false, problem: null, unreadable: why,
    files: paths.map((path) => ({ path, part: null, records: 0 })),
    records: 0, sessionsSealed: 0, gaps: [], chain: null, lastHash: null, final: false,
  };
}

// ---------------------------------------------------------------------------------------------
// The checker: lines in, problems out. No I/O.

/** A seq jump at a record whose `prev` does not link: the shell looks for `expected` further on. */
export interface SeqJump {
  expected: number;
  file: string;
  line: number;
  seq: number;
  /** Where the last good record is. */
  lastLine: number;
  lastFile: string;
}

type Rec = Record<string, unknown> & { seq: number; type: string; prev: string; hash: string };

interface SessionSegment {
  count: number;
  last: string | null;
  file: string;
  line: number;
}

interface Position {
  file: string;
  line: number;
  seq: number;
  type: string;
}

export class ChainChecker {
  private fileIndex = -1;
  private files: VerifiedFile[];
  private records = 0;
  private fileRecords = 0;
  private lastHash: string | null = null;
  private lastSeq: number | null = null;
  private last: Position | null = null;
  /** The file seal of the current file, once read: nothing may follow it in the file. */
  private sealLine: number | null = null;
  private lastSealFinal = false;
  private lastSealPart: number | null = null;
  private chain: ChainInfo | null = null;
  private readonly sessions = new Map<string, SessionSegment>();
  private readonly sealedSessions = new Set<string>();
  private readonly gaps: RecordedGap[] = [];
  /** Format 3: the event whose pieces are being read, and the piece that comes next. */
  private openPiece: { seq: number; type: string; next: number; count: number; line: number; file: string } | null = null;

  /** The hash input of every record: the format the chain's first declaring record names. */
  private readonly format: unknown;

  constructor(private readonly heads: readonly FileHead[], private readonly key: Buffer | null, private readonly publicKey: KeyObject | null = null) {
    this.files = heads.map((h) => ({ path: h.path, part: h.part, records: 0 }));
    const declared = heads.find((h) => h.chain !== null)?.chain;
    this.format = declared ? chainFormatOf(declared) : 1;
  }

  private get path(): string {
    return this.heads[this.fileIndex]!.path;
  }

  startFile(index: number): void {
    this.fileIndex = index;
    this.fileRecords = 0;
    this.sealLine = null;
  }

  /**
   * Checks one line, without its newline: its text, and its bytes as read (what formats 2 and 3 hash;
   * the text's UTF-8 when not given). `cutShort`: the file ends on this line without a newline.
   * Returns null when the record is good, a problem, or a seq jump for the shell to resolve.
   */
  line(text: string, lineNo: number, cutShort: boolean, bytes?: Buffer): VerifyProblem | SeqJump | null {
    const file = this.path;
    const at = (kind: ProblemKind, message: string, seq: number | null = null): VerifyProblem => ({ kind, file, line: lineNo, seq, message });

    if (this.sealLine !== null) {
      return at('changed', `line ${lineNo} follows the seal of this file (line ${this.sealLine}); a file ends with its seal, so lines were added after it`, seqOfLine(text));
    }
    const parsed = parseObject(text);
    if (!parsed) {
      if (cutShort) return at('truncated', `line ${lineNo} is cut short: the file ends inside a record (no newline, not complete JSON), so its end was cut off`);
      return at('changed', text.trim() === '' ? `line ${lineNo} is empty; an audit log has no empty lines` : `line ${lineNo} is not JSON; it was changed`);
    }
    const shape = shapeError(parsed);
    if (shape) return at('changed', `line ${lineNo} was changed: ${shape}`, typeof parsed['seq'] === 'number' ? parsed['seq'] : null);
    const r = parsed as Rec;
    const what = `line ${lineNo} (seq ${r.seq}, ${r.type})`;
    const fail = (kind: ProblemKind, message: string): VerifyProblem => at(kind, message, r.seq);

    // A chain declared as plain SHA-256 cannot be one checked with a key: someone rewrote it.
    if ((r.type === 'audit.start' || r.type === 'audit.file') && this.key && isChainInfo(r['chain']) && r['chain'].algorithm === 'sha256') {
      return fail('key', `${what} declares a plain SHA-256 chain, but a key was given: the chain was rewritten without the key (if this log was recorded without --audit-key-file, verify it without --key-file)`);
    }

    const downgrade = this.checkSignature(r, what);
    if (downgrade) return fail('key', downgrade);

    const raw = bytes ?? Buffer.from(text, 'utf8');
    if (!this.hashMatches(r, raw, this.key)) {
      const plain = this.key !== null && this.hashMatches(r, raw, null);
      return fail('changed', `${what} was changed: its hash does not match its content${plain ? ' (the hash is plain SHA-256, made without the key: the record was edited and its hash recomputed)' : ''}`);
    }

    if (this.fileRecords === 0) {
      const start = this.checkFileStart(r, lineNo);
      if (start) return start;
    }

    // Linkage: prev and seq.
    const link = this.checkLink(r, lineNo, what);
    if (link) return link;

    const typed = this.checkType(r, lineNo, what);
    if (typed) return typed;

    // Accepted.
    if (r.type === 'audit.seal' && r['scope'] === 'session') this.closeSession(r['session'] as string);
    else if (typeof r['session'] === 'string') this.countForSession(r['session'], r.hash, lineNo);
    // A gap record that lost nothing (a retry no longer needed: fromSeq null, records 0) is
    // an ordinary record in seq order.
    const gap = r.type === 'audit.gap' ? gapFields(r) : null;
    if (gap) this.gaps.push({ file, line: lineNo, fromSeq: gap.fromSeq, toSeq: gap.toSeq, reason: String(r['reason']) });
    this.lastHash = r.hash;
    this.lastSeq = r.seq;
    this.last = { file, line: lineNo, seq: r.seq, type: r.type };
    this.records++;
    this.fileRecords++;
    this.files[this.fileIndex]!.records++;
    return null;
  }

  /**
   * With `--public-key`: the chain must declare signed seals, and every seal must carry a valid
   * signature. A chain rewritten without them (or a seal whose signature was dropped) is a
   * downgrade, which is tampering, never an unsigned chain that passes.
   */
  private checkSignature(r: Rec, what: string): string | null {
    if (!this.publicKey) return null;
    if ((r.type === 'audit.start' || r.type === 'audit.file') && isChainInfo(r['chain']) && !r['chain'].signature) {
      return `${what} declares a chain without signed seals, but a public key was given: the signatures were removed and the chain rewritten (a downgrade; if this log was recorded without --audit-signing-key, verify it without --public-key)`;
    }
    if (r.type !== 'audit.seal') return null;
    if (typeof r['signature'] !== 'string') return `${what} carries no signature, but the chain's seals are signed: it was removed (a downgrade)`;
    if (!sealSignatureValid(r, this.publicKey)) return `${what}: its signature does not verify with the public key given: the seal or a record before it was changed`;
    return null;
  }

  /**
   * Whether the record's `hash` is its hash: formats 2 and 3 over the line's bytes up to its last member
   * `"hash"` (the parsed `hash` is that member: a later key wins in JSON.parse), format 1 over the
   * canonical JSON of the rest of the parsed record.
   */
  private hashMatches(r: Rec, bytes: Buffer, key: Buffer | null): boolean {
    if (hashesLineBytes(this.format)) {
      const h = lineHashes(bytes, key);
      return h !== null && h.claimed === r.hash && h.computed === r.hash;
    }
    const { hash, ...content } = r;
    try {
      return recordHash(content, key) === hash;
    } catch {
      return false; // no canonical form (a lone surrogate): a format-1 writer never hashed such a record
    }
  }

  /** The first record of a file: the right part, in the right place, continuing the file before. */
  private checkFileStart(r: Rec, lineNo: number): VerifyProblem | null {
    const file = this.path;
    const at = (kind: ProblemKind, message: string): VerifyProblem => ({ kind, file, line: lineNo, seq: r.seq, message });
    const first = this.fileIndex === 0;
    const expectedPart = first ? 1 : (this.lastSealPart ?? 0) + 1;
    const prevPath = first ? null : this.heads[this.fileIndex - 1]!.path;
    const part = r.type === 'audit.start' ? 1 : r.type === 'audit.file' && isCount(r['part']) ? r['part'] : null;
    if (!first && this.lastSealFinal) {
      return at('file-order', `${file} is given after ${prevPath}, whose seal says the chain ends there: ${part === 1 ? 'it starts another chain; verify each chain on its own' : `give the parts in order: ${this.rightOrder()}`}`);
    }
    if (part === null) return null; // Not a file start: the link check says what is missing.
    if (part === expectedPart) {
      if (part === 1) {
        if (r.prev !== GENESIS) return at('changed', `line ${lineNo} (audit.start) was changed: its prev is not the chain's start (64 zeros)`);
        if (!isChainInfo(r['chain'])) return at('changed', `line ${lineNo} (audit.start) was changed: it does not say how the chain is made`);
        this.chain = r['chain'];
        return null;
      }
      if (first) return null; // unreachable: part 1 is expected first
      if (r['previousHash'] !== this.lastHash || r.prev !== this.lastHash) {
        return at('changed', `${file} (part ${part}) does not continue ${prevPath}: its audit.file links to a seal with hash ${short(String(r['previousHash']))}, but the seal of ${prevPath} has hash ${short(this.lastHash)} (a file of another chain, or one of them was changed)`);
      }
      return null;
    }
    const givenLater = (p: number): FileHead | undefined => this.heads.slice(this.fileIndex + 1).find((h) => h.part === p);
    if (part > expectedPart) {
      if (givenLater(expectedPart)) {
        return at('file-order', `${file} is part ${part}, but part ${expectedPart} (${givenLater(expectedPart)!.path}) is given after it; give the parts in order: ${this.rightOrder()}`);
      }
      const names = range(expectedPart, part - 1).map((p) => (p === part - 1 && typeof r['previousFile'] === 'string' ? r['previousFile'] : partName(prevPath ?? file, p)));
      const named = names.every((n) => n !== null) ? ` (${names.join(', ')})` : '';
      const which = part - expectedPart === 1 ? `part ${expectedPart}${named} is missing` : `parts ${expectedPart}..${part - 1}${named} are missing`;
      return at('missing', first
        ? `${which}: ${file} is part ${part} of a chain that starts with part 1; give every part, from the first, in order`
        : `${which}: ${file} is part ${part} and ${prevPath} is part ${expectedPart - 1}`);
    }
    const twin = this.heads.slice(0, this.fileIndex).find((h) => h.part === part);
    return at('file-order', twin
      ? `${file} is part ${part}, ${twin.path === file ? 'given twice' : `and so is ${twin.path}, given before it`}; give each part once, in order: ${this.rightOrder()}`
      : `${file} is part ${part}, which comes before ${prevPath} (part ${expectedPart - 1}); give the parts in order: ${this.rightOrder()}`);
  }

  /** The files given, sorted by the part their first record declares. */
  private rightOrder(): string {
    const seen = new Set<string>();
    return [...this.heads]
      .filter((h) => !seen.has(h.path) && seen.add(h.path))
      .sort((a, b) => (a.part ?? Number.MAX_SAFE_INTEGER) - (b.part ?? Number.MAX_SAFE_INTEGER))
      .map((h) => shellWord(h.path))
      .join(' ');
  }

  private checkLink(r: Rec, lineNo: number, what: string): VerifyProblem | SeqJump | null {
    const file = this.path;
    const at = (kind: ProblemKind, message: string, line = lineNo, inFile = file, seq: number | null = r.seq): VerifyProblem => ({ kind, file: inFile, line, seq, message });
    const last = this.last;
    if (last === null || this.lastSeq === null) {
      // The chain's first record: audit.start, linked to GENESIS (checked with the file start).
      if (r.type !== 'audit.start') {
        return at('missing', `the chain's first record, audit.start, is missing: ${what} is the first record of ${file}${r.prev === GENESIS ? '' : ', and its prev names a record before it'}`);
      }
      return null;
    }
    const prevOk = r.prev === this.lastHash;
    let expected = this.lastSeq + 1;
    if (this.format === 3) {
      const written = this.checkWriterSeq(r, lineNo, what);
      if (typeof written !== 'number') return written;
      expected = written;
    }
    let gapNote = '';
    if (r.type === 'audit.gap') {
      const g = gapFields(r);
      if (g && g.fromSeq === expected && g.toSeq === r.seq - 1) expected = r.seq;
      else gapNote = `; the audit.gap declares seqs ${String(r['fromSeq'])}..${String(r['toSeq'])}, which does not fit`;
    }
    const after = `line ${last.line}${last.file === file ? '' : ` of ${last.file}`} (seq ${last.seq})`;
    if (r.seq === expected) {
      if (prevOk) return null;
      // The record before was edited and its hash recomputed (or this one's prev was).
      return at('changed', `line ${last.line}${last.file === file ? '' : ` of ${last.file}`} (seq ${last.seq}, ${last.type}) or the record after it (line ${lineNo}${last.file === file ? '' : ` of ${file}`}) was changed: the later one's prev does not match the earlier one's hash, so one of them was edited and its hash recomputed`, last.line, last.file, last.seq);
    }
    if (r.seq < expected) {
      return at('reordered', `${what} comes after ${after}: seq ${r.seq} is out of place (moved or repeated)`);
    }
    const missing = expected === r.seq - 1 ? `seq ${expected} is` : `seqs ${expected}..${r.seq - 1} are`;
    if (prevOk) {
      return at('missing', `${missing} missing: ${what} follows ${after} with no audit.gap${gapNote}, yet links to it; records were removed and the chain recomputed`);
    }
    return { expected, file, line: lineNo, seq: r.seq, lastLine: last.line, lastFile: last.file };
  }

  /**
   * Format 3: the seq this record must have, or the problem it is. A rotation's records repeat
   * the seq before them; a piece after the first repeats its event's; pieces come in order.
   */
  private checkWriterSeq(r: Rec, lineNo: number, what: string): number | VerifyProblem {
    const at = (message: string): VerifyProblem => ({ kind: 'missing', file: this.path, line: lineNo, seq: r.seq, message });
    const rotation = (r.type === 'audit.seal' && r['scope'] === 'file' && r['final'] === false) || r.type === 'audit.file';
    if (rotation) return this.lastSeq!;
    const piece = pieceOf(r);
    if (piece === 'bad') return { kind: 'changed', file: this.path, line: lineNo, seq: r.seq, message: `${what} was changed: its piece is not {index, count} with 0 ≤ index < count` };
    const open = this.openPiece;
    if (open && r.type === 'audit.gap' && gapFields(r)?.fromSeq === open.seq) {
      // The log failed while writing the event's pieces: the gap says its seq was lost.
      this.openPiece = null;
      return open.seq;
    }
    if (open && !(piece && piece.index === open.next && piece.count === open.count)) {
      const where = `line ${open.line}${open.file === this.path ? '' : ` of ${open.file}`}`;
      const upTo = piece && piece.count === open.count && r.seq === open.seq && piece.index > open.next ? piece.index : open.count;
      const missing = upTo === open.next + 1 ? `piece ${upTo} of ${open.count} of that event is` : `pieces ${open.next + 1}..${upTo} of that event are`;
      return at(`${what} follows piece ${open.next} of ${open.count} of seq ${open.seq} (${open.type}, from ${where}): ${missing} missing`);
    }
    if (!piece) return this.lastSeq! + 1;
    if (piece.index === 0) {
      this.openPiece = { seq: r.seq, type: r.type, next: 1, count: piece.count, line: lineNo, file: this.path };
      return this.lastSeq! + 1;
    }
    if (!open) return at(`${what} is piece ${piece.index + 1} of ${piece.count} of an event whose first piece${piece.index > 1 ? 's are' : ' is'} missing`);
    if (r.type !== open.type || r.seq !== open.seq) return at(`${what} is a piece of seq ${open.seq} (${open.type}) but says it is seq ${r.seq}, ${r.type}`);
    open.next++;
    if (open.next === open.count) this.openPiece = null;
    return open.seq;
  }

  /** The problem a seq jump is, once the shell has looked for the expected record further on. */
  describeJump(jump: SeqJump, foundAt: number | null): VerifyProblem {
    const where = `line ${jump.line} (seq ${jump.seq})`;
    if (foundAt !== null) {
      return { kind: 'reordered', file: jump.file, line: jump.line, seq: jump.seq, message: `${where} comes before seq ${jump.expected}, which is at line ${foundAt}: records were moved` };
    }
    const n = jump.seq - jump.expected;
    const missing = n === 1 ? `seq ${jump.expected} is` : `seqs ${jump.expected}..${jump.seq - 1} are`;
    const after = `line ${jump.lastLine}${jump.lastFile === jump.file ? '' : ` of ${jump.lastFile}`}`;
    return {
      kind: 'missing', file: jump.file, line: jump.line, seq: jump.seq,
      message: `${missing} missing: ${where} follows ${after} (seq ${jump.expected - 1}) and its prev does not match that record's hash; ${n === 1 ? 'a record was' : `${n} records were`} removed`,
    };
  }

  private checkType(r: Rec, lineNo: number, what: string): VerifyProblem | null {
    const file = this.path;
    const fail = (kind: ProblemKind, message: string): VerifyProblem => ({ kind, file, line: lineNo, seq: r.seq, message });
    if (this.fileRecords === 0 && this.fileIndex > 0 && r.type !== 'audit.file') {
      return fail('missing', `${what} is the first record of ${file}, but a rotated part starts with its audit.file record`);
    }
    switch (r.type) {
      case 'audit.start':
        if (this.fileRecords !== 0 || this.fileIndex !== 0) return fail('changed', `${what}: an audit.start stands only at the start of the chain (line 1 of part 1)`);
        return null;
      case 'audit.file':
        if (this.fileRecords !== 0) return fail('changed', `${what}: an audit.file stands only on line 1 of a rotated part`);
        if (!isChainInfo(r['chain']) || !sameChain(r['chain'], this.chain)) {
          return fail('changed', `${what} declares the chain ${describeChain(r['chain'])}, but the chain began as ${describeChain(this.chain)}`);
        }
        return null;
      case 'audit.gap':
        return null;
      case 'audit.seal':
        return r['scope'] === 'file' ? this.checkFileSeal(r, lineNo, what) : this.checkSessionSeal(r, lineNo, what);
      default:
        return null;
    }
  }

  private checkFileSeal(r: Rec, lineNo: number, what: string): VerifyProblem | null {
    const file = this.path;
    const fail = (kind: ProblemKind, message: string): VerifyProblem => ({ kind, file, line: lineNo, seq: r.seq, message });
    const part = this.files[this.fileIndex]!.part;
    const count = r['count'];
    if (isCount(count) && count > this.fileRecords) {
      const n = count - this.fileRecords;
      return fail('missing', `${what}: the file's seal counts ${count} records before it, but the file holds ${this.fileRecords}: ${n === 1 ? 'a record was' : `${n} records were`} removed`);
    }
    if (count !== this.fileRecords) return fail('seal', `${what}: the file's seal counts ${String(count)} records before it, but the file holds ${this.fileRecords}`);
    if (r['last'] !== this.lastHash) return fail('seal', `${what}: the file's seal names ${short(String(r['last']))} as its last record, but the record before it has hash ${short(this.lastHash)}`);
    if (r['part'] !== part) return fail('seal', `${what}: the seal is for part ${String(r['part'])}, but the file is part ${String(part)}`);
    if (typeof r['final'] !== 'boolean') return fail('seal', `${what}: the file's seal does not say whether the chain ends here`);
    if (r['final']) {
      const open = [...this.sessions.entries()][0];
      if (open) {
        const [session, seg] = open;
        return fail('seal', `${what} ends the chain, but session ${session} has ${seg.count} record(s) since line ${seg.line}${seg.file === file ? '' : ` of ${seg.file}`} with no session seal`);
      }
    }
    this.sealLine = lineNo;
    this.lastSealFinal = r['final'];
    this.lastSealPart = part;
    return null;
  }

  private checkSessionSeal(r: Rec, lineNo: number, what: string): VerifyProblem | null {
    const file = this.path;
    const fail = (kind: ProblemKind, message: string): VerifyProblem => ({ kind, file, line: lineNo, seq: r.seq, message });
    if (r['scope'] !== 'session' || typeof r['session'] !== 'string') return fail('changed', `${what}: a seal has scope file, or scope session and a session id`);
    const session = r['session'];
    const seg = this.sessions.get(session);
    const have = seg?.count ?? 0;
    const since = seg ? ` since line ${seg.line}${seg.file === file ? '' : ` of ${seg.file}`}` : '';
    const count = r['count'];
    if (isCount(count) && count > have) {
      const n = count - have;
      return fail('missing', `${what}: the seal of session ${session} counts ${count} records, but the chain holds ${have}${since}: ${n === 1 ? 'a record of the session was' : `${n} records of the session were`} removed`);
    }
    if (count !== have) return fail('seal', `${what}: the seal of session ${session} counts ${String(count)} records, but the chain holds ${have}${since}`);
    if (r['last'] !== (seg?.last ?? null)) return fail('seal', `${what}: the seal of session ${session} names ${short(String(r['last']))} as the session's last record, but that is ${short(seg?.last ?? null)}`);
    return null;
  }

  private countForSession(session: string, hash: string, lineNo: number): void {
    const seg = this.sessions.get(session);
    if (seg) {
      seg.count++;
      seg.last = hash;
    } else {
      this.sessions.set(session, { count: 1, last: hash, file: this.path, line: lineNo });
    }
  }

  private closeSession(session: string): void {
    this.sessions.delete(session);
    this.sealedSessions.add(session);
  }

  /** The file has no more lines: it must have ended with its seal. */
  endFile(): VerifyProblem | null {
    const file = this.path;
    if (this.fileRecords === 0) {
      return { kind: 'truncated', file, line: null, seq: null, message: 'the file is empty: every file of an audit log starts with audit.start or audit.file and ends with its seal' };
    }
    if (this.sealLine !== null) return null;
    const last = this.last!;
    return {
      kind: 'truncated', file, line: last.line, seq: last.seq,
      message: `the file ends at line ${last.line} (seq ${last.seq}, ${last.type}) without the seal that closes every file: lines were removed from its end (or kubewire is still writing it, or stopped before it could seal it)`,
    };
  }

  /** All files read: the last seal must end the chain. */
  endChain(): VerifyProblem | null {
    if (this.lastSealFinal) return null;
    const file = this.path;
    const next = (this.lastSealPart ?? 0) + 1;
    const nextName = partName(file, next);
    return {
      kind: 'missing', file, line: this.sealLine, seq: this.lastSeq,
      message: `the chain goes on after ${file}: its seal (line ${this.sealLine}) is not final, and part ${next}${nextName ? ` (${nextName})` : ''} was not given (if kubewire is still writing it, verify once it has stopped)`,
    };
  }

  fail(problem: VerifyProblem): VerifyResult {
    return { ...this.result('tampered'), problem };
  }

  unreadable(why: string): VerifyResult {
    return { ...this.result('unreadable'), unreadable: why };
  }

  /** Every check passed: intact when something authenticated the chain, else consistent. */
  passed(): VerifyResult {
    return this.result(this.authenticated ? 'intact' : 'consistent');
  }

  /** The chain's own protection was checked with the key given. */
  private get authenticated(): boolean {
    if (this.key && this.chain?.algorithm === 'hmac-sha256') return true;
    return this.publicKey !== null && this.chain?.signature !== undefined;
  }

  result(status: VerifyResult['status']): VerifyResult {
    return {
      status, authenticated: status === 'intact', problem: null, unreadable: null,
      files: this.files.map((f) => ({ ...f })),
      records: this.records,
      sessionsSealed: this.sealedSessions.size,
      gaps: [...this.gaps],
      chain: this.chain,
      lastHash: this.lastHash,
      final: this.lastSealFinal,
    };
  }
}

// ---------------------------------------------------------------------------------------------
// Helpers.

function parseObject(text: string): Record<string, unknown> | null {
  try {
    const v: unknown = JSON.parse(text);
    return isObject(v) ? v : null;
  } catch {
    return null;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isAuditRecord(v: unknown): v is Record<string, unknown> {
  return isObject(v) && typeof v['hash'] === 'string' && typeof v['prev'] === 'string';
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function isChainInfo(v: unknown): v is ChainInfo {
  return isObject(v) && typeof v['algorithm'] === 'string' && (v['keyId'] === null || typeof v['keyId'] === 'string') && (v['format'] === undefined || Number.isSafeInteger(v['format']));
}

function sameChain(a: ChainInfo, b: ChainInfo | null): boolean {
  return b !== null && a.algorithm === b.algorithm && a.keyId === b.keyId && chainFormatOf(a) === chainFormatOf(b) && (a.signature?.keyId ?? null) === (b.signature?.keyId ?? null);
}

function describeChain(c: unknown): string {
  if (!isChainInfo(c)) return 'nothing readable';
  return `${c.algorithm}${c.keyId ? ` (key ${c.keyId})` : ''}, format ${String(chainFormatOf(c))}`;
}

/** What makes a parsed line not a record of the chain, or null. */
function shapeError(r: Record<string, unknown>): string | null {
  if (typeof r['hash'] !== 'string' || typeof r['prev'] !== 'string') return 'it has no hash or prev';
  if (!HEX64.test(r['hash']) || !HEX64.test(r['prev'])) return 'its hash or prev is not 64 hex digits';
  if (!isCount(r['seq'])) return 'it has no seq';
  if (typeof r['type'] !== 'string') return 'it has no type';
  return null;
}

function pieceOf(r: Rec): { index: number; count: number } | 'bad' | null {
  const p = r['piece'];
  if (p === undefined) return null;
  if (!isObject(p) || !isCount(p['index']) || !isCount(p['count']) || p['count'] < 2 || p['index'] >= p['count']) return 'bad';
  return { index: p['index'], count: p['count'] };
}

function gapFields(r: Rec): { fromSeq: number; toSeq: number } | null {
  const { fromSeq, toSeq, records } = r as Record<string, unknown>;
  if (!isCount(fromSeq) || !isCount(toSeq) || toSeq < fromSeq) return null;
  if (records !== toSeq - fromSeq + 1) return null;
  return { fromSeq, toSeq };
}

function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);
}

/** A path as one shell word, so that a suggested order can be pasted. */
function shellWord(path: string): string {
  return /^[\w./@%+=:,-]+$/.test(path) ? path : `'${path.replace(/'/g, `'\\''`)}'`;
}

function short(hash: string | null): string {
  return hash === null ? '(none)' : hash.length > 12 ? `${hash.slice(0, 12)}…` : hash;
}

/**
 * The name of part `part` of the rotation `near` belongs to: `audit-0003.jsonl` beside
 * `audit-0002.jsonl` (the writer's naming, audit-file.ts `partPath`); for a file not named that
 * way, a description.
 */
export function partName(near: string, part: number): string | null {
  const m = /^(.*)-(\d{4,})(\.[^.]*)?$/.exec(basename(near));
  if (!m) return null;
  return `${m[1]}-${String(part).padStart(m[2]!.length, '0')}${m[3] ?? ''}`;
}
