/**
 * Proxy benchmark: what kubewire costs a real exec stream, next to no proxy and `kubectl proxy`,
 * in one run against the embedded demo cluster (DemoCluster, HTTPS on loopback, pods whose
 * commands run as local processes).
 *
 * A file of KUBEWIRE_BENCH_MB MiB (default 256) from /dev/urandom is written into the `web`
 * pod's sandbox, then streamed out along five paths:
 *   - direct: the client talks to the demo API server;
 *   - kubewire head / kubewire full / kubewire audit: through `node bin/kubewire.js proxy
 *     --no-tui --payload head` (resp. `full`, or `--audit`: every byte, as records of a SHA-256
 *     hash chain), spawned as its own process, as a user runs it, so its CPU and memory are its
 *     own; all decode every byte and write their log (to a temp file);
 *   - kubectl proxy: `kubectl proxy --disable-filter=true --port=0` (plain http on 127.0.0.1,
 *     no auth for the client; without --disable-filter it refuses exec), the reference relay.
 *     It serves its client plain http, so it has one TLS leg where kubewire has two (kubectl
 *     sends a token only over TLS, so kubewire listens with TLS).
 * Three measurements:
 *   1. `kubectl exec web -c app -- cat /data/big.bin`, stdout counted (and checked) by this
 *      process, over WebSocket (kubectl's default) on every path and over SPDY
 *      (KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false) direct and through kubewire head;
 *   2. the same stream read by a small `ws` client speaking v5.channel.k8s.io (in a worker
 *      thread, so it does not share an event loop with the demo server), counting channel-1
 *      bytes up to the channel-3 status and the close: kubectl's own cost out of the way, this
 *      shows the relay's ceiling;
 *   3. interactive latency: one byte in on stdin (channel 0) of `exec -i worker -- cat`, its
 *      echo out on channel 1, repeated KUBEWIRE_BENCH_RTT times (default 2000) after a warm-up,
 *      with the ws client: p50 / p90 / p99 / max in microseconds.
 * Throughput: each path is warmed up once, then 3 rounds of one run per path, interleaved so that
 * load elsewhere on the machine hits every path alike, and the best run is reported, in MiB/s
 * from the first stdout byte to the end of the stream (so kubectl's start-up and the exec
 * handshake are not in the rate; "first byte" shows them). "proxy CPU" is the proxy process's
 * user+system time (/proc/<pid>/stat) over its 3 timed runs: per MiB, and as a share of their
 * wall time (100% = one core busy the whole time); "machine CPU" is the share of all cores busy
 * meanwhile (/proc/stat). Peak RSS is VmHWM of each proxy process at the end.
 *
 * Why ratios: absolute rates depend on the machine, its load and the versions; on a small
 * machine cat, the demo server, the proxy and the client all share the same cores. The
 * ratios kubewire/direct and kubewire/kubectl-proxy, measured in the same run on the same bytes,
 * are what carries from one machine to another. Tests never check timings.
 *
 * A full run at the default size takes about 1.5 to 2 minutes on a 2-core machine (one warm-up
 * and 3 timed runs of 256 MiB per path and client; kubewire full is the slowest).
 *
 * The JSONL logs are truncated after every transfer (with --payload full a 256 MiB stream
 * makes ~350 MiB of log), so the disk never holds more than one transfer's worth.
 *
 * Run: npm run bench:proxy (builds src/ to dist/ first). Environment:
 *   KUBEWIRE_BENCH_MB        MiB per transfer (default 256);
 *   KUBEWIRE_BENCH_RTT       echo round trips per path (default 2000);
 *   KUBEWIRE_KUBECTL_DIR     where kubectl.1.33 lives (default /usr/lib/google-cloud-sdk/bin,
 *                            as in the tests); KUBEWIRE_BENCH_KUBECTL names the binary itself;
 *   KUBEWIRE_BENCH_CPU_PROF  a directory: the spawned kubewire processes run with --cpu-prof
 *                            and write their profiles there when stopped.
 * All sizes and rates are binary: MiB = 2^20 bytes.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { isMainThread, parentPort, Worker } from 'node:worker_threads';
import WebSocket from 'ws';

const KiB = 1024;
const MiB = 1024 * KiB;
const RUNS = 3;
const EXEC_CAT = '/api/v1/namespaces/default/pods/web/exec?command=cat&command=%2Fdata%2Fbig.bin&container=app&stdout=true';
const EXEC_ECHO = '/api/v1/namespaces/default/pods/worker/exec?command=cat&container=worker&stdin=true&stdout=true';
const V5 = 'v5.channel.k8s.io';

if (isMainThread) {
  await main().catch((e) => {
    console.error(`proxy benchmark failed: ${e instanceof Error ? e.message : e}`);
    process.exitCode = 1;
  });
}
else clientWorker();

// -- the ws client, in a worker thread ------------------------------------------------------------

function clientWorker() {
  const jobs = { stream: streamCat, echo: echoLatency };
  parentPort.on('message', async ({ id, op, args }) => {
    try {
      parentPort.postMessage({ id, result: await jobs[op](args) });
    } catch (e) {
      parentPort.postMessage({ id, error: e instanceof Error ? e.message : String(e) });
    }
  });
}

function connect(target, query) {
  const url = target.server.replace(/^http/, 'ws') + query;
  const headers = target.token ? { Authorization: `Bearer ${target.token}` } : {};
  const ws = new WebSocket(url, [V5], { headers, ...(target.ca ? { ca: target.ca } : {}), perMessageDeflate: false });
  ws.on('unexpected-response', (_req, res) => ws.emit('error', new Error(`upgrade refused: HTTP ${res.statusCode}`)));
  return ws;
}

/** `cat /data/big.bin` over v5.channel.k8s.io: channel-1 bytes, the status, the close. */
function streamCat({ target, timeoutMs }) {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    let first = 0;
    let bytes = 0;
    let status = null;
    let stderr = '';
    const ws = connect(target, EXEC_CAT);
    const timer = setTimeout(() => {
      stderr += `[no end after ${timeoutMs} ms: terminated]`;
      ws.terminate();
    }, timeoutMs);
    ws.on('message', (data) => {
      const channel = data[0];
      if (channel === 1) {
        if (data.length > 1 && first === 0) first = performance.now();
        bytes += data.length - 1;
      } else if (channel === 2) stderr += data.subarray(1).toString();
      else if (channel === 3) status = data.subarray(1).toString();
    });
    ws.on('error', reject);
    ws.on('close', (code) => {
      clearTimeout(timer);
      const end = performance.now();
      resolve({ bytes, firstMs: first ? first - start : NaN, ms: first ? end - first : NaN, wallMs: end - start, status, stderr, code });
    });
  });
}

