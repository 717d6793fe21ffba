/**
 * Codec benchmark: what decoding bulk exec traffic costs next to copying the same bytes.
 *
 * Three streams are built in memory with the project's own encoders:
 *   1. WebSocket binary frames, server to client (unmasked), 1 channel byte + 32 KiB each;
 *   2. the same frames masked, client to server (the decoder unmasks every byte);
 *   3. SPDY/3 DATA frames of 32 KiB, server to client, on an exec stdout stream.
 * An 8 MiB block of whole frames is encoded once and replayed until KUBEWIRE_BENCH_CODEC_MB MiB
 * (default 64) per stream, always cut into 64 KiB chunks the way socket reads arrive. Each
 * stream goes through:
 *   - Buffer.copy of every chunk into a preallocated 64 KiB buffer: the memcpy baseline;
 *   - the bare frame decoder (WebSocketFrameDecoder / SpdyFrameDecoder) with no-op handlers;
 *   - the whole ConnectionDecoder stack (HTTP upgrade, framing, channels, events) with a no-op
 *     listener, with payload 'none', 'head' and (WebSocket) 'full', and without the summary's
 *     stream digests, as a live proxy without --audit runs it (a SHA-256 of every byte).
 *
 * Cost is CPU time (process.cpuUsage: user + system of the whole process, so garbage collection
 * on helper threads is charged to the code that made the garbage), not wall time: on a shared
 * machine another process taking the core stretches wall time but not CPU time. Every case is
 * warmed up and sized to run at least MIN_RUN_MS of CPU, then measured in KUBEWIRE_BENCH_ROUNDS
 * (default 5) interleaved pairs of a Buffer.copy run and the case's run (which goes first
 * alternates), each after one untimed pass. The figure is the median over the pairs of (case
 * MiB per CPU second) / (copy MiB per CPU second in the same pair): "0.5× memcpy" means
 * decoding costs twice what copying costs. That is an observer that has been decoding a while:
 * V8 optimises the decoder's hot paths over its first few hundred MiB (one 8 MiB pass cost 6.7
 * ms of CPU in a fresh process, 1 ms after 80 MiB, 0.15 after 800). So each stream's head mode is
 * also timed cold, in a process of its own that decodes KUBEWIRE_BENCH_CODEC_MB once: what a
 * freshly started proxy's first transfer costs; it has no goal.
 *
 * No GC is forced between runs: a forced full GC that finds no live object of a shape frees the
 * shape, and V8 drops the optimised code that depended on it ("weak objects" deopts), so every
 * run after one measured a warm-up again (head 0.43× memcpy unmasked with a forced GC before
 * each run, 2.04× without, in the same build), not what a running observer pays.
 *
 * Goals (from the speed targets): ConnectionDecoder (payload 'head', the default) at least 0.5×
 * memcpy on unmasked frames and 0.2× on masked ones. The proxy benchmark covers everything else; bench/run.js prints both
 * in one table. Absolute MiB/s depend on the machine; the ratios are what carries. Tests never
 * check timings.
 *
 * Run: npm run bench:codec (builds src/ to dist/ first); `--json FILE` writes the rows for
 * bench/run.js instead of printing them. All sizes and rates are binary: MiB = 2^20 bytes.
 */
import { spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { envInt, finish, fmt, KiB, loadAverage, median, MiB, progress } from './report.js';

const dist = new URL('../dist/src/codec/', import.meta.url);
let codec;
try {
  codec = {
    ...(await import(new URL('websocket-frame.js', dist).href)),
    ...(await import(new URL('websocket-encode.js', dist).href)),
    ...(await import(new URL('spdy-frame.js', dist).href)),
    ...(await import(new URL('spdy-encode.js', dist).href)),
    ...(await import(new URL('connection-decoder.js', dist).href)),
  };
} catch (err) {
  console.error(`cannot load the compiled codec from ${dist.pathname}: run \`npm run build\` first\n${err}`);
  process.exit(1);
}
const { WebSocketFrameDecoder, encodeWsFrame, SpdyFrameDecoder, SpdyHeaderBlockDeflater, encodeSynStream, encodeDataFrame, ConnectionDecoder } = codec;

const FRAME_PAYLOAD = 32 * KiB;
const CHUNK = 64 * KiB;
const BLOCK_TARGET = 8 * MiB;

const loadAtStart = loadAverage();
const totalMiB = envInt('KUBEWIRE_BENCH_CODEC_MB', 64);
const ROUNDS = envInt('KUBEWIRE_BENCH_ROUNDS', 5);
const totalBytes = totalMiB * MiB;

// -- the streams --------------------------------------------------------------------------------

function payload(length, seed) {
  const out = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) out[i] = (i * 31 + seed * 7) & 0xff;
  return out;
}

