/**
 * The lease of a PostgreSQL replica: which process writes its chain now, so that two processes
 * given the same `--audit-replica` never interleave one chain, while a process that crashed
 * does not keep a restart of its replica waiting. It has two parts:
 *
 * - the replica's row in `audit_replicas`: `owner` (a token of the writing process) and
 *   `heartbeat`, renewed every HEARTBEAT_MS and with every batch (pg-output.ts);
 * - a session-level advisory lock on the writer's connection, keyed by the replica's name
 *   (`lockKey`, computed by the server so that readers find it in `pg_locks`). The server
 *   releases it as soon as the connection ends, so a writer that died (SIGKILL, out of memory, a
 *   pod killed) lets go of it the moment the server sees its socket close, not a lease period
 *   later (PostgreSQL docs, "Advisory Locks": a session-level lock is held until released or the
 *   session ends).
 *
 * A writer takes the row when it got the lock (then whoever owned the row is dead or cut off from
 * the database: its connection is gone), when the row is free or already its own (a reconnect),
 * or when the row's heartbeat is older than LEASE_SECONDS (a lock held by a connection whose
 * client is gone but whom the server has not found dead yet). A second process started while the
 * replica's writer runs finds the lock held and the heartbeat fresh, and is refused. A writer that
 * took the row without the lock tries for it again at each heartbeat.
 *
 * A writer cut off from the database (it spools, pg-output.ts) holds no connection and so no lock:
 * a process started with its name meanwhile takes the replica, and the cut-off writer's next
 * connection finds the row taken over and is refused. Readers therefore call a replica live
 * (`REPLICA_LIVE`) while it has an owner and either its lock is held or its heartbeat is fresh:
 * the cut-off writer is still heard from within the lease period.
 *
 * The writer's session also asks the server to end it when idle for LEASE_SECONDS
 * (`idle_session_timeout`, PostgreSQL 14 and later; ignored before): a live writer renews its
 * lease every HEARTBEAT_MS and is never idle that long, while a connection whose client vanished
 * without a word (a node gone) would otherwise hold the lock until TCP keepalive gives up on it,
 * hours by default.
 */
import type pg from 'pg';
import type { ChainInfo } from '../events/types.js';
import { LEASE_SECONDS } from './lease-period.js';
import { ReplicaRefused } from './store-refused.js';

/** The advisory lock key of the replica named by the SQL expression `name`: 64 bits of its MD5. */
function lockKey(name: string): string {
  return `('x' || left(md5(${name}), 16))::bit(64)::bigint`;
}

/**
 * Whether the writer of the `audit_replicas` row aliased `a` is live: it has an owner, and its
 * lock is held or it was heard from within the lease period. A bigint advisory lock shows in
 * `pg_locks` as its high half in `classid`, its low half in `objid`, with `objsubid` 1.
 */
export function replicaLive(a: string): string {
  const key = lockKey(`${a}.name`);
  return `(${a}.owner IS NOT NULL AND (${a}.heartbeat > now() - make_interval(secs => ${LEASE_SECONDS}) OR EXISTS (
    SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
      AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND l.classid::bigint = ((${key} >> 32) & 4294967295) AND l.objid::bigint = (${key} & 4294967295))))`;
}

export function takenOver(replica: string): string {
  return `replica ${replica} is no longer this process's to write (its lease was taken over)`;
}

/** A replica's protection in words, as the store remembers it. */
export function protectionOf(algorithm: string, keyId: string | null, signingKeyId: string | null): string {
  const base = algorithm === 'hmac-sha256' ? `an HMAC-SHA256 chain (key ${keyId ?? '?'})` : 'a plain SHA-256 chain';
  return signingKeyId ? `${base} with seals signed by ed25519 key ${signingKeyId}` : base;
}

export interface LeaseTaken {
  /** The replica's head: its last position and hash. */
  lastPos: number;
  lastHash: string | null;
  /** This connection holds the replica's advisory lock. */
  locked: boolean;
  /** The row was another process's, whose connection is gone or whose heartbeat ran out. */
  fromGone: boolean;
}

/**
 * Takes the replica's lease on `c` (creating its row with this chain's protection). `heldBefore`:
 * this process held it before (a reconnect), so a refusal means it was taken over.
 */
export async function takeLease(c: pg.Client, replica: string, token: string, chain: ChainInfo, heldBefore: boolean): Promise<LeaseTaken> {
  await c.query(`SELECT set_config('idle_session_timeout', $1, false)`, [`${LEASE_SECONDS}s`]).catch(() => undefined);
  await c.query(
    'INSERT INTO audit_replicas (name, algorithm, key_id, signing_key_id) VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO NOTHING',
    [replica, chain.algorithm, chain.keyId, chain.signature?.keyId ?? null],
  );
  const locked = await tryLock(c, replica);
  const { rows } = await c.query<{ last_pos: string; last_hash: string | null; algorithm: string; key_id: string | null; signing_key_id: string | null; was: string | null }>(
    `UPDATE audit_replicas a SET owner = $2, heartbeat = now() FROM audit_replicas old
     WHERE a.name = $1 AND old.name = a.name AND ($3 OR a.owner IS NULL OR a.owner = $2 OR a.heartbeat < now() - make_interval(secs => $4))
     RETURNING a.last_pos, a.last_hash, a.algorithm, a.key_id, a.signing_key_id, old.owner AS was`,
    [replica, token, locked, LEASE_SECONDS],
  );
  const row = rows[0];
  if (!row) {
    if (locked) await unlock(c, replica);
    throw new ReplicaRefused(heldBefore ? takenOver(replica) : `replica ${replica} is being written by another kubewire right now: give each replica its own --audit-replica name`);
  }
  const created = protectionOf(row.algorithm, row.key_id, row.signing_key_id);
  const mine = protectionOf(chain.algorithm, chain.keyId, chain.signature?.keyId ?? null);
  if (created !== mine) {
    await giveLeaseBack(c, replica, token);
    throw new ReplicaRefused(`replica ${replica} was created with ${created}, but this kubewire writes ${mine}: start it with the same --audit-key-file and --audit-signing-key, or as a new replica`);
  }
  return { lastPos: Number(row.last_pos), lastHash: row.last_hash, locked, fromGone: row.was !== null && row.was !== token };
}

/**
 * Renews the lease: false when the row is no longer this process's. A writer without the lock
 * (it took the row when the heartbeat ran out) tries for it again; the answer says whether it holds it.
 */
export async function renewLease(c: pg.Client, replica: string, token: string, locked: boolean): Promise<{ ours: boolean; locked: boolean }> {
  const r = await c.query('UPDATE audit_replicas SET heartbeat = now() WHERE name = $1 AND owner = $2', [replica, token]);
  if (r.rowCount !== 1) return { ours: false, locked };
  return { ours: true, locked: locked || (await tryLock(c, replica)) };
}

/** The row freed and the lock released (ending the connection releases the lock too). */
export async function giveLeaseBack(c: pg.Client, replica: string, token: string): Promise<void> {
  await c.query('UPDATE audit_replicas SET owner = NULL WHERE name = $1 AND owner = $2', [replica, token]);
  await unlock(c, replica);
}

async function tryLock(c: pg.Client, replica: string): Promise<boolean> {
  const { rows } = await c.query<{ ok: boolean }>(`SELECT pg_try_advisory_lock(${lockKey('$1::text')}) AS ok`, [replica]);
  return rows[0]?.ok === true;
}

async function unlock(c: pg.Client, replica: string): Promise<void> {
  await c.query(`SELECT pg_advisory_unlock(${lockKey('$1::text')})`, [replica]);
}
