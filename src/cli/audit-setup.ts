/**
 * `--audit` for `proxy` and `run`, on the relay's side: the flags, checked before anything
 * starts, the key, and who is acting (SelfSubjectReview, else the kubeconfig user), which only
 * the upstream can say. The audit log itself is written by the observer
 * (src/observer/audit-recording.ts).
 */
import type { AuditFailMode } from '../audit/audit-sink.js';
import type { RedactStdinMode } from '../audit/stdin-redactor.js';
import { CliError } from '../io/errors.js';
import { defaultReplica, parseStoreSpec, REPLICA_NAME, type StoreSpec } from '../store/store-spec.js';
import type { AuditStartFacts } from '../observer/observer-messages.js';
import type { Upstream } from '../proxy/upstream.js';

export interface AuditFlags {
  audit?: boolean;
  auditFail?: AuditFailMode;
  auditKeyFile?: string;
  redactStdin?: RedactStdinMode;
  maxSize?: string;
  auditSigningKey?: string;
  /** `--audit-store`: a directory or `postgres://…` (src/store/store-spec.ts). */
  auditStore?: string;
  auditReplica?: string;
}

export interface AuditSettings {
  failMode: AuditFailMode;
  keyFile: string | null;
  redactStdin: RedactStdinMode;
  maxSize: number | null;
  /** `--audit-signing-key`: an Ed25519 private key (PEM) that signs every seal. */
  signingKeyFile?: string | null;
  /** Where the records go instead of `--log` (src/store/open-store.ts); none: `--log`. */
  store?: StoreSpec | null;
  /** This process's name among the replicas writing to one store (default: the host name). */
  replica?: string;
}

/** The smallest `--max-size`: a file must hold a few records besides its header and seal. */
export const MIN_MAX_SIZE = 64 * 1024;

/**
 * Checks the audit flags together: they need `--audit`, and `--audit` records every byte, so a
 * `--payload` other than full contradicts it. Returns null without `--audit`.
 */
export function auditSettings(flags: AuditFlags & { payload?: string }, payloadExplicit: boolean): AuditSettings | null {
  if (!flags.audit) {
    const stray = [flags.auditKeyFile && '--audit-key-file', flags.auditSigningKey && '--audit-signing-key', flags.auditStore && '--audit-store', flags.auditReplica && '--audit-replica', flags.redactStdin && '--redact-stdin', flags.maxSize && '--max-size', flags.auditFail && '--audit-fail'].filter(Boolean);
    if (stray.length) throw new CliError('KW_ERR_USAGE', `${stray.join(', ')} only ${stray.length === 1 ? 'applies' : 'apply'} to an audit log: add --audit`, 2);
    return null;
  }
  if (payloadExplicit && flags.payload !== 'full') {
    throw new CliError('KW_ERR_USAGE', `--audit records every byte; it cannot be combined with --payload ${flags.payload}`, 2);
  }
  const replica = flags.auditReplica ?? defaultReplica();
  if (!REPLICA_NAME.test(replica)) throw new CliError('KW_ERR_USAGE', `--audit-replica ${replica}: a replica name is 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit`, 2);
  const store = flags.auditStore === undefined ? null : parseStoreSpec(flags.auditStore);
  if (store?.kind === 'postgres' && flags.maxSize !== undefined) throw new CliError('KW_ERR_USAGE', '--max-size rotates files; a PostgreSQL --audit-store has none', 2);
  return {
    failMode: flags.auditFail ?? 'closed',
    keyFile: flags.auditKeyFile ?? null,
    redactStdin: flags.redactStdin ?? 'none',
    maxSize: flags.maxSize === undefined ? null : parseSize(flags.maxSize),
    signingKeyFile: flags.auditSigningKey ?? null,
    ...(store ? { store } : {}),
    replica,
  };
}

/** `100M`, `1G`, `512K`, `64KiB`, `1048576`: bytes, with binary multiples. */
export function parseSize(text: string, flag = '--max-size', min = MIN_MAX_SIZE): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$/i.exec(text);
  if (!m) throw new CliError('KW_ERR_USAGE', `${flag} ${text}: expected a size such as 100M, 1G or 65536`, 2);
  const scale = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  const bytes = Math.floor(Number(m[1]) * scale);
  if (bytes < min) throw new CliError('KW_ERR_USAGE', `${flag} ${text} is too small: at least ${min / 1024}K`, 2);
  return bytes;
}

/** The key of `--audit-key-file`, or null; a CliError when it cannot be read. */
export async function readAuditKey(settings: AuditSettings): Promise<Buffer | null> {
  if (!settings.keyFile) return null;
  // The audit modules are loaded for --audit only: without it the relay's thread never needs them.
  const { KeyFileError, readKeyFile } = await import('../audit/chain.js');
  try {
    return await readKeyFile(settings.keyFile);
  } catch (e) {
    if (e instanceof KeyFileError) throw new CliError('KW_ERR_AUDIT_KEY', e.message, 1);
    throw e;
  }
}

/** The PEM of `--audit-signing-key`, or null; a CliError when it cannot be read or is not Ed25519. */
export async function readAuditSigningKey(settings: AuditSettings): Promise<string | null> {
  if (!settings.signingKeyFile) return null;
  const { readSigningKey, SigningKeyError } = await import('../audit/seal-signature.js');
  try {
    return await readSigningKey(settings.signingKeyFile);
  } catch (e) {
    if (e instanceof SigningKeyError) throw new CliError('KW_ERR_AUDIT_KEY', e.message, 1);
    throw e;
  }
}

/** What `audit.start` says about the cluster and the acting user; never throws. */
export async function auditStartFacts(upstream: Upstream): Promise<AuditStartFacts> {
  const { whoAmI } = await import('../audit/identity.js');
  return {
    identity: await whoAmI(upstream),
    cluster: { server: upstream.server.toString(), context: upstream.contextName || null, via: upstream.describe() },
  };
}