/** Whole frames, about BLOCK_TARGET bytes, from encodeFrame(index). */
function buildBlock(encodeFrame) {
  const frames = [];
  let length = 0;
  for (let i = 0; length < BLOCK_TARGET; i++) {
    const frame = encodeFrame(i);
    frames.push(frame);
    length += frame.length;
  }
  return { block: Buffer.concat(frames), frames: frames.length };
}

/**
 * The block replayed until at least `total` bytes, as 64 KiB views. The block is followed by a
 * copy of its first 64 KiB, so a chunk that crosses the replay seam is still one view and every
 * chunk but the last is exactly CHUNK bytes. The stream ends on a frame boundary.
 */
function chunked(block, total) {
  const replays = Math.max(1, Math.ceil(total / block.length));
  const length = replays * block.length;
  const ring = Buffer.concat([block, block.subarray(0, CHUNK)]);
  const chunks = [];
  for (let pos = 0; pos < length; pos += CHUNK) {
    const start = pos % block.length;
    chunks.push(ring.subarray(start, start + Math.min(CHUNK, length - pos)));
  }
  return { chunks, length };
}

const WS_REQUEST =
  'GET /api/v1/namespaces/default/pods/bench/exec?command=cat&stdin=true&stdout=true HTTP/1.1\r\n' +
  'Host: 127.0.0.1:6443\r\n' +
  'User-Agent: kubectl/v1.33.0 (linux/amd64) kubernetes/bench\r\n' +
  'Connection: Upgrade\r\n' +
  'Upgrade: websocket\r\n' +
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n' +
  'Sec-WebSocket-Version: 13\r\n' +
  'Sec-WebSocket-Protocol: v5.channel.k8s.io, v4.channel.k8s.io, v3.channel.k8s.io, v2.channel.k8s.io, channel.k8s.io\r\n' +
  '\r\n';
const WS_RESPONSE =
  'HTTP/1.1 101 Switching Protocols\r\n' +
  'Upgrade: websocket\r\n' +
  'Connection: Upgrade\r\n' +
  'Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n' +
  'Sec-WebSocket-Protocol: v5.channel.k8s.io\r\n' +
  '\r\n';
const SPDY_REQUEST =
  'POST /api/v1/namespaces/default/pods/bench/exec?command=cat&stdout=true HTTP/1.1\r\n' +
  'Host: 127.0.0.1:6443\r\n' +
  'User-Agent: kubectl/v1.33.0 (linux/amd64) kubernetes/bench\r\n' +
  'Connection: Upgrade\r\n' +
  'Upgrade: SPDY/3.1\r\n' +
  'X-Stream-Protocol-Version: v4.channel.k8s.io\r\n' +
  '\r\n';
const SPDY_RESPONSE =
  'HTTP/1.1 101 Switching Protocols\r\n' +
  'Connection: Upgrade\r\n' +
  'Upgrade: SPDY/3.1\r\n' +
  'X-Stream-Protocol-Version: v4.channel.k8s.io\r\n' +
  '\r\n';
const SPDY_STDOUT_STREAM = 1;

/** Channel byte + 32 KiB, as k8s channel protocols frame stdin (0) and stdout (1). */
function wsFramePayload(channel, i) {
  const p = payload(1 + FRAME_PAYLOAD, i);
  p[0] = channel;
  return p;
}

function maskKey(i) {
  return Uint8Array.of(0x37 ^ i, 0xfa, 0x21 ^ (i >> 8), 0x3d);
}

