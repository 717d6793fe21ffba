/**
 * `kubewire verify FILE... [--key-file F] [--json]`: checks the hash chain of an audit log (its
 * rotated parts in order) and says whether it is intact. Exit codes: 0 intact, 1 tampered (the
 * first problem is named with its file and line), 2 unreadable (a file cannot be read or is not
 * an audit log, or a keyed chain is checked without its key or with another key).
 */
import { KeyFileError, readKeyFile } from '../audit/chain.js';
import { verifyFiles, type VerifyResult } from '../audit/verify.js';
import { ExitCode } from '../io/errors.js';
import type { Output } from '../io/output.js';

export interface VerifyCommandOptions {
  files: string[];
  keyFile?: string;
  /** Print the result as one JSON object (the VerifyResult) instead of text. */
  json?: boolean;
}

export async function runVerify(opts: VerifyCommandOptions, out: Output, err: Output): Promise<number> {
  let key: Buffer | null = null;
  if (opts.keyFile !== undefined) {
    try {
      key = await readKeyFile(opts.keyFile);
    } catch (e) {
      if (!(e instanceof KeyFileError)) throw e;
      err.line(`kubewire: ${e.message} [KW_ERR_AUDIT_KEY]`);
      if (opts.json) out.line(JSON.stringify(keyRefused(opts.files, e.message)));
      return ExitCode.Usage;
    }
  }
  const result = await verifyFiles(opts.files, { key });
  if (opts.json) out.line(JSON.stringify(result));
  else report(result, out, err);
  return exitCodeOf(result);
}

export function exitCodeOf(result: VerifyResult): number {
  switch (result.status) {
    case 'intact': return ExitCode.Ok;
    case 'tampered': return ExitCode.Failure;
    case 'unreadable': return ExitCode.Usage;
  }
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
  const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;
  const chain = r.chain ? `${r.chain.algorithm}${r.chain.keyId ? ` (key ${r.chain.keyId})` : ''}` : 'unknown';
  out.line(`intact: ${plural(r.files.length, 'file')}, ${plural(r.records, 'record')}, ${plural(r.sessionsSealed, 'session')} sealed, chain ${chain}, ${r.final ? 'ends with a final seal' : 'has no final seal'}; last hash ${r.lastHash ?? '(none)'}`);
  for (const g of r.gaps) {
    const n = g.toSeq - g.fromSeq + 1;
    out.line(`gap: ${g.file}:${g.line}: ${n === 1 ? `seq ${g.fromSeq} was` : `seqs ${g.fromSeq}..${g.toSeq} (${n} records) were`} not written: ${g.reason}`);
  }
  if (r.chain?.algorithm === 'sha256') {
    out.line('note: the chain has no key, so it shows damage and edits that did not recompute the hashes; someone who recomputes every hash after an edit is not detected (record with --audit-key-file to rule that out)');
  }
}

function keyRefused(files: string[], why: string): VerifyResult {
  return {
    status: 'unreadable', problem: null, unreadable: why,
    files: files.map((path) => ({ path, part: null, records: 0 })),
    records: 0, sessionsSealed: 0, gaps: [], chain: null, lastHash: null, final: false,
  };
}
