/**
 * A real PostgreSQL server for the store tests, started in a temporary directory and stopped
 * by its PID. initdb and postgres refuse to run as root (CI runs as root), so as root they run
 * as the `postgres` user that Debian's package creates (`setpriv`). The server
 * listens on loopback only, on a free port, with its socket in the temporary directory.
 *
 * The binaries are in /usr/lib/postgresql/<major>/bin, which is not on PATH. A machine without
 * them skips with a clear message; under CI=true that is a failure (.ci/run installs them).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

const ROOT = '/usr/lib/postgresql';

/** The newest installed PostgreSQL's bin directory, or null. */
export function postgresBinDir(): string | null {
  if (!existsSync(ROOT)) return null;
  const majors = readdirSync(ROOT).filter((d) => /^\d+$/.test(d) && existsSync(join(ROOT, d, 'bin', 'postgres'))).sort((a, b) => Number(b) - Number(a));
  return majors.length ? join(ROOT, majors[0]!, 'bin') : null;
}

/** The bin directory, or null after a skip message; under CI a missing PostgreSQL fails. */
export function postgresAvailable(): string | null {
  const bin = postgresBinDir();
  if (bin) return bin;
  const msg = `PostgreSQL not found under ${ROOT}/*/bin (install Debian's postgresql package)`;
  if (process.env['CI'] === 'true') throw new Error(msg);
  console.warn(`skipping tests that need ${msg}`);
  return null;
}

export interface TestPostgres {
  /** `postgres://…` for the database `kubewire`. */
  url: string;
  port: number;
  dir: string;
  bin: string;
  /** A fresh database on this server; its URL. */
  createDatabase(name: string): Promise<string>;
  /** Runs a query on the database of `url` (default: `url`). */
  query<T extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params?: unknown[], url?: string): Promise<pg.QueryResult<T>>;
  /** Stops the server (fast shutdown), keeping its data, and waits for it to exit. */
  stop(): Promise<void>;
  /** Starts it again on the same port and data. */
  start(): Promise<void>;
  /** `pg_dump` of a database, as text. */
  dump(url?: string): string;
  /** Stops the server and removes its directory. */
  destroy(): Promise<void>;
}

const asRoot = process.getuid?.() === 0;
const USER = 'kubewire';

/**
 * The command line, as the unprivileged `postgres` user when this process is root. setpriv
 * execs the command in its own process, so the PID the test holds is the server's own, and
 * its signals reach the server.
 */
function unprivileged(cmd: string, args: string[]): [string, string[]] {
  return asRoot ? ['setpriv', ['--reuid=postgres', '--regid=postgres', '--init-groups', '--', cmd, ...args]] : [cmd, args];
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export async function startPostgres(bin: string): Promise<TestPostgres> {
  const dir = mkdtempSync(join(tmpdir(), 'kubewire-pg-'));
  chmodSync(dir, 0o777);
  const data = join(dir, 'data');
  const [initCmd, initArgs] = unprivileged(join(bin, 'initdb'), ['-D', data, '-U', USER, '--auth=trust', '-E', 'UTF8', '--locale=C', '-N']);
  execFileSync(initCmd, initArgs, { stdio: 'pipe' });
  const port = await freePort();
  let child: ChildProcess | null = null;

  const start = async (): Promise<void> => {
    const [cmd, args] = unprivileged(join(bin, 'postgres'), ['-D', data, '-k', dir, '-h', '127.0.0.1', '-p', String(port), '-c', 'fsync=off', '-c', 'max_connections=40']);
    const proc = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    child = proc;
    let stderr = '';
    proc.stderr!.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-4000); });
    for (let i = 0; i < 200; i++) {
      if (proc.exitCode !== null) throw new Error(`postgres exited with ${proc.exitCode}: ${stderr}`);
      const c = new pg.Client({ host: '127.0.0.1', port, user: USER, database: 'postgres' });
      c.on('error', () => undefined);
      try {
        await c.connect();
        await c.end();
        return;
      } catch {
        await c.end().catch(() => undefined);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    throw new Error(`postgres did not accept connections within 20 s: ${stderr}`);
  };

  const stop = async (): Promise<void> => {
    const proc = child;
    child = null;
    if (!proc || proc.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    // SIGINT is the server's fast shutdown: it ends the sessions and stops.
    proc.kill('SIGINT');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  };

  const urlOf = (db: string): string => `postgres://${USER}@127.0.0.1:${port}/${db}`;
  const query = async <T extends pg.QueryResultRow>(sql: string, params: unknown[] = [], url = urlOf('kubewire')): Promise<pg.QueryResult<T>> => {
    const c = new pg.Client({ connectionString: url });
    c.on('error', () => undefined);
    await c.connect();
    try {
      return await c.query<T>(sql, params);
    } finally {
      await c.end();
    }
  };

  await start();
  await query('CREATE DATABASE kubewire', [], urlOf('postgres'));
  return {
    url: urlOf('kubewire'), port, dir, bin,
    async createDatabase(name) {
      await query(`CREATE DATABASE ${name}`, [], urlOf('postgres'));
      return urlOf(name);
    },
    query,
    stop,
    start,
    dump(url = urlOf('kubewire')) {
      return execFileSync(join(bin, 'pg_dump'), ['--dbname', url], { encoding: 'utf8', maxBuffer: 512 * 1024 * 1024 });
    },
    async destroy() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
