/**
 * Gateway benchmark: KUBEWIRE_BENCH_GW_SESSIONS (default 200) exec sessions at once, from
 * KUBEWIRE_BENCH_GW_USERS (default 20) users, through two `kubewire gateway` replicas (gw-a and
 * gw-b, `--identity passthrough`, HMAC chains with `--audit-key-file`) that share one
 * PostgreSQL store, in front of the embedded demo cluster with those users (u01=admin, …).
 *
 * Each session is a v5.channel.k8s.io WebSocket client with its user's bearer token (a small
 * `ws` client, not kubectl: 200 kubectl processes would measure kubectl), alternating between
 * the replicas, running `echo bench-<user>-<n>; sleep …; echo end-<n>` so that all of them are
 * open at once for KUBEWIRE_BENCH_GW_HOLD_MS (default 2000) ms. Reported:
 *   - sessions ok / failed (exit status Success and the expected output);
 *   - recorded: the sessions found in the store's session index under their own user and
 *     replica, and among them those whose stdout records in the database hold exactly what the
 *     client read (nothing lost);
 *   - `kubewire verify --store` over both replicas (intact expected: the chains are keyed);
 *   - wall time from the first connection to the last session's end;
 *   - each gateway's CPU (utime + stime, all threads, /proc/PID/stat) and peak RSS (VmHWM,
 *     reset before the load) while the sessions ran.
 * PostgreSQL is started as the store tests do (bench/postgres.js); without it the section is
 * skipped with one line. Run: `npm run build && node bench/gateway.bench.js` (`--json FILE`
 * writes the rows for bench/run.js instead of printing them).
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { postgresBin, startBenchPostgres } from './postgres.js';
import { cpuSeconds, procStatus, resetPeak } from './procfs.js';
import { envInt, finish, fmt, KiB, loadAverage, MiB, progress } from './report.js';

const V5 = 'v5.channel.k8s.io';
const root = fileURLToPath(new URL('..', import.meta.url));
const kubewireBin = path.join(root, 'bin', 'kubewire.js');
/** One exec session to its end: its stdout, whether the status said Success, or why not. Never rejects. */
function execSession(gw, token, command, timeoutMs) {
  const query = `/api/v1/namespaces/default/pods/web/exec?container=app&stdout=true&stderr=true&command=sh&command=-c&command=${encodeURIComponent(command)}`;
  return new Promise((resolve) => {
    const ws = new WebSocket(gw.listen.replace(/^https/, 'wss') + query, [V5], { headers: { Authorization: `Bearer ${token}` }, ca: gw.ca, perMessageDeflate: false });
    let stdout = '';
    let status = '';
    let problem = null;
    const timer = setTimeout(() => {
      problem = `no end after ${timeoutMs} ms`;
      ws.terminate();
    }, timeoutMs);
    ws.on('unexpected-response', (req, res) => {
      problem = `HTTP ${res.statusCode}`;
      res.resume();
      req.destroy();
    });
    ws.on('message', (data) => {
      const b = Buffer.from(data);
      if (b[0] === 1) stdout += b.subarray(1).toString();
      else if (b[0] === 3) status += b.subarray(1).toString();
    });
    ws.on('error', (e) => (problem ??= e.message));
    ws.on('close', (code) => {
      clearTimeout(timer);
      const success = status.includes('"Success"');
      resolve({ stdout, ok: problem === null && code === 1000 && success, problem: problem ?? (success ? null : `status ${status || 'none'}, close ${code}`) });
    });
  });
}

