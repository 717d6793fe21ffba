import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { CliError } from '../io/errors.js';

/**
 * Where audit records are kept (`--audit-store`, and `--store` of the commands that read them):
 * `postgres://…` (or `postgresql://…`) is a PostgreSQL database (pg-output.ts), anything else a
 * directory of hash-chained files, one set per replica (file-store.ts).
 */
export type StoreSpec = { kind: 'files'; dir: string } | { kind: 'postgres'; url: string };

export function parseStoreSpec(text: string, flag = '--store'): StoreSpec {
  if (/^postgres(ql)?:\/\//i.test(text)) return { kind: 'postgres', url: text };
  // Another scheme is a typo or a store kubewire does not have, not a directory named so.
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) throw new CliError('KW_ERR_USAGE', `${flag} ${text.split('://')[0]}://…: expected a directory or a postgres:// URL`, 2);
  return { kind: 'files', dir: resolve(text) };
}

/** The store for messages, without a password the URL may carry. */
export function describeStore(spec: StoreSpec): string {
  if (spec.kind === 'files') return spec.dir;
  try {
    const u = new URL(spec.url);
    if (u.password) u.password = '***';
    // Parameters may carry secrets too (password=, sslkey=).
    u.search = '';
    return u.toString();
  } catch {
    return 'postgres://(unparsable URL)';
  }
}

/** A replica name: a short word that is also a safe file name. */
export const REPLICA_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/** A replica's name when none is given: the host's (a pod's name in Kubernetes). */
export function defaultReplica(): string {
  const name = hostname().split('.')[0] ?? '';
  return REPLICA_NAME.test(name) ? name : 'kubewire';
}