/** One byte on stdin, wait for it on stdout; `warmup` untimed, then `count` timed round trips. */
function echoLatency({ target, count, warmup, timeoutMs }) {
  return new Promise((resolve, reject) => {
    const ws = connect(target, EXEC_ECHO);
    const rtt = new Float64Array(count);
    let waiting = null;
    let status = null;
    let done = false;
    const fail = (e) => {
      if (done) return;
      done = true;
      ws.terminate();
      reject(e);
    };
    const timer = setTimeout(() => fail(new Error(`echo session not done after ${timeoutMs} ms`)), timeoutMs);
    ws.on('message', (data) => {
      if (data[0] === 1 && data.length > 1 && waiting) {
        const w = waiting;
        waiting = null;
        w(data);
      } else if (data[0] === 3) status = data.subarray(1).toString();
    });
    ws.on('error', fail);
    ws.on('close', (code) => {
      clearTimeout(timer);
      if (waiting) fail(new Error(`closed (${code}) while waiting for an echo; status ${status}`));
      else if (!done) {
        done = true;
        resolve({ rtt, status, code });
      }
    });
    ws.on('open', async () => {
      try {
        for (let i = 0; i < warmup + count && !done; i++) {
          const byte = 0x21 + (i % 94);
          const echoed = new Promise((r) => (waiting = r));
          const t0 = performance.now();
          ws.send(Buffer.of(0, byte));
          const data = await echoed;
          const t1 = performance.now();
          if (data.length !== 2 || data[1] !== byte) throw new Error(`round trip ${i}: sent ${byte}, got ${data.subarray(1).toString('hex')}`);
          if (i >= warmup) rtt[i - warmup] = (t1 - t0) * 1000;
        }
        ws.send(Buffer.of(255, 0)); // v5 close signal: stdin ends, cat exits, the status and the close follow
      } catch (e) {
        fail(e);
      }
    });
  });
}

// -- the bench ------------------------------------------------------------------------------------

