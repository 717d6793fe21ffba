/**
 * Proxy benchmark: what kubewire costs a real exec session, next to no proxy, a bare TLS relay
 * and `kubectl proxy`, in one run against the embedded demo cluster (DemoCluster, HTTPS on
 * loopback, pods whose commands run as local processes).
 *
 * Paths, each proxy its own process (spawned as a user runs it, so its CPU and memory are its
 * own):
 *   - direct: the client talks to the demo API server;
 *   - bare TLS relay: bench/tls-relay.js, TLS in, TLS out, bytes piped both ways. TLS on both
 *     legs is what kubewire cannot avoid (kubectl sends its token only over TLS), so this is
 *     the floor for one extra hop, and the baseline of the goals: what kubewire costs beyond
 *     it is the observer;
 *   - kubectl proxy: `kubectl proxy --disable-filter=true` (without it, it refuses exec), plain
 *     http to its client, so one TLS leg: a reference, not a baseline;
 *   - kubewire none / head / full / audit: `kubewire proxy --no-tui --payload MODE` (resp.
 *     `--audit`: every byte, as records of a SHA-256 hash chain), logging to a temp file.
 * Clients:
 *   - kubectl (`kubectl exec web -c app -- cat /data/big.bin`, stdout counted here), over
 *     WebSocket, its default, and over SPDY (KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false) for head;
 *   - a small `ws` client speaking v5.channel.k8s.io in a worker thread, which counts bytes and
 *     decodes nothing: kubectl's own cost out of the way, it shows each path's ceiling.
 *
 * Measurements, all in one run:
 *   1. throughput of a KUBEWIRE_BENCH_MB MiB (default 64) file from /dev/urandom, from the
 *      first stdout byte to the end of the stream. Every path is warmed up with
 *      KUBEWIRE_BENCH_WARMUP (default 3) transfers, then KUBEWIRE_BENCH_ROUNDS (default 5)
 *      interleaved pairs of (baseline, path), the order inside
 *      a pair alternating, so load elsewhere on the machine hits both alike. The figure is the
 *      median MiB/s; "× relay" is the median over the pairs of path / relay in the same pair,
 *      "× direct" that over the same for direct (each path is paired with the relay only);
 *   2. proxy CPU per MiB in those ws-client runs: utime + stime of the proxy process from
 *      /proc/PID/stat, which covers all its threads (libuv's pool, GC, compilation); the
 *      observer's share is the median over the pairs of kubewire's minus the relay's;
 *   3. keystroke round trip: one byte on stdin (channel 0) of `exec -i worker -- cat`, its echo
 *      on channel 1. Alone: KUBEWIRE_BENCH_RTT (default 1000) round trips per path in blocks,
 *      each block paired with a block direct. Under load: the same, back to back, while a
 *      KUBEWIRE_BENCH_LOAD_MB (default 64) MiB stream runs in a second session through the
 *      same proxy (its own worker thread), each run paired with one through the relay; only
 *      round trips that start and end while the stream flows count;
 *   4. memory: VmRSS of each proxy KUBEWIRE_BENCH_IDLE_S (default 3) seconds after it started,
 *      before any traffic; and the peak (VmHWM, reset through /proc/PID/clear_refs before, and
 *      sampled) while KUBEWIRE_BENCH_SESSIONS (default 100) sessions stream at once, each
 *      `cat` of a 4 MiB file over and over until it is closed, for at least
 *      KUBEWIRE_BENCH_HOLD_S (default 8) seconds after the last of them started. Each is read
 *      at KUBEWIRE_BENCH_SESSION_KIBPS (default 256) KiB/s at most, 25 MiB/s for 100: the
 *      same load through every path (unpaced, the fastest path would load the demo server and
 *      the client hardest), and readers slower than the source, so every proxy holds as much
 *      in its buffers as its backpressure lets it;
 *   5. sessions opened under load: the streaming sessions are opened KUBEWIRE_BENCH_OPEN_PARALLEL
 *      (default 10) at a time, each waiting for the first byte of the one before; once all of
 *      them stream, KUBEWIRE_BENCH_NEW_SESSIONS (default 100) new exec sessions are opened, as
 *      many at a time, each closed as soon as it is answered; each answer is counted by its
 *      HTTP status ("while all streamed": how many came while every one of the others still
 *      streamed), and the proxy's `proxy.error` events are counted in its log.
 * Each figure is printed beside its goal (ok / miss); the goals are the product's speed
 * targets. Absolute numbers depend on the machine and its load (the load average is printed at
 * the start and the end); ratios to baselines measured in the same run are what carries. On a
 * small machine the client, the demo server, cat and the proxy share the cores, so every
 * path's rate reflects the CPU all of them spend per byte. Tests never check timings.
 *
 * The defaults finish `npm run bench` (codec and proxy) in under 10 minutes on a 2-core machine.
 * The JSONL logs are emptied after every transfer; the audit log (a chain cannot be emptied
 * under its writer) grows, about 1.4 bytes per byte streamed, until the proxy stops.
 *
 * Run: npm run bench:proxy (builds src/ to dist/ first); `--json FILE` writes the rows for
 * bench/run.js instead of printing them. Environment, besides the sizes above:
 *   KUBEWIRE_BENCH_KUBECTL   the kubectl binary; by default kubectl.1.33 (else the newest
 *                            kubectl.1.NN) beside the real file of the kubectl on PATH, or in
 *                            KUBEWIRE_KUBECTL_DIR, as in the tests; else that kubectl itself;
 *   KUBEWIRE_BENCH_CPU_PROF  a directory: the kubewire processes run with --cpu-prof and write
 *                            their profiles there when stopped.
 * All sizes and rates are binary: MiB = 2^20 bytes.
 */
