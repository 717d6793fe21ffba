/**
 * Where the audit trail goes. `proxy --audit` and `run --audit` write the chain to `--log`.
 * `kubewire gateway --store` names a store:
 * - `DIR`: hash-chained audit files (src/audit/audit-sink.ts), one chain per replica and run:
 *   `DIR/REPLICA/audit-YYYYMMDDTHHMMSSZ.jsonl` (`-0001`, `-0002`, … with `--max-size`). A chain
 *   starts in a new file, so a restarted replica starts a new one beside the last; replicas
 *   sharing a volume never write the same file. `kubewire verify DIR/REPLICA/audit-STAMP*.jsonl`
 *   checks one run.
 * - `postgres://…`: the PostgreSQL store.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { AuditSettings } from '../cli/audit-setup.js';
import { CliError, describeFsError } from '../io/errors.js';
import { AuditRecording, type AuditReports } from './audit-recording.js';

/** The first file of this run's chain in a files store; `fallback` (`--log`) without a store. */
export function auditLogPath(settings: AuditSettings, fallback: string, now: Date = new Date()): string {
  const store = settings.store;
  if (store?.kind !== 'files') return fallback;
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return join(store.dir, settings.replica ?? 'kubewire', `audit-${stamp}.jsonl`);
}

/** Opens the audit trail the settings name; a CliError when it cannot be, before anything is relayed. */
export async function openAuditStore(settings: AuditSettings, key: Buffer | null, logPath: string, reports: AuditReports): Promise<AuditRecording> {
  const store = settings.store;
  if (store?.kind === 'postgres') throw new CliError('KW_ERR_STORE_UNAVAILABLE', 'the PostgreSQL store is not available in this build', 2);
  if (store?.kind === 'files') {
    const dir = join(store.dir, settings.replica ?? 'kubewire');
    try {
      await mkdir(dir, { recursive: true, mode: 0o700 });
    } catch (e) {
      throw new CliError('KW_ERR_AUDIT_UNWRITABLE', `cannot create the store directory ${dir}: ${describeFsError(e as NodeJS.ErrnoException)}`, 1);
    }
  }
  return AuditRecording.open(settings, key, logPath, reports);
}