async function main() {
  const sessions = envInt('KUBEWIRE_BENCH_GW_SESSIONS', 200);
  const users = envInt('KUBEWIRE_BENCH_GW_USERS', 20);
  const holdMs = envInt('KUBEWIRE_BENCH_GW_HOLD_MS', 2000, 0);
  const bin = postgresBin();
  if (!bin) {
    progress('gateway benchmark skipped: PostgreSQL not found');
    finish({ header: ['kubewire gateway benchmark: skipped, PostgreSQL not found under /usr/lib/postgresql/*/bin (install Debian\'s postgresql package)'], rows: [], notes: [] });
    return;
  }
  let DemoCluster;
  try {
    ({ DemoCluster } = await import(new URL('../dist/src/demo/demo-cluster.js', import.meta.url).href));
  } catch (err) {
    console.error(`cannot load the compiled sources from ${path.join(root, 'dist')}: run \`npm run build\` first\n${err}`);
    process.exit(1);
  }
  const loadAtStart = loadAverage();
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'kubewire-bench-gw-'));
  const home = path.join(tmp, 'home');
  const children = new Set();
  let cluster = null;
  let db = null;
  const stopChild = async (child) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await child.exited;
    clearTimeout(timer);
  };
  let cleaning = null;
  const cleanup = () =>
    (cleaning ??= (async () => {
      for (const step of [...[...children].map((c) => () => stopChild(c)), () => cluster?.stop(), () => db?.stop(), () => rm(tmp, { recursive: true, force: true })]) {
        await Promise.resolve().then(step).catch((e) => console.error(`cleanup: ${e.message}`));
      }
    })());
  const onSignal = (signal) => {
    console.error(`\n${signal}: stopping`);
    void cleanup().finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  try {
    progress(`starting PostgreSQL, the demo cluster with ${users} users and two gateways`);
    const names = Array.from({ length: users }, (_, i) => `u${String(i + 1).padStart(2, '0')}`);
    const kubeconfig = path.join(tmp, 'cluster.kubeconfig');
    [db, cluster] = await Promise.all([startBenchPostgres(bin), DemoCluster.start({ kubeconfigPath: kubeconfig, users: names.map((n) => `${n}=admin`), gateway: [] })]);
    const tokens = new Map(cluster.users.map((u) => [u.name, u.token]));
    const keyFile = path.join(tmp, 'audit.key');
    writeFileSync(keyFile, createHash('sha256').update('the gateway benchmark key').digest('base64') + '\n', { mode: 0o600 });

    const startGateway = (name) =>
      new Promise((resolve, reject) => {
        const args = [kubewireBin, 'gateway', '--listen', '127.0.0.1:0', '--metrics-listen', '127.0.0.1:0', '--upstream-kubeconfig', kubeconfig, '--store', db.url, '--name', name, '--audit-key-file', keyFile];
        const child = spawn(process.execPath, args, { env: { ...process.env, HOME: home, XDG_STATE_HOME: path.join(home, 'state') }, stdio: ['ignore', 'pipe', 'pipe'] });
        children.add(child);
        child.exited = new Promise((r) => child.once('exit', r));
        let out = '';
        let err = '';
        child.stderr.on('data', (d) => (err = (err + d).slice(-8 * KiB)));
        const timer = setTimeout(() => reject(new Error(`${name}: no "gateway listening" line after 30 s\n${err}`)), 30_000);
        child.once('exit', (code) => reject(new Error(`${name} exited (${code})\n${err}`)));
        child.stdout.on('data', (d) => {
          out = (out + d).slice(-64 * KiB);
          const line = out.split('\n').find((l) => l.includes('"msg":"gateway listening"'));
          if (!line) return;
          clearTimeout(timer);
          const ready = JSON.parse(line);
          resolve({ name, child, listen: ready.listen, ca: ready.generatedCa, lines: () => out });
        });
      });
    const gws = await Promise.all(['gw-a', 'gw-b'].map(startGateway));

    // Each user's identity is looked up once before the load, as a warm gateway has them cached.
    progress('one session per user and replica to warm up');
    for (const gw of gws) await Promise.all(names.map((n) => execSession(gw, tokens.get(n), 'true', 30_000)));

    progress(`${sessions} sessions at once from ${users} users, ${holdMs} ms each`);
    for (const gw of gws) resetPeak(gw.child.pid);
    const cpuBefore = gws.map((gw) => cpuSeconds(gw.child.pid));
    const sleepS = (holdMs / 1000).toFixed(3);
    const jobs = Array.from({ length: sessions }, (_, i) => {
      const user = names[i % users];
      return { i, user, gw: gws[i % 2], expected: `bench-${user}-${i}\nend-${i}\n`, command: `echo bench-${user}-${i}; sleep ${sleepS}; echo end-${i}` };
    });
    const t0 = performance.now();
    const results = await Promise.all(jobs.map((j) => execSession(j.gw, tokens.get(j.user), j.command, 120_000 + holdMs)));
    const wallS = (performance.now() - t0) / 1000;
    const cpu = gws.map((gw, k) => cpuSeconds(gw.child.pid) - cpuBefore[k]);
    const peak = gws.map((gw) => procStatus(gw.child.pid, 'VmHWM'));
    const okCount = results.filter((r, i) => r.ok && r.stdout === jobs[i].expected).length;
    const failures = results.map((r, i) => (r.ok && r.stdout === jobs[i].expected ? null : `${jobs[i].user}#${jobs[i].i}: ${r.problem ?? `stdout ${JSON.stringify(r.stdout)}`}`)).filter(Boolean);

    // Stopping the gateways settles and seals every session and closes the chains.
    progress('stopping the gateways, reading the store');
    await Promise.all(gws.map((gw) => stopChild(gw.child)));
    const rows = (await db.query("SELECT replica, session, username, command FROM audit_sessions WHERE command LIKE 'sh -c echo bench-%'")).rows;
    const bySession = new Map();
    const rowOf = new Map(rows.map((r) => [r.command, r]));
    let indexed = 0;
    let wrong = 0;
    for (const j of jobs) {
      const r = rowOf.get(`sh -c ${j.command}`);
      if (!r) continue;
      indexed++;
      if (r.username !== j.user || r.replica !== j.gw.name) wrong++;
      bySession.set(`${r.replica}/${r.session}`, j);
    }
    const stdoutOf = new Map();
    const data = await db.query("SELECT replica, session, line FROM audit_records WHERE type = 'k8s.data' AND session = ANY($1) ORDER BY replica, pos", [rows.map((r) => r.session)]);
    for (const { replica, session, line } of data.rows) {
      const e = JSON.parse(line);
      if (e.dir !== 's2c' || e.stream !== 'stdout' || typeof e.payload !== 'string') continue;
      const key = `${replica}/${session}`;
      stdoutOf.set(key, (stdoutOf.get(key) ?? '') + Buffer.from(e.payload, 'base64').toString());
    }
    let complete = 0;
    for (const [key, j] of bySession) if (stdoutOf.get(key) === j.expected) complete++;
    const verify = spawnSync(process.execPath, [kubewireBin, 'verify', '--store', db.url, '--key-file', keyFile], { encoding: 'utf8', env: { ...process.env, HOME: home } });
    const verdicts = verify.stdout.trim().split('\n').filter((l) => /^[a-z, ]+: replica /.test(l)).map((l) => l.replace(/: replica (\S+): .*/, ' $1'));
    const intact = verify.status === 0 && verdicts.length === 2 && verdicts.every((v) => v.startsWith('intact '));

    const table = [];
    const row = (measure, p, figure, versus = '', goal = '', ok = null) => table.push({ measure, path: p, figure, versus, goal, ok });
    row('gateway load', 'sessions', `${okCount} of ${sessions} ok`, `${sessions - okCount} failed`, `all ${sessions}`, okCount === sessions);
    row('gateway load', 'in the store', `${indexed} of ${sessions} indexed`, `${wrong} under another user or replica; ${complete} with all their stdout`, `all ${sessions}, nothing lost`, indexed === sessions && wrong === 0 && complete === sessions);
    row('gateway load', 'verify --store', verdicts.join(', ') || `exit ${verify.status}`, '', 'intact, both replicas', intact);
    row('gateway load', 'wall time', `${fmt(wallS, 1)} s`, `${fmt(sessions / wallS, 1)} sessions/s, each open ${fmt(holdMs / 1000, 1)} s`, '', null);
    gws.forEach((gw, k) => row('gateway CPU', gw.name, `${fmt(cpu[k], 2)} s`, `${fmt((cpu[k] * 1000) / (sessions / 2), 1)} ms per session`, '', null));
    gws.forEach((gw, k) => row('gateway peak RSS', gw.name, `${fmt(peak[k] / MiB, 0)} MiB`, `during ${sessions / 2} sessions`, '', null));
    finish({
      header: [
        `kubewire gateway benchmark: node ${process.version}, ${os.cpus().length} CPUs; load average ${loadAtStart} at start, ${loadAverage()} at the end`,
        `${sessions} exec sessions at once (KUBEWIRE_BENCH_GW_SESSIONS) from ${users} users (KUBEWIRE_BENCH_GW_USERS), each open ${holdMs} ms (KUBEWIRE_BENCH_GW_HOLD_MS), through two gateway replicas on one PostgreSQL`,
      ],
      rows: table,
      notes: [
        'gateway load: v5.channel.k8s.io clients with each user\'s token, alternating between gw-a and gw-b; in the store: audit_sessions rows under the session\'s own user and replica, and the stdout records of each equal to what its client read.',
        ...(failures.length ? [`failed sessions (first 5): ${failures.slice(0, 5).join('; ')}`] : []),
        ...(verify.status !== 0 ? [`verify --store: ${(verify.stdout + verify.stderr).trim().split('\n').slice(0, 3).join(' | ')}`] : []),
      ],
    });
  } finally {
    await cleanup();
  }
}

await main();