import { execFile, spawn } from 'node:child_process';
import { accessSync, constants, existsSync, readdirSync, readFileSync, realpathSync, createReadStream } from 'node:fs';
import { mkdtemp, rm, stat, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { isMainThread, parentPort, Worker } from 'node:worker_threads';
import WebSocket from 'ws';
import { cpuSeconds, procStatus, resetPeak } from './procfs.js';
import { envInt, finish, fmt, KiB, loadAverage, median, MiB, progress, quantile } from './report.js';

const V5 = 'v5.channel.k8s.io';
const catQuery = (file) => `/api/v1/namespaces/default/pods/web/exec?command=cat&command=${encodeURIComponent(`/data/${file}`)}&container=app&stdout=true`;
const EXEC_ECHO = '/api/v1/namespaces/default/pods/worker/exec?command=cat&container=worker&stdin=true&stdout=true';
/** Slots of the array both worker threads share with the main thread. */
const LOAD_STATE = 0; // the load stream: 0 not flowing yet, 1 flowing, 2 ended
const STREAMING = 1; // concurrent sessions that have had their first byte and not yet closed
const SLEEP = 2; // never written: Atomics.wait on it is a sleep
const SETTLED = 3; // concurrent sessions that have had their first byte or ended without one
/** What each concurrent session streams over and over, and at most how many times. */
const SESSION_FILE_MIB = 4;
const SESSION_REPEATS = 1000;
/** How often paced sessions get their next share of bytes. */
const PACE_MS = 50;

if (isMainThread) {
  await main().catch((e) => {
    console.error(`proxy benchmark failed: ${e instanceof Error ? e.stack : e}`);
    process.exitCode = 1;
  });
} else clientWorker();

// -- the ws client, in worker threads -------------------------------------------------------------

function clientWorker() {
  let shared = null;
  let background = null;
  let stopConcurrent = () => {};
  const jobs = {
    init: ({ buffer }) => void (shared = new Int32Array(buffer)),
    stream: (a) => openStream(a.target, a.query, a.timeoutMs, a.signal ? { first: () => Atomics.store(shared, LOAD_STATE, 1), end: () => Atomics.store(shared, LOAD_STATE, 2) } : {}),
    echo: echoBlock,
    echoStart: (a) => {
      const run = echoWhileLoaded(a, shared);
      background = run.result;
      return run.warm;
    },
    echoResult: () => background,
    // Sessions that stream until stopConcurrent ends them, each read at `kibps` KiB/s at most
    // (paused when it is ahead, resumed every PACE_MS); each says whether it lasted that long.
    // They are opened `parallel` at a time, each lane waiting for its session's first byte:
    // users' sessions arrive over time, not in one instant.
    concurrent: async ({ target, query, count, kibps, parallel, timeoutMs }) => {
      const perTick = (kibps * KiB * PACE_MS) / 1000;
      const paced = [];
      const ticker = setInterval(() => {
        for (const q of paced) {
          q.budget = Math.min(perTick, q.budget + perTick);
          if (q.budget > 0 && q.ws.isPaused) q.ws.resume();
        }
      }, PACE_MS);
      // Ended as a client that goes away ends them: without a close handshake, which would
      // first drain what the kernel's socket buffers hold unpaced (megabytes per session).
      let stopping = false;
      stopConcurrent = () => {
        stopping = true;
        clearInterval(ticker);
        for (const q of paced) {
          q.stopped = true;
          q.bytesAtStop = q.bytes;
          q.ws.terminate();
        }
      };
      const open = () => {
        let counted = false;
        let started;
        const q = { ws: null, budget: perTick, bytes: 0, bytesAtStop: 0, stopped: false, started: new Promise((r) => (started = r)) };
        paced.push(q);
        q.result = openStream(target, query, timeoutMs, {
          socket: (ws) => (q.ws = ws),
          data: (n) => {
            q.bytes += n;
            q.budget -= n;
            if (q.budget <= 0 && !q.stopped) q.ws.pause();
          },
          first: () => {
            counted = true;
            Atomics.add(shared, STREAMING, 1);
            Atomics.add(shared, SETTLED, 1);
            started();
          },
          end: () => {
            if (counted) Atomics.sub(shared, STREAMING, 1);
            else Atomics.add(shared, SETTLED, 1);
            started();
          },
        }).then((r) => {
          const ok = q.stopped && r.httpStatus === null && q.bytesAtStop > 0 && !r.error;
          return { bytes: q.stopped ? q.bytesAtStop : r.bytes, ok, httpStatus: r.httpStatus, detail: ok ? null : r.detail ?? 'ended before it was closed' };
        });
        return q;
      };
      let opened = 0;
      const lane = async () => {
        while (opened < count && !stopping) {
          opened++;
          await open().started;
        }
      };
      try {
        await Promise.all(Array.from({ length: Math.min(parallel, count) }, lane));
        return await Promise.all(paced.map((q) => q.result));
      } finally {
        clearInterval(ticker);
      }
    },
    stopConcurrent: () => stopConcurrent(),
    openUnderLoad: (a) => openUnderLoad(a, shared),
  };
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
  return new WebSocket(url, [V5], { headers, ...(target.ca ? { ca: target.ca } : {}), perMessageDeflate: false });
}

/**
 * One stream read to its end: channel-1 bytes, the channel-3 status, the close, or the HTTP
 * status of a refused upgrade. Never rejects: a failure is in `ok` and `detail`.
 */
function openStream(target, query, timeoutMs, hooks = {}) {
  return new Promise((resolve) => {
    const start = performance.now();
    let first = 0;
    let bytes = 0;
    let status = null;
    let stderr = '';
    let httpStatus = null;
    let error = null;
    let settled = false;
    const ws = connect(target, query);
    hooks.socket?.(ws);
    const timer = setTimeout(() => {
      error = `no end after ${timeoutMs} ms`;
      ws.terminate();
    }, timeoutMs);
    const done = (code) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      hooks.end?.();
      const end = performance.now();
      const ok = error === null && httpStatus === null && code === 1000 && !!status?.includes('"Success"');
      const detail = ok ? null : `${error ?? ''}${httpStatus ? ` HTTP ${httpStatus}` : ''} status ${status}, close ${code}, stderr ${stderr.trim()}`.trim();
      resolve({ bytes, ok, detail, error, httpStatus, firstMs: first ? first - start : NaN, ms: first ? end - first : NaN, wallMs: end - start });
    };
    ws.on('unexpected-response', (req, res) => {
      httpStatus = res.statusCode;
      res.resume();
      req.destroy();
      done(null);
    });
    ws.on('message', (data) => {
      const channel = data[0];
      if (channel === 1) {
        if (data.length > 1 && first === 0) {
          first = performance.now();
          hooks.first?.();
        }
        bytes += data.length - 1;
        hooks.data?.(data.length);
      } else if (channel === 2) stderr = (stderr + data.subarray(1).toString()).slice(-4 * KiB);
      else if (channel === 3) status = data.subarray(1).toString();
    });
    ws.on('error', (e) => (error ??= e.message));
    ws.on('close', (code) => done(code));
  });
}

/**
 * An echo session: resolves with `send(byte)` (one round trip, in µs) and `end()` (the v5
 * close signal: stdin ends, cat exits, the status and the close follow).
 */