/**
 * dir: the direction the frames travel; channel: the k8s channel their payload is reported on;
 * channelBytes: the per-frame channel prefix (WebSocket) that is not stream data.
 */
const streams = [
  {
    name: 'WS s2c, unmasked',
    dir: 's2c',
    channel: 1,
    ...buildBlock((i) => encodeWsFrame({ opcode: 2, payload: wsFramePayload(1, i) })),
    channelBytes: 1,
    rawDecoder: (h) => new WebSocketFrameDecoder(wsNoop(h), { expectMasked: false }),
    rawName: 'WebSocketFrameDecoder',
    // The handshake, pushed before the timed frames.
    preamble: (conn) => {
      conn.push('c2s', Buffer.from(WS_REQUEST, 'latin1'));
      conn.push('s2c', Buffer.from(WS_RESPONSE, 'latin1'));
    },
  },
  {
    name: 'WS c2s, masked',
    dir: 'c2s',
    channel: 0,
    ...buildBlock((i) => encodeWsFrame({ opcode: 2, payload: wsFramePayload(0, i), mask: maskKey(i) })),
    channelBytes: 1,
    rawDecoder: (h) => new WebSocketFrameDecoder(wsNoop(h), { expectMasked: true }),
    rawName: 'WebSocketFrameDecoder',
    preamble: (conn) => {
      conn.push('c2s', Buffer.from(WS_REQUEST, 'latin1'));
      conn.push('s2c', Buffer.from(WS_RESPONSE, 'latin1'));
    },
  },
  {
    name: 'SPDY s2c DATA',
    dir: 's2c',
    channel: 1,
    ...buildBlock((i) => encodeDataFrame(SPDY_STDOUT_STREAM, payload(FRAME_PAYLOAD, i))),
    channelBytes: 0, // the stream id says stdout
    rawDecoder: (h) => new SpdyFrameDecoder(spdyNoop(h)),
    rawName: 'SpdyFrameDecoder',
    // Upgrade, then the client opens the stdout stream the DATA frames belong to.
    preamble: (conn) => {
      conn.push('c2s', Buffer.from(SPDY_REQUEST, 'latin1'));
      conn.push('s2c', Buffer.from(SPDY_RESPONSE, 'latin1'));
      const headerBlock = new SpdyHeaderBlockDeflater().deflate([['streamtype', 'stdout']]);
      conn.push('c2s', encodeSynStream({ streamId: SPDY_STDOUT_STREAM, headerBlock }));
    },
  },
];

// Handlers do nothing, unless a verification pass passes counters in `h`.
function wsNoop(h) {
  return {
    frame() {},
    payload: h ? (s) => { h.bytes += s.data.length; } : () => {},
    frameEnd() {},
    anomaly: h ? (a) => { h.anomalies.push(a.message); } : () => {},
  };
}

function spdyNoop(h) {
  return {
    control() {},
    dataFrame() {},
    data: h ? (s) => { h.bytes += s.data.length; } : () => {},
    dataEnd() {},
    anomaly: h ? (a) => { h.anomalies.push(a.message); } : () => {},
  };
}

/** As the live proxy runs it: no per-stream SHA-256 (only --audit asks for digests). */
function connection(stream, mode, listener = () => {}) {
  const conn = new ConnectionDecoder(listener, { payload: mode, digests: false });
  stream.preamble(conn);
  return conn;
}

// -- verification: the timed paths really decode every byte --------------------------------------
//
// A decoder that went opaque would look very fast, so before timing anything each stream is
// decoded once (two replays, so the replay seam is crossed) and the payload bytes are counted.