async function main() {
  const root = fileURLToPath(new URL('..', import.meta.url));
  let DemoCluster;
  try {
    ({ DemoCluster } = await import(new URL('../dist/src/demo/demo-cluster.js', import.meta.url).href));
  } catch (err) {
    console.error(`cannot load the compiled demo cluster from ${path.join(root, 'dist')}: run \`npm run build\` first\n${err}`);
    process.exit(1);
  }
  const totalMiB = Number(process.env.KUBEWIRE_BENCH_MB || 256);
  if (!(totalMiB > 0) || !Number.isInteger(totalMiB)) usage(`KUBEWIRE_BENCH_MB must be a positive whole number of MiB, not ${JSON.stringify(process.env.KUBEWIRE_BENCH_MB)}`);
  const rttCount = Number(process.env.KUBEWIRE_BENCH_RTT || 2000);
  if (!(rttCount > 0) || !Number.isInteger(rttCount)) usage(`KUBEWIRE_BENCH_RTT must be a positive whole number, not ${JSON.stringify(process.env.KUBEWIRE_BENCH_RTT)}`);
  const rttWarmup = Math.min(200, rttCount);
  const totalBytes = totalMiB * MiB;
  // A transfer or an echo session that has not ended by then failed (at least ~3 MiB/s).
  const timeoutMs = 60_000 + 300 * totalMiB;
  const kubectl = process.env.KUBEWIRE_BENCH_KUBECTL ?? path.join(process.env.KUBEWIRE_KUBECTL_DIR ?? '/usr/lib/google-cloud-sdk/bin', 'kubectl.1.33');
  if (!existsSync(kubectl)) usage(`kubectl not found at ${kubectl} (set KUBEWIRE_KUBECTL_DIR or KUBEWIRE_BENCH_KUBECTL)`);
  const cpuProfDir = process.env.KUBEWIRE_BENCH_CPU_PROF ? path.resolve(process.env.KUBEWIRE_BENCH_CPU_PROF) : null;
  const kubewireBin = path.join(root, 'bin', 'kubewire.js');
  const procfs = existsSync('/proc/self/stat');
  const clockTicks = 100; // USER_HZ, 100 on every Linux architecture Node runs on

  const started = performance.now();
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'kubewire-bench-'));
  const home = path.join(tmp, 'home'); // kubectl's cache, kept out of the user's ~/.kube
  const children = new Set();
  let cluster = null;
  let worker = null;

  /** Every process this run started, by PID; then the worker, the cluster, the temp dir. Once. */
  let cleaning = null;
  const cleanup = () =>
    (cleaning ??= (async () => {
      const steps = [...[...children].map((child) => () => stopProcess(child)), () => worker?.terminate(), () => cluster?.stop(), () => rm(tmp, { recursive: true, force: true })];
      for (const step of steps) await Promise.resolve().then(step).catch((e) => console.error(`cleanup: ${e.message}`));
    })());
  let interrupted = false;
  const onSignal = (signal) => {
    if (interrupted) return;
    interrupted = true;
    console.error(`\n${signal}: stopping`);
    void cleanup().finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  // -- processes ---------------------------------------------------------------------------------

  /** Spawns and keeps draining stdout/stderr (the last few KiB are kept for error messages). */
  function start(file, args, env) {
    const child = spawn(file, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.out = '';
    child.err = '';
    child.stdout.on('data', (d) => (child.out = (child.out + d).slice(-8 * KiB)));
    child.stderr.on('data', (d) => (child.err = (child.err + d).slice(-8 * KiB)));
    child.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    child.once('error', (e) => (child.err += `\n${e.message}`));
    children.add(child);
    void child.exited.then(() => children.delete(child));
    return child;
  }

  /** Resolves with the first match of `re` on the child's stdout; rejects if it exits first. */
  function waitFor(child, re, what) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => fail(`no ${what} after 20 s`), 20_000);
      const check = () => {
        const m = re.exec(child.out);
        if (!m) return;
        done();
        resolve(m);
      };
      const fail = (why) => {
        done();
        reject(new Error(`${path.basename(child.spawnfile)}: ${why}\n${child.err.trim()}`));
      };
      const exited = () => fail('exited early');
      const done = () => {
        clearTimeout(timer);
        child.stdout.off('data', check);
        child.off('exit', exited);
      };
      child.stdout.on('data', check);
      child.once('exit', exited);
      check();
    });
  }

  /** SIGTERM by PID (kubewire shuts down cleanly on it), SIGKILL after 5 s. */
  async function stopProcess(child) {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await child.exited;
    clearTimeout(timer);
  }

  function procStatus(pid, field) {
    if (!procfs) return NaN;
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * KiB : NaN;
  }

  /** Busy and total ticks of all CPUs together, from the first line of /proc/stat. */
  function machineTicks() {
    if (!procfs) return { busy: NaN, total: NaN };
    const [user, nice, system, idle, iowait, irq, softirq, steal] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const busy = user + nice + system + irq + softirq + steal;
    return { busy, total: busy + idle + iowait };
  }

  /** utime + stime of a process, in seconds. */
  function cpuSeconds(pid) {
    if (!procfs || pid === undefined) return NaN;
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / clockTicks;
  }

  function kubectlEnv(kubeconfig, extra = {}) {
    return { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, KUBECONFIG: kubeconfig, ...extra };
  }

  /** kubectl to completion: stdout counted (first byte timed), stderr kept; killed at the deadline. */
  function runKubectl(args, kubeconfig, extra = {}) {
    return new Promise((resolve, reject) => {
      const t0 = performance.now();
      let first = 0;
      let bytes = 0;
      let stderr = '';
      const child = spawn(kubectl, args, { env: kubectlEnv(kubeconfig, extra), stdio: ['ignore', 'pipe', 'pipe'] });
      child.exited = new Promise((r) => child.once('exit', r));
      children.add(child);
      const timer = setTimeout(() => {
        stderr += `[no end after ${timeoutMs} ms: killed]`;
        child.kill('SIGKILL');
      }, timeoutMs);
      child.stdout.on('data', (d) => {
        if (first === 0) first = performance.now();
        bytes += d.length;
      });
      child.stdout.once('end', () => (child.endAt = performance.now()));
      child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-8 * KiB)));
      child.once('error', reject);
      child.once('close', (code, signal) => {
        clearTimeout(timer);
        children.delete(child);
        const end = child.endAt ?? performance.now();
        resolve({ code, signal, bytes, stderr, firstMs: first ? first - t0 : NaN, ms: first ? end - first : NaN, wallMs: performance.now() - t0 });
      });
    });
  }

  // -- the worker ---------------------------------------------------------------------------------

  worker = new Worker(new URL(import.meta.url));
  const calls = new Map();
  let callId = 0;
  worker.on('message', ({ id, result, error }) => {
    const c = calls.get(id);
    calls.delete(id);
    if (error !== undefined) c.reject(new Error(error));
    else c.resolve(result);
  });
  worker.on('error', (e) => {
    for (const c of calls.values()) c.reject(e);
    calls.clear();
  });
  const call = (op, args) =>
    new Promise((resolve, reject) => {
      const id = ++callId;
      calls.set(id, { resolve, reject });
      worker.postMessage({ id, op, args });
    });

  try {
    // -- setup ------------------------------------------------------------------------------------

    const clusterKubeconfig = path.join(tmp, 'cluster.kubeconfig');
    cluster = await DemoCluster.start({ kubeconfigPath: clusterKubeconfig });
    const kubectlVersion = await new Promise((resolve) =>
      execFile(kubectl, ['version', '--client', '-o', 'json'], { env: kubectlEnv(clusterKubeconfig) }, (e, out) => {
        try {
          resolve(JSON.parse(out).clientVersion.gitVersion);
        } catch {
          resolve('version unknown');
        }
      }),
    );

    // The sandbox maps absolute paths in a command's arguments, not inside a shell script: the
    // script writes data/big.bin relative to the pod's directory, its working directory.
    const make = await runKubectl(['exec', 'web', '-c', 'app', '--', 'sh', '-c', `head -c ${totalBytes} /dev/urandom > data/big.bin`], clusterKubeconfig);
    if (make.code !== 0) throw new Error(`creating /data/big.bin in the web pod failed (exit ${make.code}): ${make.stderr.trim()}`);

    const kubewire = {};
    const profStamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '');
    for (const mode of ['head', 'full', 'audit']) {
      const log = path.join(tmp, `kubewire-${mode}.jsonl`);
      const kubeconfig = path.join(tmp, `kubewire-${mode}.kubeconfig`);
      const nodeArgs = cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`, `--cpu-prof-name=kubewire-${mode}-${profStamp}.cpuprofile`] : [];
      const env = { ...process.env, HOME: home };
      delete env.KUBECONFIG;
      // --audit: every byte as with full, plus the hash chain (SHA-256 of each record's canonical JSON).
      const modeArgs = mode === 'audit' ? ['--audit'] : ['--payload', mode];
      const child = start(process.execPath, [...nodeArgs, kubewireBin, 'proxy', '--no-tui', '--listen', '127.0.0.1:0', ...modeArgs, '--log', log, '--kubeconfig', clusterKubeconfig, '--write-kubeconfig', kubeconfig], env);
      await waitFor(child, /export KUBECONFIG=/, 'kubeconfig line');
      child.startRss = procStatus(child.pid, 'VmRSS');
      const text = await readFile(kubeconfig, 'utf8');
      const field = (name) => new RegExp(`^\\s*${name}: "([^"]*)"`, 'm').exec(text)?.[1];
      kubewire[mode] = {
        name: `kubewire ${mode}`,
        kubeconfig,
        log,
        audit: mode === 'audit',
        logSize: 0,
        process: child,
        target: { server: field('server'), token: field('token'), ca: Buffer.from(field('certificate-authority-data'), 'base64').toString() },
      };
    }

    const kproxy = start(kubectl, ['proxy', '--disable-filter=true', '--port=0', '--address=127.0.0.1'], kubectlEnv(clusterKubeconfig));
    const [, kproxyAddr] = await waitFor(kproxy, /Starting to serve on (127\.0\.0\.1:\d+)/, '"Starting to serve on" line');
    kproxy.startRss = procStatus(kproxy.pid, 'VmRSS');
    const kproxyKubeconfig = path.join(tmp, 'kubectl-proxy.kubeconfig');
    const kproxyServer = `http://${kproxyAddr}`;
    await writeFile(
      kproxyKubeconfig,
      ['apiVersion: v1', 'kind: Config', 'clusters:', '- name: kubectl-proxy', '  cluster:', `    server: "${kproxyServer}"`, 'users:', '- name: anonymous', '  user: {}',
        'contexts:', '- name: kubectl-proxy', '  context:', '    cluster: kubectl-proxy', '    user: anonymous', '    namespace: default', 'current-context: kubectl-proxy', ''].join('\n'),
      { mode: 0o600 },
    );

    const paths = [
      { name: 'direct', kubeconfig: clusterKubeconfig, process: null, target: { server: cluster.url, token: cluster.token, ca: cluster.caCertPem } },
      kubewire.head,
      kubewire.full,
      kubewire.audit,
      { name: 'kubectl proxy', kubeconfig: kproxyKubeconfig, process: kproxy, target: { server: kproxyServer, token: null, ca: null } },
    ];

    /** After each transfer: the log's size, then the log is emptied (kubewire appends to it). */
    async function takeLog(p) {
      if (!p.log) return NaN;
      const size = (await stat(p.log)).size;
      if (p.audit) {
        // A chain cannot be emptied under the writer: count what this transfer added, and
        // remove the (unlinked) file's space only when the proxy stops.
        const added = size - p.logSize;
        p.logSize = size;
        return added;
      }
      await truncate(p.log, 0);
      return size;
    }

    /**
     * Every path warmed up once, then RUNS rounds of one timed transfer per path, interleaved so
     * that a burst of load elsewhere on the machine hits every path alike. Per path: the best
     * rate, the proxy's CPU and the whole machine's over its timed transfers, the log's size.
     */
    async function throughput(label, paths, transfer) {
      const check = (p, r, run) => {
        if (r.bytes !== totalBytes) throw new Error(`${label} via ${p.name}, ${run}: ${r.bytes} bytes, expected ${totalBytes}${r.detail ? `: ${r.detail}` : ''}`);
      };
      for (const p of paths) {
        check(p, await transfer(p), 'warm-up');
        await takeLog(p);
      }
      const acc = paths.map(() => ({ best: null, cpu: 0, wallMs: 0, logBytes: 0, busy: 0, ticks: 0 }));
      for (let run = 1; run <= RUNS; run++) {
        for (const [i, p] of paths.entries()) {
          const a = acc[i];
          const cpu0 = cpuSeconds(p.process?.pid);
          const m0 = machineTicks();
          const r = await transfer(p);
          const m1 = machineTicks();
          a.cpu += cpuSeconds(p.process?.pid) - cpu0;
          a.busy += m1.busy - m0.busy;
          a.ticks += m1.total - m0.total;
          check(p, r, `run ${run}`);
          a.logBytes += await takeLog(p);
          a.wallMs += r.wallMs;
          if (!a.best || r.ms < a.best.ms) a.best = r;
        }
      }
      return paths.map((p, i) => {
        const a = acc[i];
        return {
          path: p.name,
          mibps: totalMiB / (a.best.ms / 1000),
          firstMs: a.best.firstMs,
          cpuMsPerMiB: (a.cpu * 1000) / (RUNS * totalMiB),
          cpuShare: a.cpu / (a.wallMs / 1000),
          machineShare: a.busy / a.ticks,
          logMiB: p.log ? a.logBytes / RUNS / MiB : NaN,
        };
      });
    }

    const kubectlCat = (env) => async (p) => {
      const r = await runKubectl(['exec', 'web', '-c', 'app', '--', 'cat', '/data/big.bin'], p.kubeconfig, env);
      if (r.code !== 0) r.detail = `kubectl exit ${r.code ?? r.signal}: ${r.stderr.trim()}`;
      return r;
    };
    const wsCat = async (p) => {
      const r = await call('stream', { target: p.target, timeoutMs });
      if (!r.status?.includes('"Success"') || r.code !== 1000) r.detail = `status ${r.status}, close ${r.code}, stderr ${r.stderr.trim()}`;
      if (r.detail) r.bytes = -1; // a failed stream is a failed run, whatever it counted
      return r;
    };

    // -- 1. kubectl -------------------------------------------------------------------------------

    const sections = [];
    const wsRows = await throughput('kubectl exec (websocket)', paths, kubectlCat({}));
    const spdyRows = await throughput('kubectl exec (spdy)', [paths[0], kubewire.head], kubectlCat({ KUBECTL_REMOTE_COMMAND_WEBSOCKETS: 'false' }));
    sections.push({ title: '1a. kubectl exec web -c app -- cat /data/big.bin, WebSocket (v5.channel.k8s.io)', rows: wsRows });
    sections.push({ title: '1b. kubectl exec web -c app -- cat /data/big.bin, SPDY/3.1 (KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false)', rows: spdyRows });

    // -- 2. ws client -----------------------------------------------------------------------------

    const clientRows = await throughput('ws client', paths, wsCat);
    sections.push({ title: '2. ws client (v5.channel.k8s.io, in a worker thread), same stream', rows: clientRows });

    // -- 3. latency -------------------------------------------------------------------------------

    const latency = [];
    for (const p of paths) {
      const r = await call('echo', { target: p.target, count: rttCount, warmup: rttWarmup, timeoutMs: timeoutMs + rttCount * 10 });
      if (!r.status?.includes('"Success"')) throw new Error(`echo via ${p.name}: status ${r.status}, close ${r.code}`);
      await takeLog(p);
      const sorted = Float64Array.from(r.rtt).sort();
      const q = (f) => sorted[Math.min(sorted.length - 1, Math.ceil(f * sorted.length) - 1)];
      latency.push({ path: p.name, p50: q(0.5), p90: q(0.9), p99: q(0.99), max: sorted[sorted.length - 1] });
    }

    // -- memory, logs, stop -----------------------------------------------------------------------

    const memory = [];
    for (const p of [kubewire.head, kubewire.full, kubewire.audit, paths[4]]) {
      memory.push({ path: p.name, start: p.process.startRss, hwm: procStatus(p.process.pid, 'VmHWM') });
    }
    for (const p of [kubewire.head, kubewire.full, kubewire.audit]) {
      await stopProcess(p.process);
      if (p.audit) {
        // Lossless by construction; the log is GiBs by now and is not read back.
        p.dropped = 0;
        continue;
      }
      const lines = (await readFile(p.log, 'utf8')).trim().split('\n');
      const stop = lines.map((l) => { try { return JSON.parse(l); } catch { return null; } }).find((e) => e?.type === 'proxy.stop');
      p.dropped = stop?.dropped ?? NaN;
    }
    await stopProcess(kproxy);
    const seconds = (performance.now() - started) / 1000;

    // -- report -----------------------------------------------------------------------------------

    console.log(`kubewire proxy benchmark: node ${process.version}, ${process.platform}/${process.arch}, ${os.cpus().length} CPUs, kubectl ${kubectlVersion}`);
    console.log(`${totalMiB} MiB from /dev/urandom per transfer (KUBEWIRE_BENCH_MB=${totalMiB}), warm-up + best of ${RUNS}; ${rttCount} echo round trips per path after ${rttWarmup} untimed`);
    console.log('Tests never check timings: these numbers are for people, and only their ratios travel between machines.');

    const fmt = (n, digits = 0) => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');
    for (const s of sections) {
      const direct = s.rows.find((r) => r.path === 'direct');
      const kp = s.rows.find((r) => r.path === 'kubectl proxy');
      const header = ['path', 'MiB/s', '÷ direct', ...(kp ? ['÷ kubectl proxy'] : []), 'first byte ms', 'proxy CPU ms/MiB', 'proxy CPU %', 'machine CPU %', 'log MiB'];
      const table = s.rows.map((r) => [
        r.path,
        fmt(r.mibps),
        r.path === 'direct' ? '' : fmt(r.mibps / direct.mibps, 2),
        ...(kp ? [r.path === 'kubectl proxy' || r.path === 'direct' ? '' : fmt(r.mibps / kp.mibps, 2)] : []),
        fmt(r.firstMs),
        r.path === 'direct' ? '' : fmt(r.cpuMsPerMiB, 2),
        r.path === 'direct' ? '' : fmt(r.cpuShare * 100),
        fmt(r.machineShare * 100),
        Number.isFinite(r.logMiB) ? fmt(r.logMiB, 1) : '',
      ]);
      console.log('');
      console.log(s.title);
      printTable(header, table);
    }
    console.log('');
    console.log(`3. interactive round trip, ws client, exec -i worker -- cat: 1 byte on channel 0, its echo on channel 1 (µs)`);
    const directRtt = latency[0];
    printTable(
      ['path', 'p50', 'p90', 'p99', 'max', 'p50 ÷ direct'],
      latency.map((l) => [l.path, fmt(l.p50), fmt(l.p90), fmt(l.p99), fmt(l.max), l.path === 'direct' ? '' : fmt(l.p50 / directRtt.p50, 2)]),
    );
    console.log('');
    const mib = (b) => (Number.isFinite(b) ? `${(b / MiB).toFixed(1)} MiB` : 'n/a');
    console.log(`Peak RSS (VmHWM, read at the end): ${memory.map((m) => `${m.path} ${mib(m.hwm)}`).join(', ')}; RSS once started, before any traffic: ${memory.map((m) => `${m.path} ${mib(m.start)}`).join(', ')}.`);
    console.log(`Events the JSONL log dropped (lossy with --payload head, lossless with full): ${[kubewire.head, kubewire.full, kubewire.audit].map((p) => `${p.name} ${fmt(p.dropped)}`).join(', ')}.`);
    console.log('÷ direct, ÷ kubectl proxy: this MiB/s over theirs in the same table. MiB/s counts from the first stdout byte to the end of the stream.');
    console.log('kubectl proxy serves its client plain http: one TLS leg, where kubewire (TLS to kubectl, TLS upstream) has two.');
    console.log('proxy CPU: the proxy process\'s user+system time over the timed runs, per MiB streamed and as a share of their wall time (100% = one core).');
    console.log(`machine CPU: share of all ${os.cpus().length} CPUs busy during the timed runs (/proc/stat, everything on the machine): near 100%, the cores are the limit and every path's rate reflects the CPU all its processes spend per byte.`);
    console.log('log MiB: JSONL written by kubewire per transfer (the log is emptied after each).');
    if (cpuProfDir) console.log(`CPU profiles of the kubewire processes: ${cpuProfDir}`);
    console.log(`Total time ${seconds.toFixed(1)} s.`);
  } catch (e) {
    // Interrupted: what failed was the processes being stopped under it; the handler exits.
    if (!interrupted) throw e;
    await new Promise(() => {});
  } finally {
    await cleanup();
  }
}

function printTable(header, table) {
  const widths = header.map((h, c) => Math.max(h.length, ...table.map((row) => row[c].length)));
  const line = (row) => row.map((cell, c) => (c >= 1 ? cell.padStart(widths[c]) : cell.padEnd(widths[c]))).join('  ');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of table) console.log(line(row));
}

function usage(message) {
  console.error(message);
  process.exit(2);
}