function echoSession(target, timeoutMs) {
  return new Promise((resolve, reject) => {
    const ws = connect(target, EXEC_ECHO);
    let waiting = null;
    let status = null;
    let closed = null;
    let opened = false;
    const timer = setTimeout(() => {
      ws.terminate();
      fail(new Error(`echo session not done after ${timeoutMs} ms`));
    }, timeoutMs);
    const fail = (e) => {
      if (waiting) {
        const w = waiting;
        waiting = null;
        w.reject(e);
      }
      if (!opened) reject(e);
    };
    ws.on('unexpected-response', (req, res) => {
      res.resume();
      req.destroy();
      fail(new Error(`echo upgrade refused: HTTP ${res.statusCode}`));
    });
    ws.on('message', (data) => {
      if (data[0] === 1 && data.length > 1 && waiting) {
        const w = waiting;
        waiting = null;
        w.resolve(data);
      } else if (data[0] === 3) status = data.subarray(1).toString();
    });
    ws.on('error', (e) => fail(e));
    const closing = new Promise((r) => ws.on('close', (code) => {
      clearTimeout(timer);
      closed = code;
      fail(new Error(`echo session closed (${code}) while waiting; status ${status}`));
      r();
    }));
    ws.on('open', () => {
      opened = true;
      resolve({
        async send(byte) {
          if (closed !== null) throw new Error(`echo session closed (${closed}); status ${status}`);
          const echoed = new Promise((res, rej) => (waiting = { resolve: res, reject: rej }));
          const t0 = performance.now();
          ws.send(Buffer.of(0, byte));
          const data = await echoed;
          const us = (performance.now() - t0) * 1000;
          if (data.length !== 2 || data[1] !== byte) throw new Error(`sent ${byte}, got ${data.subarray(1).toString('hex')}`);
          return us;
        },
        async end() {
          ws.send(Buffer.of(255, 0));
          await closing;
          if (!status?.includes('"Success"')) throw new Error(`echo session ended with status ${status}, close ${closed}`);
        },
      });
    });
  });
}

const keystroke = (i) => 0x21 + (i % 94);

/** `warmup` untimed round trips, then `count` timed ones. */
async function echoBlock({ target, count, warmup, timeoutMs }) {
  const s = await echoSession(target, timeoutMs);
  const rtt = [];
  for (let i = 0; i < warmup + count; i++) {
    const us = await s.send(keystroke(i));
    if (i >= warmup) rtt.push(us);
  }
  await s.end();
  return { rtt };
}

/**
 * Round trips back to back until the load stream has ended (LOAD_STATE 2), at most `maxCount`;
 * kept only when the stream flowed both when the byte left and when its echo came back.
 * `warm` resolves after `warmup` round trips, `result` at the end.
 */
function echoWhileLoaded({ target, warmup, maxCount, timeoutMs }, shared) {
  let warmed;
  const warm = new Promise((r) => (warmed = r));
  const result = (async () => {
    const s = await echoSession(target, timeoutMs);
    const rtt = [];
    for (let i = 0; i < warmup + maxCount; i++) {
      if (i === warmup) warmed();
      const before = Atomics.load(shared, LOAD_STATE);
      if (i >= warmup && before === 2) break;
      const us = await s.send(keystroke(i));
      if (before === 1 && Atomics.load(shared, LOAD_STATE) === 1) rtt.push(us);
    }
    await s.end();
    return { rtt };
  })();
  // A session that fails before it is warm must not leave the caller waiting.
  result.then(() => warmed(), () => warmed());
  return { warm, result };
}

/**
 * Waits (at most 60 s) until each of the `waitFor` concurrent sessions streams or has failed,
 * then opens `count` exec sessions, `parallel` at a time, each ended at once with the
 * close signal. Per session: the HTTP status it was answered with (101, 502, ...), or the
 * error; the time to the answer; whether every concurrent session still streamed then. Also
 * when (Date.now()) all of them streamed, or null if they never did.
 */
async function openUnderLoad({ target, count, waitFor, parallel, timeoutMs }, shared) {
  const deadline = Date.now() + 60_000;
  while (Atomics.load(shared, SETTLED) < waitFor && Date.now() < deadline) Atomics.wait(shared, SLEEP, 0, 10);
  const allStreamingAt = Atomics.load(shared, STREAMING) >= waitFor ? Date.now() : null;
  const results = [];
  let next = 0;
  const openOne = () =>
    new Promise((resolve) => {
      const t0 = performance.now();
      const r = { status: null, error: null, answerMs: NaN, underLoad: false };
      let settled = false;
      const ws = connect(target, EXEC_ECHO);
      const done = () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(r);
      };
      const answered = (status) => {
        r.status = status;
        r.answerMs = performance.now() - t0;
        r.underLoad = Atomics.load(shared, STREAMING) >= waitFor;
      };
      const timer = setTimeout(() => {
        r.error ??= `no end after ${timeoutMs} ms`;
        ws.terminate();
        done();
      }, timeoutMs);
      ws.on('unexpected-response', (req, res) => {
        answered(res.statusCode);
        res.resume();
        req.destroy();
        done();
      });
      ws.on('open', () => {
        answered(101);
        ws.send(Buffer.of(255, 0));
      });
      ws.on('error', (e) => (r.error ??= e.message));
      ws.on('close', done);
    });
  const lane = async () => {
    while (next < count) {
      const i = next++;
      results[i] = await openOne();
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, count) }, lane));
  return { results, allStreamingAt };
}

// -- the bench ------------------------------------------------------------------------------------

/** kubectl.1.33 (else the newest kubectl.1.NN) beside the real kubectl on PATH; else that kubectl. */
function findKubectl() {
  if (process.env.KUBEWIRE_BENCH_KUBECTL) return process.env.KUBEWIRE_BENCH_KUBECTL;
  let onPath = null;
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir || '.', 'kubectl');
    try {
      accessSync(candidate, constants.X_OK);
      onPath = candidate;
      break;
    } catch {}
  }
  const dir = process.env.KUBEWIRE_KUBECTL_DIR ?? (onPath ? path.dirname(realpathSync(onPath)) : null);
  if (dir && existsSync(path.join(dir, 'kubectl.1.33'))) return path.join(dir, 'kubectl.1.33');
  const versions = dir && existsSync(dir) ? readdirSync(dir).map((f) => /^kubectl\.1\.(\d+)$/.exec(f)).filter(Boolean).sort((a, b) => Number(b[1]) - Number(a[1])) : [];
  if (versions.length) return path.join(dir, versions[0][0]);
  return onPath;
}

