/**
 * Reading a PostgreSQL audit store (pg-schema.ts): replicas and their runs as chain sources
 * for `verify` (each record's line as stored, at its position), the session index, and a
 * session's records. Rows are read in pages by position, so a store of any size is read in
 * bounded memory.
 */
import pg from 'pg';
import type { Line } from '../audit/verify.js';
import type { KubewireEvent } from '../events/types.js';
import { connectionLost, describePgError } from './pg-output.js';
import { protectionOf, replicaLive } from './pg-lease.js';
import type { IndexedSession, SessionFilter } from './session-index.js';
import { pause } from './file-follow.js';
import { MAX_MATCHES, type SessionPlace, type StoreReader, type StoreReplica } from './store-reader.js';
import { CliError } from '../io/errors.js';

const PAGE = 2000;
/** How often `follow` looks for new rows, ms. */
const FOLLOW_POLL_MS = 250;

export class PgStoreReader implements StoreReader {
  private constructor(readonly name: string, private readonly client: pg.Client) {}

  static async open(url: string): Promise<PgStoreReader> {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000, application_name: 'kubewire reader' });
    client.on('error', () => undefined);
    try {
      await client.connect();
      const { rows } = await client.query<{ t: string | null }>("SELECT to_regclass('audit_records')::text AS t");
      if (!rows[0]?.t) throw new Error('it holds no kubewire audit store (no audit_records table): nothing was written to it yet');
    } catch (e) {
      await client.end().catch(() => undefined);
      // An unreachable database may answer later (exit 1); a URL, user or database that is wrong will not (exit 2).
      throw new CliError('KW_ERR_AUDIT_STORE', `cannot read the audit store: ${describePgError(e)}`, connectionLost(e) ? 1 : 2);
    }
    return new PgStoreReader(url, client);
  }

  /**
   * A live writer commits rows and moves its head in one transaction, so the head, the highest
   * position and whether the replica is held are read in one statement (one snapshot), and every
   * later query of the replica is bounded by that head: rows committed meanwhile are after it
   * and not read, instead of looking like rows added after the head.
   */
  async replicas(): Promise<StoreReplica[]> {
    const { rows } = await this.client.query<{ name: string; algorithm: string; key_id: string | null; signing_key_id: string | null; last_pos: string; max_pos: string | null; live: boolean }>(
      `SELECT name, algorithm, key_id, signing_key_id, last_pos, (SELECT max(pos) FROM audit_records r WHERE r.replica = a.name) AS max_pos,
         ${replicaLive('a')} AS live
       FROM audit_replicas a ORDER BY name`);
    const out: StoreReplica[] = [];
    for (const r of rows) {
      const lastPos = Number(r.last_pos);
      const starts = (await this.client.query<{ pos: string }>("SELECT pos FROM audit_records WHERE replica = $1 AND type = 'audit.start' AND pos <= $2 ORDER BY pos", [r.name, lastPos])).rows.map((x) => Number(x.pos));
      const problem = await this.holes(r.name, lastPos, Number(r.max_pos ?? 0), starts[0] ?? null);
      const replica: StoreReplica = { name: r.name, protection: protectionOf(r.algorithm, r.key_id, r.signing_key_id), live: r.live, problem, runs: [] };
      starts.forEach((start, i) => {
        const end = i + 1 < starts.length ? starts[i + 1]! - 1 : lastPos;
        const path = `replica ${r.name}`;
        replica.runs.push({ label: `replica ${r.name}, run from pos ${start}`, sources: [{ path, lines: () => this.lines(r.name, start, end) }] });
      });
      out.push(replica);
    }
    return out;
  }

  /** Rows missing at the start, between or after the runs (positions count 1, 2, … to the head). */
  private async holes(replica: string, lastPos: number, maxPos: number, firstStart: number | null): Promise<StoreReplica['problem']> {
    if (maxPos > lastPos) return { pos: lastPos + 1, message: `rows after the replica's head (pos ${lastPos}) up to pos ${maxPos}: rows were added` };
    if (lastPos === 0) return null;
    if (firstStart !== 1) return { pos: 1, message: `the replica's chain does not start with audit.start at pos 1${firstStart === null ? ' (no audit.start at all)' : ` (the first is at pos ${firstStart})`}: rows were removed or changed` };
    const gap = await this.client.query<{ pos: string; p: string | null }>(
      `SELECT pos, p FROM (SELECT pos, lag(pos) OVER (ORDER BY pos) AS p FROM audit_records WHERE replica = $1 AND pos <= $2) x WHERE p IS NOT NULL AND pos <> p + 1 ORDER BY pos LIMIT 1`, [replica, lastPos]);
    if (gap.rows[0]) {
      const from = Number(gap.rows[0].p) + 1;
      const to = Number(gap.rows[0].pos) - 1;
      return { pos: from, message: `${from === to ? `the row at pos ${from} is` : `rows at pos ${from}..${to} are`} missing: rows were removed` };
    }
    if (maxPos < lastPos) return { pos: maxPos + 1, message: `the replica's head is at pos ${lastPos}, but its rows end at pos ${maxPos}: rows were removed from its end` };
    return null;
  }

  private async *lines(replica: string, from: number, to: number): AsyncGenerator<Line, void, undefined> {
    for (let at = from; at <= to; ) {
      const { rows } = await this.client.query<{ pos: string; line: string }>('SELECT pos, line FROM audit_records WHERE replica = $1 AND pos >= $2 AND pos <= $3 ORDER BY pos LIMIT $4', [replica, at, to, PAGE]);
      if (rows.length === 0) return;
      for (const r of rows) {
        const bytes = Buffer.from(r.line, 'utf8');
        yield { text: r.line, bytes, lineNo: Number(r.pos), newline: true };
      }
      at = Number(rows.at(-1)!.pos) + 1;
    }
  }

  async sessions(f: SessionFilter): Promise<IndexedSession[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    const p = (v: unknown): string => `$${params.push(v)}`;
    if (f.user !== undefined) where.push(`username = ${p(f.user)}`);
    if (f.pod !== undefined) where.push(`pod = ${p(f.pod)}`);
    if (f.verb !== undefined) where.push(`verb = ${p(f.verb === 'port-forward' ? 'portforward' : f.verb === 'logs' ? 'log' : f.verb)}`);
    if (f.command !== undefined) {
      const c = p(f.command);
      where.push(`(strpos(command, ${c}) > 0 OR EXISTS (SELECT 1 FROM unnest(typed) AS t WHERE strpos(t, ${c}) > 0))`);
    }
    if (f.sessionPrefix !== undefined) {
      const x = p(f.sessionPrefix);
      where.push(`left(session, length(${x})) = ${x}`);
    }
    if (f.sinceMs !== undefined) where.push(`started_at >= ${p(new Date(f.sinceMs).toISOString())}`);
    // The newest `limit`, read newest first and given oldest first.
    const limit = f.limit !== undefined && Number.isFinite(f.limit) ? ` LIMIT ${p(f.limit)}` : '';
    const { rows } = await this.client.query<Record<string, unknown>>(
      `SELECT * FROM audit_sessions ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY started_at DESC NULLS LAST, replica DESC, pos DESC${limit}`, params);
    return rows.reverse().map((r) => ({
      session: r['session'] as string, replica: r['replica'] as string, pos: Number(r['pos']), runPos: Number(r['run_pos']),
      user: r['username'] as string | null, groups: r['groups'] as string[], cluster: r['cluster'] as string | null, verb: r['verb'] as string,
      namespace: r['namespace'] as string | null, pod: r['pod'] as string | null, container: r['container'] as string | null,
      command: r['command'] as string, typed: r['typed'] as string[], tty: r['tty'] as boolean,
      start: r['started_at'] ? (r['started_at'] as Date).toISOString() : null, end: r['ended_at'] ? (r['ended_at'] as Date).toISOString() : null,
      exitCode: r['exit_code'] as number | null, bytes: { c2s: Number(r['bytes_c2s']), s2c: Number(r['bytes_s2c']) },
      transport: r['transport'] as string | null, findings: r['findings'] as string[],
    }));
  }

  async *sessionRecords(s: IndexedSession): AsyncGenerator<KubewireEvent> {
    const runPos = s.runPos ?? 1;
    const start = await this.client.query<{ line: string }>('SELECT line FROM audit_records WHERE replica = $1 AND pos = $2', [s.replica, runPos]);
    if (start.rows[0]) yield JSON.parse(start.rows[0].line) as KubewireEvent;
    for (let at = runPos; ; ) {
      const { rows } = await this.client.query<{ pos: string; line: string }>(
        `SELECT pos, line FROM audit_records WHERE replica = $1 AND session = $2 AND pos > $3 AND pos <= $4 ORDER BY pos LIMIT $5`,
        [s.replica, s.session, at, (s.pos ?? Number.MAX_SAFE_INTEGER) + 1, PAGE]);
      if (rows.length === 0) return;
      for (const r of rows) yield JSON.parse(r.line) as KubewireEvent;
      at = Number(rows.at(-1)!.pos);
    }
  }

  async latestRunSessions(prefix: string): Promise<SessionPlace[]> {
    const { rows } = await this.client.query<{ replica: string; session: string; run_pos: string }>(
      `SELECT r.replica, r.session, r.run_pos FROM (
         SELECT name AS replica, (SELECT max(pos) FROM audit_records WHERE replica = name AND type = 'audit.start') AS run_pos FROM audit_replicas
       ) runs, LATERAL (
         SELECT DISTINCT runs.replica, session, runs.run_pos FROM audit_records
         WHERE replica = runs.replica AND pos >= runs.run_pos AND session IS NOT NULL AND left(session, length($1)) = $1 LIMIT $2
       ) r`, [prefix, MAX_MATCHES]);
    return rows.map((r) => ({ replica: r.replica, session: r.session, runPos: Number(r.run_pos), start: null }));
  }

  /**
   * Polls the replica's head, then reads the session's rows (and a later run's `audit.start`)
   * between the last position looked at and that head: a quiet session on a busy replica costs
   * a look at the rows written since the last poll, each found through an index (the session's
   * `audit_records_session`, the runs' `audit_records_runs`), not a rescan since its last record.
   * Every row up to the head is committed (the writer moves the head in the batch's transaction).
   */
  async *follow(place: SessionPlace, signal: AbortSignal): AsyncGenerator<KubewireEvent, string | null, undefined> {
    const runPos = place.runPos ?? 1;
    let seen = runPos - 1;
    while (!signal.aborted) {
      // Asked before the rows: a writer that is gone once its rows are read has written its last.
      const { rows: [h] } = await this.client.query<{ last_pos: string; live: boolean; owned: boolean; quiet: number | null }>(
        `SELECT last_pos, ${replicaLive('a')} AS live, owner IS NOT NULL AS owned, extract(epoch FROM now() - heartbeat)::float8 AS quiet
         FROM audit_replicas a WHERE name = $1`, [place.replica]);
      if (!h) return `replica ${place.replica} is not in the store any more`;
      const head = Number(h.last_pos);
      if (head > seen) {
        const { rows } = await this.client.query<{ pos: string; type: string; line: string }>(
          `(SELECT pos, type, line FROM audit_records WHERE session = $3 AND replica = $1 AND pos > $2 AND pos <= $4 ORDER BY pos LIMIT $5)
           UNION ALL
           (SELECT pos, type, line FROM audit_records WHERE type = 'audit.start' AND replica = $1 AND pos > $2 AND pos <= $4 ORDER BY pos LIMIT 1)
           ORDER BY pos LIMIT $5`,
          [place.replica, seen, place.session, head, PAGE]);
        for (const r of rows) {
          // The next run's start: this run is over.
          if (r.type === 'audit.start' && Number(r.pos) !== runPos) return `replica ${place.replica} began a new run (its writer was restarted)`;
          yield JSON.parse(r.line) as KubewireEvent;
        }
        // A full page: the rest at once; else every row up to the head was looked at.
        if (rows.length === PAGE) {
          seen = Number(rows.at(-1)!.pos);
          continue;
        }
        seen = head;
      }
      if (!h.owned) return `replica ${place.replica}'s writer stopped`;
      if (!h.live) return `replica ${place.replica}'s writer has not been heard from for ${Math.round(h.quiet ?? 0)} s: it stopped, crashed or lost the database`;
      await pause(FOLLOW_POLL_MS, signal);
    }
    return null;
  }

  async close(): Promise<void> {
    await this.client.end().catch(() => undefined);
  }
}
