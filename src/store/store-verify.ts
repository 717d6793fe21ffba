/**
 * `kubewire verify --store S`: every chain of every replica of a store, each checked as
 * `verify` checks a log (verify.ts). A problem is named by replica and position (PostgreSQL:
 * the row's `pos`; files: the file and line) with the record's seq. Besides each chain, the
 * store itself: rows missing between runs, and a run that declares less protection than its
 * replica was created with (a downgrade: tampering, whatever keys are given). A replica being
 * written right now has a last run without its final seal yet: when that is the run's only
 * problem (verify.ts `unsealedEnd`), and its protection is the replica's, it is reported open;
 * anything else in it (records removed or changed before its head) is tampering. In a file
 * store, the runs of a replica are also checked to link each to the one before (run-link.ts):
 * every problem of those links is a line of its own, naming the replica and the runs.
 */
import { verifySources, type VerifyResult } from '../audit/verify.js';
import { describeProtection, passedLine, unauthenticatedNote, type VerifyKeys } from '../cli/verify-command.js';
import { ExitCode } from '../io/errors.js';
import type { Output } from '../io/output.js';
import { protectionOf } from './pg-lease.js';
import { replicaRunLinks, type RunLinkFinding } from './run-link.js';
import { openStoreReader } from './store-reader.js';
import { describeStore, parseStoreSpec } from './store-spec.js';

export interface ReplicaVerdict {
  replica: string;
  status: VerifyResult['status'] | 'open';
  runs: number;
  records: number;
  /** The first problem: where (replica, pos or file:line, seq) and what. */
  problem: { where: string; seq: number | null; message: string } | null;
  /** A file store: what the links between the replica's runs show (run-link.ts); a failure makes it tampered. */
  links: RunLinkFinding[];
  results: VerifyResult[];
}

export interface StoreVerifyOptions {
  /** `--full-history`: a file store replica's oldest run present must be its first (none removed by retention). */
  fullHistory?: boolean;
}

export async function verifyStore(store: string, keys: VerifyKeys, opts: StoreVerifyOptions = {}): Promise<ReplicaVerdict[]> {
  const spec = parseStoreSpec(store);
  const reader = await openStoreReader(spec);
  try {
    const verdicts: ReplicaVerdict[] = [];
    for (const replica of await reader.replicas()) {
      const v: ReplicaVerdict = { replica: replica.name, status: 'intact', runs: replica.runs.length, records: 0, problem: null, links: [], results: [] };
      verdicts.push(v);
      // A file store's runs are chains of files; PostgreSQL keeps one chain per replica.
      if (spec.kind === 'files') v.links = await replicaRunLinks(replica.runs.map((run) => run.sources.map((s) => s.path)), { fullHistory: opts.fullHistory === true });
      if (replica.problem) {
        v.status = 'tampered';
        v.problem = { where: `replica ${replica.name}${replica.problem.pos !== null ? `, pos ${replica.problem.pos}` : ''}`, seq: null, message: replica.problem.message };
        continue;
      }
      let first: string | null = replica.protection;
      for (let i = 0; i < replica.runs.length; i++) {
        const run = replica.runs[i]!;
        const r = await verifySources(run.sources, keys);
        v.results.push(r);
        v.records += r.records;
        // Still being written: the run's only problem is that no final seal is at its head yet.
        const open = r.status === 'tampered' && i === replica.runs.length - 1 && replica.live && r.problem?.unsealedEnd === true;
        if ((r.status === 'tampered' && !open) || r.status === 'unreadable') {
          v.status = r.status;
          const p = r.problem;
          v.problem = p
            ? { where: `${p.file}${p.line !== null ? (run.sources.length === 1 && p.file.startsWith('replica ') ? `, pos ${p.line}` : `:${p.line}`) : ''}`, seq: p.seq, message: p.message }
            : { where: run.label, seq: null, message: r.unreadable ?? 'unreadable' };
          break;
        }
        // The protection before calling a run open: a run rewritten with less protection (say
        // as a plain chain without its final seal) is a downgrade, being written or not. A run
        // with no record yet (its file just created) declares nothing.
        const declared = r.chain ? protectionOf(r.chain.algorithm, r.chain.keyId, r.chain.signature?.keyId ?? null) : null;
        first ??= declared;
        if (declared !== first && !(open && r.records === 0)) {
          v.status = 'tampered';
          v.problem = { where: run.label, seq: null, message: `the run declares ${declared ?? 'no chain'}, but replica ${replica.name} was created with ${first}: a downgrade (the chain was rewritten with less protection)` };
          break;
        }
        if (open) {
          v.status = 'open';
          break;
        }
        if (r.status === 'consistent' && v.status === 'intact') v.status = 'consistent';
      }
    }
    for (const v of verdicts) if (v.links.some((f) => f.failure)) v.status = 'tampered';
    return verdicts;
  } finally {
    await reader.close();
  }
}