async function main() {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const dist = (p) => new URL(`../dist/src/${p}`, import.meta.url).href;
  let DemoCluster, createDemoTls, writeKubeconfig;
  try {
    ({ DemoCluster } = await import(dist('demo/demo-cluster.js')));
    ({ createDemoTls } = await import(dist('tls/local-ca.js')));
    ({ writeKubeconfig } = await import(dist('kubeconfig/write-kubeconfig.js')));
  } catch (err) {
    console.error(`cannot load the compiled sources from ${path.join(root, 'dist')}: run \`npm run build\` first\n${err}`);
    process.exit(1);
  }
  const loadAtStart = loadAverage();
  const totalMiB = envInt('KUBEWIRE_BENCH_MB', 64);
  const rounds = envInt('KUBEWIRE_BENCH_ROUNDS', 5);
  // V8 still compiles kubewire's hot paths well into its second and third 64 MiB (TurboFan on
  // the platform's threads: optimizations per 64 MiB ran 125, 105, 29, 11, 13 on one run); one
  // warm-up left a third of that in the measured rounds, where a proxy that has run a while has none.
  const warmups = envInt('KUBEWIRE_BENCH_WARMUP', 3, 0);
  const rttCount = envInt('KUBEWIRE_BENCH_RTT', 1000);
  const loadMiB = envInt('KUBEWIRE_BENCH_LOAD_MB', 64);
  const idleSeconds = envInt('KUBEWIRE_BENCH_IDLE_S', 3, 0);
  const sessions = envInt('KUBEWIRE_BENCH_SESSIONS', 100);
  const holdSeconds = envInt('KUBEWIRE_BENCH_HOLD_S', 8, 0);
  const sessionKiBps = envInt('KUBEWIRE_BENCH_SESSION_KIBPS', 256);
  const openParallel = envInt('KUBEWIRE_BENCH_OPEN_PARALLEL', 10);
  const newSessions = envInt('KUBEWIRE_BENCH_NEW_SESSIONS', 100);
  const rttBlock = Math.ceil(rttCount / rounds);
  const rttWarmup = 20;
  const totalBytes = totalMiB * MiB;
  // A transfer that has not ended by then failed (slower than ~3 MiB/s).
  const timeoutFor = (mib) => 60_000 + 300 * mib;
  const timeoutMs = timeoutFor(Math.max(totalMiB, loadMiB));
  const kubectl = findKubectl();
  if (!kubectl || !existsSync(kubectl)) usage(`kubectl not found${kubectl ? ` at ${kubectl}` : ' on PATH'} (set KUBEWIRE_BENCH_KUBECTL or KUBEWIRE_KUBECTL_DIR)`);
  const cpuProfDir = process.env.KUBEWIRE_BENCH_CPU_PROF ? path.resolve(process.env.KUBEWIRE_BENCH_CPU_PROF) : null;
  const kubewireBin = path.join(root, 'bin', 'kubewire.js');
  const relayScript = path.join(root, 'bench', 'tls-relay.js');

  const started = performance.now();
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'kubewire-bench-'));
  const home = path.join(tmp, 'home'); // kubectl's cache, kept out of the user's ~/.kube
  const children = new Set();
  const workers = [];
  let cluster = null;

  /** Every process this run started, by PID; then the workers, the cluster, the temp dir. Once. */
  let cleaning = null;
  const cleanup = () =>
    (cleaning ??= (async () => {
      const steps = [...[...children].map((child) => () => stopProcess(child)), ...workers.map((w) => () => w.terminate()), () => cluster?.stop(), () => rm(tmp, { recursive: true, force: true })];
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

  function kubectlEnv(kubeconfig, extra = {}) {
    return { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, KUBECONFIG: kubeconfig, ...extra };
  }

  /** kubectl to completion: stdout counted (first byte timed), stderr kept; killed at the deadline. */
  function runKubectl(args, kubeconfig, extra = {}, deadlineMs = timeoutMs) {
    return new Promise((resolve, reject) => {
      const t0 = performance.now();
      let first = 0;
      let bytes = 0;
      let stderr = '';
      const child = spawn(kubectl, args, { env: kubectlEnv(kubeconfig, extra), stdio: ['ignore', 'pipe', 'pipe'] });
      child.exited = new Promise((r) => child.once('exit', r));
      children.add(child);
      const timer = setTimeout(() => {
        stderr += `[no end after ${deadlineMs} ms: killed]`;
        child.kill('SIGKILL');
      }, deadlineMs);
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

  // -- the workers --------------------------------------------------------------------------------

  const shared = new Int32Array(new SharedArrayBuffer(4 * Int32Array.BYTES_PER_ELEMENT));
  function startWorker() {
    const worker = new Worker(new URL(import.meta.url));
    workers.push(worker);
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
    return { call };
  }
  // Two clients, so a stream being read never delays the keystrokes measured beside it.
  const streamer = startWorker();
  const typist = startWorker();

  try {
    await streamer.call('init', { buffer: shared.buffer });
    await typist.call('init', { buffer: shared.buffer });

    // -- setup ------------------------------------------------------------------------------------

    progress('starting the demo cluster and the proxies');
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
    // script writes data/*.bin relative to the pod's directory, its working directory.
    const files = { big: totalMiB, load: loadMiB, session: SESSION_FILE_MIB };
    const script = Object.entries(files).map(([name, mib]) => `head -c ${mib * MiB} /dev/urandom > data/${name}.bin`).join(' && ');
    const make = await runKubectl(['exec', 'web', '-c', 'app', '--', 'sh', '-c', script], clusterKubeconfig);
    if (make.code !== 0) throw new Error(`creating the data files in the web pod failed (exit ${make.code}): ${make.stderr.trim()}`);

    const direct = { name: 'direct', kubeconfig: clusterKubeconfig, process: null, target: { server: cluster.url, token: cluster.token, ca: cluster.caCertPem } };

    // The relay presents a certificate of its own CA, as kubewire does.
    const relayTls = await createDemoTls();
    const relayFiles = { cert: path.join(tmp, 'relay.crt'), key: path.join(tmp, 'relay.key'), ca: path.join(tmp, 'cluster-ca.crt') };
    await writeFile(relayFiles.cert, relayTls.certPem);
    await writeFile(relayFiles.key, relayTls.keyPem, { mode: 0o600 });
    await writeFile(relayFiles.ca, cluster.caCertPem);
    const relayProcess = start(process.execPath, [relayScript, '--upstream', `${cluster.host}:${cluster.port}`, '--cert', relayFiles.cert, '--key', relayFiles.key, '--ca', relayFiles.ca], { PATH: process.env.PATH ?? '' });
    const [, relayAddr] = await waitFor(relayProcess, /listening on (127\.0\.0\.1:\d+)/, '"listening on" line');
    const relayKubeconfig = path.join(tmp, 'relay.kubeconfig');
    await writeKubeconfig(relayKubeconfig, { server: `https://${relayAddr}`, caCertPem: relayTls.caCertPem, token: cluster.token, namespace: 'default' });
    const relay = { name: 'bare TLS relay', kubeconfig: relayKubeconfig, process: relayProcess, target: { server: `https://${relayAddr}`, token: cluster.token, ca: relayTls.caCertPem } };

    const kubewire = {};
    const profStamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '');
    // The last two translate (--translate): their throughput is judged against untranslated head.
    const TRANSLATED = { 'head-ws-to-spdy': ['--payload', 'head', '--translate', 'ws-to-spdy'], 'head-spdy-to-ws': ['--payload', 'head', '--translate', 'spdy-to-ws'] };
    for (const mode of ['none', 'head', 'full', 'audit', ...Object.keys(TRANSLATED)]) {
      const log = path.join(tmp, `kubewire-${mode}.jsonl`);
      const kubeconfig = path.join(tmp, `kubewire-${mode}.kubeconfig`);
      const nodeArgs = cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`, `--cpu-prof-name=kubewire-${mode}-${profStamp}.cpuprofile`] : [];
      const env = { ...process.env, HOME: home };
      delete env.KUBECONFIG;
      const modeArgs = TRANSLATED[mode] ?? (mode === 'audit' ? ['--audit'] : ['--payload', mode]);
      const child = start(process.execPath, [...nodeArgs, kubewireBin, 'proxy', '--no-tui', '--listen', '127.0.0.1:0', ...modeArgs, '--log', log, '--kubeconfig', clusterKubeconfig, '--write-kubeconfig', kubeconfig], env);
      await waitFor(child, /export KUBECONFIG=/, 'kubeconfig line');
      const text = readFileSync(kubeconfig, 'utf8');
      const field = (name) => new RegExp(`^\\s*${name}: "([^"]*)"`, 'm').exec(text)?.[1];
      kubewire[mode] = {
        name: TRANSLATED[mode] ? `kubewire head, --translate ${mode.slice('head-'.length)}` : `kubewire ${mode}`,
        kubeconfig,
        log,
        audit: mode === 'audit',
        logSize: 0,
        process: child,
        target: { server: field('server'), token: field('token'), ca: Buffer.from(field('certificate-authority-data'), 'base64').toString() },
      };
    }
    const kw = [kubewire.none, kubewire.head, kubewire.full, kubewire.audit];

    const kproxyProcess = start(kubectl, ['proxy', '--disable-filter=true', '--port=0', '--address=127.0.0.1'], kubectlEnv(clusterKubeconfig));
    const [, kproxyAddr] = await waitFor(kproxyProcess, /Starting to serve on (127\.0\.0\.1:\d+)/, '"Starting to serve on" line');
    const kproxyKubeconfig = path.join(tmp, 'kubectl-proxy.kubeconfig');
    const kproxyServer = `http://${kproxyAddr}`;
    await writeFile(
      kproxyKubeconfig,
      ['apiVersion: v1', 'kind: Config', 'clusters:', '- name: kubectl-proxy', '  cluster:', `    server: "${kproxyServer}"`, 'users:', '- name: anonymous', '  user: {}',
        'contexts:', '- name: kubectl-proxy', '  context:', '    cluster: kubectl-proxy', '    user: anonymous', '    namespace: default', 'current-context: kubectl-proxy', ''].join('\n'),
      { mode: 0o600 },
    );
    const kproxy = { name: 'kubectl proxy', kubeconfig: kproxyKubeconfig, process: kproxyProcess, target: { server: kproxyServer, token: null, ca: null } };

    // -- 4a. idle memory: every proxy just started, no traffic yet ---------------------------------

    await sleep(idleSeconds * 1000);
    const idleRss = new Map([relay, kproxy, ...kw].map((p) => [p, procStatus(p.process.pid, 'VmRSS')]));

    /** After each transfer: the log's size, then the log is emptied (kubewire appends to it). */
    async function takeLog(p) {
      if (!p.log) return NaN;
      const size = (await stat(p.log)).size;
      if (p.audit) {
        // A chain cannot be emptied under the writer: count what this transfer added, and
        // let its (unlinked) space go only when the proxy stops.
        const added = size - p.logSize;
        p.logSize = size;
        return added;
      }
      await truncate(p.log, 0);
      return size;
    }

    // -- 1, 2. throughput and CPU -------------------------------------------------------------------

    /**
     * Every path warmed up (`warmups` transfers), then `rounds` pairs per measured path: one transfer through the
     * baseline and one through the path, the order alternating from round to round. Per run:
     * MiB/s and the proxy's CPU ms per MiB; per pair: the ratio of the rates, the difference of
     * the CPU.
     */
    async function pairedThroughput(label, baseline, measured, transfer) {
      const check = (p, r, run) => {
        if (r.bytes === totalBytes) return;
        // kubectl can end a WebSocket exec with exit 0 and part of stdout (kubernetes/kubernetes#124571):
        // what kubewire's log says it relayed down on that connection tells the two apart.
        const relayed = p.log ? relayedDown(p.log) : null;
        throw new Error(`${label} via ${p.name}, ${run}: ${r.bytes} bytes, expected ${totalBytes}${r.detail ? `: ${r.detail}` : ''}${relayed === null ? '' : `; kubewire's log: ${relayed} bytes relayed down on the stream's connection`}`);
      };
      for (const p of [baseline, ...measured]) {
        for (let w = 0; w < warmups; w++) {
          check(p, await transfer(p), `warm-up ${w + 1}`);
          await takeLog(p);
        }
      }
      const runs = new Map([baseline, ...measured].map((p) => [p, []]));
      const pairs = new Map(measured.map((p) => [p, []]));
      const timed = async (p, run) => {
        const cpu0 = cpuSeconds(p.process?.pid);
        const r = await transfer(p);
        const cpu = cpuSeconds(p.process?.pid) - cpu0;
        check(p, r, run);
        const one = { mibps: totalMiB / (r.ms / 1000), cpuMsPerMiB: (cpu * 1000) / totalMiB, logBytes: await takeLog(p) };
        runs.get(p).push(one);
        return one;
      };
      for (let round = 0; round < rounds; round++) {
        for (const p of measured) {
          progress(`${label}: round ${round + 1}/${rounds}, ${baseline.name} and ${p.name}`);
          const run = `round ${round + 1}`;
          let b, m;
          if (round % 2 === 0) {
            b = await timed(baseline, run);
            m = await timed(p, run);
          } else {
            m = await timed(p, run);
            b = await timed(baseline, run);
          }
          pairs.get(p).push({ ratio: m.mibps / b.mibps, cpuDiff: m.cpuMsPerMiB - b.cpuMsPerMiB });
        }
      }
      const stats = (p) => {
        const r = runs.get(p);
        const pr = pairs.get(p) ?? [];
        return {
          mibps: median(r.map((x) => x.mibps)),
          cpuMsPerMiB: median(r.map((x) => x.cpuMsPerMiB)),
          logMiB: median(r.map((x) => x.logBytes)) / MiB,
          ratio: median(pr.map((x) => x.ratio)),
          // The spread of the pairs, printed beside the median: on a shared machine it says how far one run's figure carries.
          ratioRange: pr.length ? [Math.min(...pr.map((x) => x.ratio)), Math.max(...pr.map((x) => x.ratio))] : null,
          cpuDiff: median(pr.map((x) => x.cpuDiff)),
        };
      };
      return new Map([baseline, ...measured].map((p) => [p, stats(p)]));
    }

    /** The s2c byte count of the last conn.close in kubewire's log that carried a stream (over 1 MiB down), or null. */
    function relayedDown(log) {
      let found = null;
      try {
        for (const line of readFileSync(log, 'utf8').split('\n')) {
          if (!line.includes('"type":"conn.close"')) continue;
          const down = JSON.parse(line).bytes?.s2c;
          if (down > MiB) found = down;
        }
      } catch {}
      return found;
    }

    const kubectlCat = (env) => async (p) => {
      const r = await runKubectl(['exec', 'web', '-c', 'app', '--', 'cat', '/data/big.bin'], p.kubeconfig, env);
      if (r.code !== 0) r.detail = `kubectl exit ${r.code ?? r.signal}: ${r.stderr.trim()}`;
      return r;
    };
    const wsCat = async (p) => {
      const r = await streamer.call('stream', { target: p.target, query: catQuery('big.bin'), timeoutMs });
      if (!r.ok) r.bytes = -1; // a failed stream is a failed run, whatever it counted
      return r;
    };

    const wsStats = await pairedThroughput('ws client', relay, [direct, kproxy, ...kw], wsCat);
    const kubectlStats = await pairedThroughput('kubectl (websocket)', relay, [direct, kproxy, ...kw], kubectlCat({}));
    const spdyStats = await pairedThroughput('kubectl (spdy)', relay, [direct, kubewire.head], kubectlCat({ KUBECTL_REMOTE_COMMAND_WEBSOCKETS: 'false' }));
    // Translated against untranslated, in the same mode: the fast client's WebSocket carried
    // upstream as SPDY, and kubectl's SPDY carried upstream as WebSocket.
    const wsTranslated = await pairedThroughput('ws client, translated', kubewire.head, [kubewire['head-ws-to-spdy']], wsCat);
    const spdyTranslated = await pairedThroughput('kubectl (spdy), translated', kubewire.head, [kubewire['head-spdy-to-ws']], kubectlCat({ KUBECTL_REMOTE_COMMAND_WEBSOCKETS: 'false' }));

    // -- 3. keystroke round trips -------------------------------------------------------------------

    /** Interleaved blocks (direct, path), the order alternating; all samples of a path pooled. */
    const rttAlone = new Map([direct, relay, kproxy, ...kw].map((p) => [p, []]));
    const echoOnce = async (p) => {
      const r = await typist.call('echo', { target: p.target, count: rttBlock, warmup: rttWarmup, timeoutMs: timeoutMs + rttBlock * 10 });
      rttAlone.get(p).push(...r.rtt);
      await takeLog(p);
    };
    for (let round = 0; round < rounds; round++) {
      for (const p of [relay, kproxy, ...kw]) {
        progress(`keystrokes: round ${round + 1}/${rounds}, direct and ${p.name}`);
        for (const q of round % 2 === 0 ? [direct, p] : [p, direct]) await echoOnce(q);
      }
    }

    /** One run: an echo session warmed up, then the load stream, keystrokes until it ends. */
    const rttLoaded = new Map([relay, ...kw].map((p) => [p, []]));
    const loadedOnce = async (p) => {
      Atomics.store(shared, LOAD_STATE, 0);
      await typist.call('echoStart', { target: p.target, warmup: rttWarmup, maxCount: 1_000_000, timeoutMs: timeoutFor(loadMiB) });
      const s = await streamer.call('stream', { target: p.target, query: catQuery('load.bin'), timeoutMs: timeoutFor(loadMiB), signal: true });
      const e = await typist.call('echoResult', {});
      if (!s.ok || s.bytes !== loadMiB * MiB) throw new Error(`load stream via ${p.name}: ${s.bytes} bytes: ${s.detail}`);
      rttLoaded.get(p).push(...e.rtt);
      await takeLog(p);
    };
    for (let round = 0; round < rounds; round++) {
      for (const p of kw) {
        progress(`keystrokes under a ${loadMiB} MiB stream: round ${round + 1}/${rounds}, ${relay.name} and ${p.name}`);
        for (const q of round % 2 === 0 ? [relay, p] : [p, relay]) await loadedOnce(q);
      }
    }

    // -- 4b, 5. many sessions -----------------------------------------------------------------------

    /** Counts `"type":"proxy.error"` lines of the log from `offset` on, with their statuses. */
    async function proxyErrors(p, offset) {
      if (!p.log) return null;
      const found = { total: 0, status502: 0, codes: new Map() };
      let rest = '';
      const scan = (text) => {
        for (const line of text.split('\n')) {
          if (!line.includes('"type":"proxy.error"')) continue;
          found.total++;
          if (/"status":502\b/.test(line)) found.status502++;
          const code = /"code":"([^"]*)"/.exec(line)?.[1] ?? '?';
          found.codes.set(code, (found.codes.get(code) ?? 0) + 1);
        }
      };
      for await (const chunk of createReadStream(p.log, { start: offset, encoding: 'utf8', highWaterMark: 4 * MiB })) {
        const text = rest + chunk;
        const cut = text.lastIndexOf('\n');
        scan(text.slice(0, cut + 1));
        rest = text.slice(cut + 1);
      }
      scan(rest);
      return found;
    }

    // Each session streams the file over and over, until it is closed (the demo server then
    // kills the command's process group), at most SESSION_REPEATS times.
    const sessionScript = `i=0; while [ $i -lt ${SESSION_REPEATS} ]; do cat data/session.bin || exit 1; i=$((i+1)); done`;
    const sessionQuery = `/api/v1/namespaces/default/pods/web/exec?command=sh&command=-c&command=${encodeURIComponent(sessionScript)}&container=app&stdout=true`;
    const many = new Map();
    for (const p of [relay, kubewire.head, kubewire.audit]) {
      progress(`${sessions} sessions streaming through ${p.name}, ${newSessions} new ones opened meanwhile`);
      await takeLog(p);
      const logOffset = p.audit ? p.logSize : 0;
      const reset = resetPeak(p.process.pid);
      let sampled = procStatus(p.process.pid, 'VmRSS');
      const sampler = setInterval(() => (sampled = Math.max(sampled, procStatus(p.process.pid, 'VmRSS'))), 100);
      Atomics.store(shared, STREAMING, 0);
      Atomics.store(shared, SETTLED, 0);
      const cpu0 = cpuSeconds(p.process.pid);
      const t0 = performance.now();
      // A bound on the whole phase: the sessions start, the new ones open, the hold, the close.
      const deadline = 120_000 + newSessions * 1000 + holdSeconds * 1000;
      const streaming = streamer.call('concurrent', { target: p.target, query: sessionQuery, count: sessions, kibps: sessionKiBps, parallel: openParallel, timeoutMs: deadline });
      const { results: opened, allStreamingAt } = await typist.call('openUnderLoad', { target: p.target, count: newSessions, waitFor: sessions, parallel: openParallel, timeoutMs: 60_000 });
      if (allStreamingAt !== null) await sleep(allStreamingAt + holdSeconds * 1000 - Date.now());
      await streamer.call('stopConcurrent', {});
      const streams = await streaming;
      const wallS = (performance.now() - t0) / 1000;
      const cpuShare = (cpuSeconds(p.process.pid) - cpu0) / wallS;
      clearInterval(sampler);
      const peak = Math.max(sampled, reset ? procStatus(p.process.pid, 'VmHWM') : 0);
      const errors = await proxyErrors(p, logOffset);
      await takeLog(p);
      many.set(p, { streams, opened, peak, errors, allStreaming: allStreamingAt !== null, wallS, cpuShare });
    }

    // -- stop ---------------------------------------------------------------------------------------

    const dropped = new Map();
    for (const p of kw) {
      await stopProcess(p.process);
      if (p.audit) continue; // lossless by construction; the log is GiBs by now
      const text = readFileSync(p.log, 'utf8');
      const stop = text.trim().split('\n').map((l) => { try { return JSON.parse(l); } catch { return null; } }).find((e) => e?.type === 'proxy.stop');
      dropped.set(p, stop?.dropped ?? NaN);
    }
    await stopProcess(relayProcess);
    await stopProcess(kproxyProcess);
    const seconds = (performance.now() - started) / 1000;

    // -- the rows -----------------------------------------------------------------------------------

    const rows = [];
    const row = (measure, path, figure, versus = '', goal = '', ok = null) => rows.push({ measure, path, figure, versus, goal, ok });
    const x = (n) => `${fmt(n, 2)}×`;
    const THROUGHPUT_GOAL = { 'kubewire none': 0.9, 'kubewire head': 0.9, 'kubewire full': 0.7, 'kubewire audit': 0.5 };
    const throughputRows = (measure, stats, goals) => {
      const d = stats.get(direct);
      for (const [p, s] of stats) {
        // × direct through the pairs too: (path / relay) / (direct / relay).
        const spread = s.ratioRange ? ` (pairs ${fmt(s.ratioRange[0], 2)}–${fmt(s.ratioRange[1], 2)})` : '';
        const versus = p === relay ? `${x(1 / d.ratio)} direct` : p === direct ? `${x(s.ratio)} relay${spread}` : `${x(s.ratio)} relay${spread}, ${x(s.ratio / d.ratio)} direct`;
        const goal = goals ? THROUGHPUT_GOAL[p.name] : undefined;
        row(measure, p.name, `${fmt(s.mibps)} MiB/s`, versus, goal ? `≥ ${goal}× relay` : '', goal ? s.ratio >= goal : null);
      }
    };
    const order = (stats) => new Map([...[direct, relay, kproxy, ...kw].filter((p) => stats.has(p)).map((p) => [p, stats.get(p)])]);
    throughputRows('throughput, ws client', order(wsStats), true);
    throughputRows('throughput, kubectl (websocket)', order(kubectlStats), false);
    throughputRows('throughput, kubectl (spdy)', order(spdyStats), false);
    const TRANSLATED_GOAL = 0.7;
    for (const [measure, stats, p] of [['throughput, translated, ws client', wsTranslated, kubewire['head-ws-to-spdy']], ['throughput, translated, kubectl (spdy)', spdyTranslated, kubewire['head-spdy-to-ws']]]) {
      row(measure, kubewire.head.name, `${fmt(stats.get(kubewire.head).mibps)} MiB/s`, 'untranslated');
      const s = stats.get(p);
      row(measure, p.name, `${fmt(s.mibps)} MiB/s`, `${x(s.ratio)} untranslated (pairs ${fmt(s.ratioRange[0], 2)}–${fmt(s.ratioRange[1], 2)})`, `≥ ${TRANSLATED_GOAL}× untranslated`, s.ratio >= TRANSLATED_GOAL);
    }

    const CPU_GOAL = { 'kubewire full': 7, 'kubewire audit': 10 };
    for (const p of [relay, kproxy, ...kw]) {
      const s = wsStats.get(p);
      const goal = CPU_GOAL[p.name];
      row('proxy CPU, all threads, ws client', p.name, `${fmt(s.cpuMsPerMiB, 2)} ms/MiB`, p === relay ? '' : `${s.cpuDiff >= 0 ? '+' : ''}${fmt(s.cpuDiff, 2)} over relay`, goal ? `≤ +${goal} over relay` : '', goal ? s.cpuDiff <= goal : null);
    }

    const pct = (samples) => {
      const sorted = Float64Array.from(samples).sort();
      return { p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99), n: sorted.length };
    };
    const rttFigure = (q) => `p50 ${fmt(q.p50)} µs, p99 ${fmt(q.p99)} µs`;
    const directRtt = pct(rttAlone.get(direct));
    row('keystroke round trip', direct.name, rttFigure(directRtt), `${directRtt.n} samples`);
    for (const p of [relay, kproxy, ...kw]) {
      const q = pct(rttAlone.get(p));
      const d = q.p50 - directRtt.p50;
      const judged = kw.includes(p);
      row('keystroke round trip', p.name, rttFigure(q), `+${fmt(d)} µs p50 over direct`, judged ? '≤ +200 µs p50 over direct' : '', judged ? d <= 200 : null);
    }
    const relayLoaded = pct(rttLoaded.get(relay));
    const loadedMeasure = `keystroke round trip, ${loadMiB} MiB stream beside it`;
    row(loadedMeasure, relay.name, rttFigure(relayLoaded), `${relayLoaded.n} samples`);
    for (const p of kw) {
      const q = pct(rttLoaded.get(p));
      const d = q.p50 - relayLoaded.p50;
      row(loadedMeasure, p.name, rttFigure(q), `${d >= 0 ? '+' : ''}${fmt(d)} µs p50 over relay (${q.n} samples)`, '≤ +200 µs p50 over relay', d <= 200);
    }

    const mib = (b) => `${fmt(b / MiB, 1)} MiB`;
    for (const p of [relay, kproxy, ...kw]) {
      const judged = kw.includes(p);
      row(`RSS idle, ${idleSeconds} s after start`, p.name, mib(idleRss.get(p)), '', judged ? '≤ 80 MiB' : '', judged ? idleRss.get(p) <= 80 * MiB : null);
    }
    const RSS_GOAL = { 'kubewire head': 150, 'kubewire audit': 200 };
    for (const [p, m] of many) {
      const goal = RSS_GOAL[p.name];
      const failed = m.streams.filter((s) => !s.ok).length;
      const total = m.streams.reduce((n, s) => n + s.bytes, 0) / MiB;
      const versus = `${fmt(total)} MiB in ${fmt(m.wallS)} s, proxy CPU ${fmt(m.cpuShare * 100)}%` + (failed ? `; ${failed} of ${sessions} failed (below)` : '');
      row(`RSS peak, ${sessions} sessions streaming`, p.name, mib(m.peak), versus, goal ? `≤ ${goal} MiB` : '', goal ? m.peak <= goal * MiB : null);
    }
    for (const [p, m] of many) {
      const statuses = new Map();
      for (const o of m.opened) {
        const key = o.status ?? 'no answer';
        statuses.set(key, (statuses.get(key) ?? 0) + 1);
      }
      const got502 = statuses.get(502) ?? 0;
      const answers = [...statuses].map(([k, n]) => `${n}× ${k}`).join(', ');
      const underLoad = m.opened.filter((o) => o.underLoad).length;
      const answerMs = median(m.opened.map((o) => o.answerMs));
      const logged = m.errors ? `; log: ${m.errors.total} proxy.error${m.errors.total ? ` (${[...m.errors.codes].map(([c, n]) => `${n}× ${c}`).join(', ')})` : ''}` : '';
      // The sessions that were to stream were opened under a growing load: their refusals count too.
      const failedStreams = m.streams.filter((s) => !s.ok);
      const burst502 = failedStreams.filter((s) => s.httpStatus === 502).length;
      const burst = failedStreams.length ? `; of the ${sessions} streaming ones: ${burst502}× 502, ${failedStreams.length} failed (${failedStreams.find((s) => s.httpStatus !== 502)?.detail ?? '502'})` : '';
      const versus = `${answers}, ${underLoad} while all ${sessions} streamed, p50 ${fmt(answerMs)} ms${burst}${logged}`;
      const judged = p !== relay;
      row(`sessions opened under load`, p.name, `${got502} of ${newSessions} answered 502`, versus, judged ? `0 of ${newSessions}, and of the ${sessions}` : '', judged ? got502 === 0 && burst502 === 0 && (m.errors?.status502 ?? 0) === 0 : null);
    }

    finish({
      header: [
        `kubewire proxy benchmark: node ${process.version}, ${process.platform}/${process.arch}, ${os.cpus().length} CPUs, kubectl ${kubectlVersion}; load average ${loadAtStart} at start, ${loadAverage()} at the end`,
        `${totalMiB} MiB per transfer (KUBEWIRE_BENCH_MB), ${warmups} warm-ups (KUBEWIRE_BENCH_WARMUP) + median of ${rounds} interleaved pairs (KUBEWIRE_BENCH_ROUNDS); ${rttBlock * rounds} keystrokes per path alone (KUBEWIRE_BENCH_RTT); ` +
          `${loadMiB} MiB load stream (KUBEWIRE_BENCH_LOAD_MB); ${sessions} sessions streaming (KUBEWIRE_BENCH_SESSIONS) at ${sessionKiBps} KiB/s each (KUBEWIRE_BENCH_SESSION_KIBPS) for ${holdSeconds} s (KUBEWIRE_BENCH_HOLD_S), ${newSessions} opened under load (KUBEWIRE_BENCH_NEW_SESSIONS), ${openParallel} at a time (KUBEWIRE_BENCH_OPEN_PARALLEL)`,
      ],
      rows,
      notes: [
        'throughput: median MiB/s from the first stdout byte to the end; × relay: median over the (relay, path) pairs of path / relay; (pairs a–b): the lowest and highest of those pairs; × direct: that over the same for direct.',
        'bare TLS relay: bench/tls-relay.js, TLS on both legs; kubectl proxy serves plain http to its client, so it has one TLS leg.',
        'proxy CPU: utime + stime of the proxy process (/proc/PID/stat, all threads) per MiB in the ws-client runs; over relay: median over the pairs of the difference.',
        'keystroke round trip: 1 byte on stdin, its echo on stdout, samples of all blocks of a path pooled; with a stream beside it: only round trips made while the stream flowed.',
        `JSONL per ${totalMiB} MiB ws transfer: ${kw.map((p) => `${p.name.replace('kubewire ', '')} ${fmt(wsStats.get(p).logMiB, 1)} MiB`).join(', ')}; events dropped by the lossy log: ${[...dropped].map(([p, n]) => `${p.name.replace('kubewire ', '')} ${fmt(n)}`).join(', ')}.`,
        `Proxy run ${seconds.toFixed(0)} s${cpuProfDir ? `; CPU profiles of the kubewire processes in ${cpuProfDir}` : ''}.`,
      ],
    });
  } catch (e) {
    // Interrupted: what failed was the processes being stopped under it; the handler exits.
    if (!interrupted) throw e;
    await new Promise(() => {});
  } finally {
    await cleanup();
  }
}

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

function usage(message) {
  console.error(message);
  process.exit(2);
}
