/**
 * The PostgreSQL schema of the audit store, created and migrated by kubewire itself. Every
 * migration runs once, in order, in one transaction with the row that records its version in
 * `kubewire_schema`; a transaction-level advisory lock makes replicas that start at the same
 * time take turns, so the second finds the work done. Running it again is a no-op.
 *
 * Tables (version 1):
 * - `audit_replicas`: one row per replica (`--audit-replica`), with the protection its chain was
 *   created with (HMAC key id, signing key id: a run that declares less is a downgrade), the
 *   position and hash of its last record, and which process writes it now (a lease, with an
 *   advisory lock on the writer's connection: pg-lease.ts).
 * - `audit_records`: every record of every replica's chain, the line exactly as hashed, at
 *   `pos` 1, 2, … per replica (runs of a replica follow one another, each from its
 *   `audit.start`). The payloads are in the records, as in the files.
 * - `audit_sessions`: the session index, one row per `audit.session` record.
 */
import type pg from 'pg';
import { VERSION } from '../version.js';

/** An arbitrary constant: the advisory lock the migrations hold. */
const MIGRATION_LOCK = 0x6b77_6175;

export const MIGRATIONS: readonly { version: number; sql: string }[] = [
  {
    version: 1,
    sql: `
CREATE TABLE audit_replicas (
  name text PRIMARY KEY,
  created_at timestamptz NOT NULL DEFAULT now(),
  algorithm text NOT NULL,
  key_id text,
  signing_key_id text,
  last_pos bigint NOT NULL DEFAULT 0,
  last_hash text,
  owner text,
  heartbeat timestamptz
);
CREATE TABLE audit_records (
  replica text NOT NULL REFERENCES audit_replicas (name),
  pos bigint NOT NULL,
  seq bigint NOT NULL,
  type text NOT NULL,
  session text,
  hash text NOT NULL,
  line text NOT NULL,
  PRIMARY KEY (replica, pos)
);
CREATE INDEX audit_records_session ON audit_records (session, replica, pos) WHERE session IS NOT NULL;
CREATE INDEX audit_records_runs ON audit_records (replica, pos) WHERE type = 'audit.start';
CREATE TABLE audit_sessions (
  replica text NOT NULL,
  pos bigint NOT NULL,
  run_pos bigint NOT NULL,
  session text NOT NULL,
  username text,
  groups text[] NOT NULL,
  cluster text,
  verb text,
  namespace text,
  pod text,
  container text,
  command text NOT NULL,
  typed text[] NOT NULL,
  tty boolean NOT NULL,
  started_at timestamptz,
  ended_at timestamptz,
  exit_code integer,
  bytes_c2s bigint NOT NULL,
  bytes_s2c bigint NOT NULL,
  transport text,
  findings text[] NOT NULL,
  PRIMARY KEY (replica, pos),
  FOREIGN KEY (replica, pos) REFERENCES audit_records (replica, pos)
);
CREATE INDEX audit_sessions_user ON audit_sessions (username, started_at);
CREATE INDEX audit_sessions_started ON audit_sessions (started_at);
CREATE INDEX audit_sessions_session ON audit_sessions (session);
`,
  },
];

export const SCHEMA_VERSION = MIGRATIONS.at(-1)!.version;

/** Brings the database to SCHEMA_VERSION; returns the versions applied now (none when it was). */
export async function migrate(client: pg.ClientBase): Promise<number[]> {
  const applied: number[] = [];
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await client.query(`CREATE TABLE IF NOT EXISTS kubewire_schema (
      version integer PRIMARY KEY,
      applied_at timestamptz NOT NULL DEFAULT now(),
      kubewire text NOT NULL
    )`);
    const { rows } = await client.query<{ v: number | null }>('SELECT max(version) AS v FROM kubewire_schema');
    const current = rows[0]?.v ?? 0;
    if (current > SCHEMA_VERSION) {
      throw new Error(`the database's audit schema is version ${current}, newer than this kubewire knows (${SCHEMA_VERSION}): upgrade kubewire`);
    }
    for (const m of MIGRATIONS) {
      if (m.version <= current) continue;
      await client.query(m.sql);
      await client.query('INSERT INTO kubewire_schema (version, kubewire) VALUES ($1, $2)', [m.version, VERSION]);
      applied.push(m.version);
    }
    await client.query('COMMIT');
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  }
  return applied;
}