function verify(stream) {
  const { chunks } = chunked(stream.block, 2 * stream.block.length);
  const expectedRaw = 2 * stream.frames * (stream.channelBytes + FRAME_PAYLOAD);
  const expectedData = 2 * stream.frames * FRAME_PAYLOAD;

  const h = { bytes: 0, anomalies: [] };
  const raw = stream.rawDecoder(h);
  for (const c of chunks) raw.push(c);
  raw.end();
  check(stream, stream.rawName, h.bytes, expectedRaw, h.anomalies);

  let data = 0;
  const anomalies = [];
  const conn = connection(stream, 'none', ({ body }) => {
    if (body.type === 'k8s.data' && body.dir === stream.dir && body.channel === stream.channel) data += body.size;
    if (body.type === 'decode.anomaly') anomalies.push(body.message);
  });
  for (const c of chunks) conn.push(stream.dir, c);
  conn.end('c2s');
  conn.end('s2c');
  check(stream, 'ConnectionDecoder', data, expectedData, anomalies);
}

function check(stream, decoder, got, expected, anomalies) {
  if (got === expected && anomalies.length === 0) return;
  console.error(`verification failed: ${stream.name} / ${decoder}: ${got} of ${expected} payload bytes, anomalies: ${anomalies.join('; ') || 'none'}`);
  process.exit(1);
}

// -- timing ---------------------------------------------------------------------------------------

/** Each timed run takes at least this much CPU: one Buffer.copy pass alone is a few ms, mostly noise. */
const MIN_RUN_MS = 150;

/** CPU ms (user + system) of `passes` passes: `setup()` (untimed) returns a push function, then every chunk goes through it. */
function cpuRun(setup, chunks, passes) {
  const warm = setup();
  for (let i = 0; i < chunks.length; i++) warm(chunks[i]);
  let us = 0;
  for (let p = 0; p < passes; p++) {
    const push = setup();
    const start = process.cpuUsage();
    for (let i = 0; i < chunks.length; i++) push(chunks[i]);
    const d = process.cpuUsage(start);
    us += d.user + d.system;
  }
  return us / 1000;
}

/** Passes that make one run last at least MIN_RUN_MS of CPU, from a warm-up pass (which also lets the JIT settle). */
function calibrate(setup, chunks) {
  cpuRun(setup, chunks, 1);
  const ms = cpuRun(setup, chunks, 1);
  return Math.max(1, Math.ceil(MIN_RUN_MS / Math.max(ms, 0.1)));
}

/** ROUNDS interleaved pairs (copy, case), which goes first alternating; per pair the case's rate over the copy's. */
function measurePair(copySetup, caseSetup, chunks, length) {
  const copyPasses = calibrate(copySetup, chunks);
  const casePasses = calibrate(caseSetup, chunks);
  const ratios = [];
  const copyRates = [];
  const caseRates = [];
  for (let r = 0; r < ROUNDS; r++) {
    let copyMs, caseMs;
    if (r % 2 === 0) {
      copyMs = cpuRun(copySetup, chunks, copyPasses);
      caseMs = cpuRun(caseSetup, chunks, casePasses);
    } else {
      caseMs = cpuRun(caseSetup, chunks, casePasses);
      copyMs = cpuRun(copySetup, chunks, copyPasses);
    }
    const copyRate = (copyPasses * length) / MiB / (copyMs / 1000);
    const caseRate = (casePasses * length) / MiB / (caseMs / 1000);
    copyRates.push(copyRate);
    caseRates.push(caseRate);
    ratios.push(caseRate / copyRate);
  }
  return { ratio: median(ratios), copyMibps: median(copyRates), mibps: median(caseRates) };
}

// -- cold: a fresh process's first pass, run by the parent as `--cold STREAM MODE` ---------------

const coldAt = process.argv.indexOf('--cold');
if (coldAt >= 0) {
  // Nothing decoded before in this process: not even the verification pass, which would warm it.
  const stream = streams.find((s) => s.name === process.argv[coldAt + 1]);
  const { chunks, length } = chunked(stream.block, totalBytes);
  const conn = connection(stream, process.argv[coldAt + 2]);
  const start = process.cpuUsage();
  for (let i = 0; i < chunks.length; i++) conn.push(stream.dir, chunks[i]);
  const d = process.cpuUsage(start);
  process.stdout.write(JSON.stringify({ mibps: length / MiB / ((d.user + d.system) / 1e6) }));
  process.exit(0);
}

