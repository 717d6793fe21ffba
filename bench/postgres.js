/**
 * A throwaway PostgreSQL server for the gateway benchmark, as the store tests start one
 * (test/support/postgres.ts): initdb into a temp directory, loopback only, a free port, trust
 * authentication, fsync off; as the `postgres` user through setpriv when run as root (initdb
 * and postgres refuse root). Stopped by its PID. `null` when no server is installed under
 * /usr/lib/postgresql/<major>/bin (Debian's layout).
 */
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';

const ROOT = '/usr/lib/postgresql';
const USER = 'kubewire';

export function postgresBin() {
  if (!existsSync(ROOT)) return null;
  const majors = readdirSync(ROOT).filter((d) => /^\d+$/.test(d) && existsSync(path.join(ROOT, d, 'bin', 'postgres'))).sort((a, b) => Number(b) - Number(a));
  return majors.length ? path.join(ROOT, majors[0], 'bin') : null;
}

const asRoot = process.getuid?.() === 0;
const unprivileged = (cmd, args) => (asRoot ? ['setpriv', ['--reuid=postgres', '--regid=postgres', '--init-groups', '--', cmd, ...args]] : [cmd, args]);

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Starts a server with the database `kubewire`; `{ url, query, stop }`. */
export async function startBenchPostgres(bin, maxConnections = 100) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kubewire-bench-pg-'));
  chmodSync(dir, 0o777);
  const data = path.join(dir, 'data');
  execFileSync(...unprivileged(path.join(bin, 'initdb'), ['-D', data, '-U', USER, '--auth=trust', '-E', 'UTF8', '--locale=C', '-N']), { stdio: 'pipe' });
  const port = await freePort();
  const [cmd, args] = unprivileged(path.join(bin, 'postgres'), ['-D', data, '-k', dir, '-h', '127.0.0.1', '-p', String(port), '-c', 'fsync=off', '-c', `max_connections=${maxConnections}`]);
  const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const urlOf = (db) => `postgres://${USER}@127.0.0.1:${port}/${db}`;
  const query = async (sql, params = [], url = urlOf('kubewire')) => {
    const c = new pg.Client({ connectionString: url });
    c.on('error', () => {});
    await c.connect();
    try {
      return await c.query(sql, params);
    } finally {
      await c.end();
    }
  };
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGINT'); // the server's fast shutdown
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`postgres exited with ${child.exitCode}: ${stderr}`);
    try {
      await query('SELECT 1', [], urlOf('postgres'));
      break;
    } catch (e) {
      if (i >= 200) {
        await stop();
        throw new Error(`postgres did not accept connections within 20 s: ${stderr || e.message}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  await query('CREATE DATABASE kubewire', [], urlOf('postgres'));
  return { url: urlOf('kubewire'), query, stop };
}