export async function runVerifyStore(store: string, keys: VerifyKeys, json: boolean, out: Output, err: Output, opts: StoreVerifyOptions = {}): Promise<number> {
  let verdicts: ReplicaVerdict[];
  try {
    verdicts = await verifyStore(store, keys, opts);
  } catch (e) {
    const msg = (e as Error).message;
    err.line(`kubewire: cannot verify ${describeStore(parseStoreSpec(store))}: ${msg} [KW_ERR_AUDIT_UNREADABLE]`);
    return ExitCode.Usage;
  }
  if (json) {
    out.line(JSON.stringify({ store: describeStore(parseStoreSpec(store)), replicas: verdicts.map(({ results, ...v }) => ({ ...v, chain: results[0]?.chain ?? null })) }));
  } else {
    if (verdicts.length === 0) out.line(`empty: ${describeStore(parseStoreSpec(store))} holds no replica`);
    for (const v of verdicts) {
      // One line per problem of the runs' links, then what they tell that is no failure.
      const linkFailures = v.links.filter((f) => f.failure);
      const linkNotes = (): void => {
        for (const f of v.links) if (!f.failure) out.line(`${f.kind === 'unlinked' ? 'unlinked' : 'note'}: replica ${v.replica}: ${f.message}`);
      };
      if (v.problem) out.line(`${v.results.at(-1)?.status === 'unreadable' ? 'unreadable' : 'tampered'}: replica ${v.replica}: ${v.problem.where}${v.problem.seq !== null ? ` (seq ${v.problem.seq})` : ''}: ${v.problem.message}`);
      for (const f of linkFailures) out.line(`tampered: replica ${v.replica}: ${f.message}`);
      if (v.problem || linkFailures.length > 0) {
        linkNotes();
        continue;
      }
      const last = v.results.at(-1);
      const runs = `${v.runs} run${v.runs === 1 ? '' : 's'}`;
      if (v.status === 'open') {
        out.line(`open: replica ${v.replica}: ${runs}, ${v.records} records checked; its last run is still being written (no final seal yet), chain ${describeProtection(last?.chain ?? null)}`);
      } else if (last) {
        out.line(passedLine({ ...last, status: v.status === 'intact' ? 'intact' : 'consistent', records: v.records, sessionsSealed: v.results.reduce((n, r) => n + r.sessionsSealed, 0) }, `replica ${v.replica}: ${runs}`));
      }
      linkNotes();
    }
    const note = verdicts.map((v) => v.results.at(-1)).find((r) => r && unauthenticatedNote(r));
    if (note && verdicts.every((v) => v.status !== 'tampered')) out.line(unauthenticatedNote(note)!);
  }
  if (verdicts.some((v) => v.status === 'tampered')) return ExitCode.Failure;
  if (verdicts.some((v) => v.status === 'unreadable')) return ExitCode.Usage;
  return ExitCode.Ok;
}
