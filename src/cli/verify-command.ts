/**
 * `kubewire verify FILE... [--key-file F] [--public-key P] [--json]`, and `verify --store S`
 * (every replica's chain in a store, src/store/store-verify.ts): checks the hash chain of an
 * audit log (its rotated parts in order) and says whether it is intact. Exit codes: 0 intact or
 * consistent, 1 tampered (the first problem is named with its file and line), 2 unreadable (a
 * file cannot be read or is not an audit log, or a keyed chain is checked without its key or
 * with another key).
 *
 * Intact means authenticated: an HMAC chain checked with its `--key-file`, or signed seals
 * checked with `--public-key`. A chain that passes every check with nothing to authenticate it
 * (a plain SHA-256 chain, or signatures not checked) is only "consistent, unauthenticated":
 * anyone can write one, including someone who rewrote a keyed log as a plain chain. Given a key,
 * a chain without that protection is tampering (a downgrade).
 */
import type { KeyObject } from 'node:crypto';
import { KeyFileError, readKeyFile } from '../audit/chain.js';
import { readPublicKey, SigningKeyError } from '../audit/seal-signature.js';
import { unreadableResult, verifyFiles, type VerifyResult } from '../audit/verify.js';
import { ExitCode } from '../io/errors.js';
import type { Output } from '../io/output.js';

export interface VerifyCommandOptions {
  files: string[];
  keyFile?: string;
  /** `--public-key`: the Ed25519 public key of `--audit-signing-key`. */
  publicKey?: string;
  /** `--store`: verify every replica of a store instead of files. */
  store?: string;
  /** Print the result as one JSON object (the VerifyResult) instead of text. */
  json?: boolean;
  /** `--full-history` (with `--store`): a file store replica's oldest run must be its first, no run removed by retention. */
  fullHistory?: boolean;
}

export interface VerifyKeys {
  key: Buffer | null;
  publicKey: KeyObject | null;
}

/** The keys of `--key-file` and `--public-key`, or the message why one cannot be read. */
export async function readVerifyKeys(opts: { keyFile?: string; publicKey?: string }): Promise<VerifyKeys | string> {
  try {
    return {
      key: opts.keyFile !== undefined ? await readKeyFile(opts.keyFile) : null,
      publicKey: opts.publicKey !== undefined ? await readPublicKey(opts.publicKey) : null,
    };
  } catch (e) {
    if (e instanceof KeyFileError || e instanceof SigningKeyError) return e.message;
    throw e;
  }
}

export async function runVerify(opts: VerifyCommandOptions, out: Output, err: Output): Promise<number> {
  const keys = await readVerifyKeys(opts);
  if (typeof keys === 'string') {
    err.line(`kubewire: ${keys} [KW_ERR_AUDIT_KEY]`);
    if (opts.json) out.line(JSON.stringify(unreadableResult(opts.files, keys)));
    return ExitCode.Usage;
  }
  if (opts.store !== undefined) {
    const { runVerifyStore } = await import('../store/store-verify.js');
    return runVerifyStore(opts.store, keys, opts.json === true, out, err, { fullHistory: opts.fullHistory === true });
  }
  const result = await verifyFiles(opts.files, keys);
  if (opts.json) out.line(JSON.stringify(result));
  else report(result, out, err);
  return exitCodeOf(result);
}

export function exitCodeOf(result: VerifyResult): number {
  switch (result.status) {
    case 'intact':
    case 'consistent': return ExitCode.Ok;
    case 'tampered': return ExitCode.Failure;
    case 'unreadable': return ExitCode.Usage;
  }
}

const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

/** The chain's protection, in a few words. */
export function describeProtection(chain: VerifyResult['chain']): string {
  if (!chain) return 'unknown';
  const base = `${chain.algorithm}${chain.keyId ? ` (key ${chain.keyId})` : ''}`;
  return chain.signature ? `${base}, seals signed by ed25519 key ${chain.signature.keyId}` : base;
}

/** The line that says what was checked, for an intact or consistent result. */
export function passedLine(r: VerifyResult, what: string): string {
  const head = r.status === 'intact' ? 'intact' : 'consistent, unauthenticated';
  return `${head}: ${what}, ${plural(r.records, 'record')}, ${plural(r.sessionsSealed, 'session')} sealed, chain ${describeProtection(r.chain)}, ${r.final ? 'ends with a final seal' : 'has no final seal'}; last hash ${r.lastHash ?? '(none)'}`;
}

/** Why a passing chain is not authenticated, or null when it is. */
export function unauthenticatedNote(r: VerifyResult): string | null {
  if (r.status !== 'consistent') return null;
  if (r.chain?.signature) return 'note: the seals are signed, but no --public-key was given, so nothing authenticates the chain: anyone could have written it (pass --public-key to check the signatures; then a log without them is reported as tampered)';
  return 'note: the chain has no key, so it shows damage and edits that did not recompute the hashes; someone who recomputes every hash after an edit, or rewrites a keyed log as a plain chain, is not detected (record with --audit-key-file or --audit-signing-key, and verify with --key-file or --public-key, to rule that out)';
}

function report(r: VerifyResult, out: Output, err: Output): void {
  if (r.status === 'unreadable') {
    err.line(`kubewire: cannot verify: ${r.unreadable ?? 'unknown reason'} [KW_ERR_AUDIT_UNREADABLE]`);
    return;
  }
  if (r.status === 'tampered' && r.problem) {
    const p = r.problem;
    out.line(`tampered: ${p.file}${p.line !== null ? `:${p.line}` : ''}: ${p.message}`);
    return;
  }
  out.line(passedLine(r, plural(r.files.length, 'file')));
  for (const g of r.gaps) {
    const n = g.toSeq - g.fromSeq + 1;
    out.line(`gap: ${g.file}:${g.line}: ${n === 1 ? `seq ${g.fromSeq} was` : `seqs ${g.fromSeq}..${g.toSeq} (${n} records) were`} not written: ${g.reason}`);
  }
  const note = unauthenticatedNote(r);
  if (note) out.line(note);
}