/** MiB per CPU second of `mode` on `stream` in a fresh process (see --cold above). */
function coldRate(stream, mode) {
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--cold', stream.name, mode], { encoding: 'utf8' });
  if (r.status !== 0) {
    console.error(`the cold run of ${stream.name} / ${mode} failed (${r.signal ?? `exit ${r.status}`}): ${r.stderr.trim()}`);
    process.exit(1);
  }
  return JSON.parse(r.stdout).mibps;
}

// -- run -------------------------------------------------------------------------------------------

const started = performance.now();
for (const stream of streams) verify(stream);

// The goals, judged on ConnectionDecoder with payload 'head', what kubewire runs by default;
// 'none' and 'full' are beside it for what the payload mode adds.
const GOALS = { 'WS s2c, unmasked': 0.5, 'WS c2s, masked': 0.2 };
const GOAL_MODE = 'head';

const rows = [];
for (const stream of streams) {
  const { chunks, length } = chunked(stream.block, totalBytes);
  const dir = stream.dir;
  const scratch = Buffer.allocUnsafe(CHUNK);
  const copy = () => (c) => c.copy(scratch, 0);
  const modes = stream.name.startsWith('WS') ? ['none', 'head', 'full'] : ['none', 'head'];
  const cases = [
    [`${stream.rawName}, no-op handlers`, null, () => { const d = stream.rawDecoder(null); return (c) => d.push(c); }],
    ...modes.map((mode) => [`ConnectionDecoder, payload ${mode}`, mode === GOAL_MODE ? GOALS[stream.name] ?? null : null, () => { const d = connection(stream, mode); return (c) => d.push(dir, c); }]),
  ];
  const copyRates = [];
  const streamRows = [];
  for (const [decoder, goal, setup] of cases) {
    progress(`codec: ${stream.name}, ${decoder}`);
    const r = measurePair(copy, setup, chunks, length);
    copyRates.push(r.copyMibps);
    streamRows.push({
      measure: `codec, ${stream.name} (CPU time)`,
      path: decoder,
      figure: `${fmt(r.mibps)} MiB/s`,
      versus: `${fmt(r.ratio, 3)}× memcpy`,
      goal: goal === null ? '' : `≥ ${goal}× memcpy`,
      ok: goal === null ? null : r.ratio >= goal,
    });
  }
  progress(`codec: ${stream.name}, ConnectionDecoder, payload ${GOAL_MODE}, cold`);
  const cold = coldRate(stream, GOAL_MODE);
  streamRows.push({
    measure: `codec, ${stream.name} (CPU time)`,
    path: `ConnectionDecoder, payload ${GOAL_MODE}, cold`,
    figure: `${fmt(cold)} MiB/s`,
    versus: `${fmt(cold / median(copyRates), 3)}× memcpy`,
    goal: '',
    ok: null,
  });
  rows.push({ measure: `codec, ${stream.name} (CPU time)`, path: 'Buffer.copy (baseline)', figure: `${fmt(median(copyRates))} MiB/s`, versus: '', goal: '', ok: null }, ...streamRows);
}
const seconds = (performance.now() - started) / 1000;

finish({
  header: [
    `kubewire codec benchmark: node ${process.version}, ${process.platform}/${process.arch}; load average ${loadAtStart} at start, ${loadAverage()} at the end`,
    `${totalMiB} MiB per stream (KUBEWIRE_BENCH_CODEC_MB), ${CHUNK / KiB} KiB chunks, ${FRAME_PAYLOAD / KiB} KiB frame payloads; median of ${ROUNDS} interleaved (Buffer.copy, case) pairs of >= ${MIN_RUN_MS} ms CPU each`,
  ],
  rows,
  notes: [
    'codec: MiB per CPU second (process.cpuUsage, user + system), median of the pairs; × memcpy = that rate over Buffer.copy\'s in the same pair, on the same bytes and chunks.',
    `codec, cold: the first ${totalMiB} MiB a new process decodes (nothing decoded before it, so V8 has not optimised the decoder yet), against the median Buffer.copy rate of the pairs; no goal.`,
    `Codec run ${seconds.toFixed(1)} s.`,
  ],
});
