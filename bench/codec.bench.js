/**
 * Codec throughput benchmark: how fast kubewire decodes bulk exec traffic, in one run.
 *
 * Three streams are built in memory with the project's own encoders:
 *   1. WebSocket binary frames, server to client (unmasked), 1 channel byte + 32 KiB each;
 *   2. the same frames masked, client to server;
 *   3. SPDY/3 DATA frames of 32 KiB, server to client, on an exec stdout stream.
 * An 8 MiB block of whole frames is encoded once and replayed until the total is reached
 * (KUBEWIRE_BENCH_MB, in MiB, default 256 per stream), always cut into 64 KiB chunks the way
 * socket reads arrive. Each stream goes through:
 *   - Buffer.copy of every chunk into a preallocated 64 KiB buffer: the baseline;
 *   - the raw frame decoder (WebSocketFrameDecoder / SpdyFrameDecoder) with no-op handlers;
 *   - the whole ConnectionDecoder stack (HTTP upgrade, framing, channels, events) with a no-op
 *     listener, once with payload 'none' and once with payload 'head'.
 * Every case is warmed up once, then the best of 3 runs is reported, then one more untimed pass
 * records the peak RSS and heapUsed above their level before the case.
 *
 * Absolute MiB/s depend on the machine, its load and the Node version; they are not comparable
 * between runs on different hosts. The point is the ratio to Buffer.copy, measured in the same
 * process on the same bytes with the same chunking: it says how many times more than a bare
 * memory copy the decoder costs, which is what stays meaningful from one machine to another.
 * Tests never check timings.
 *
 * Run: npm run bench (builds src/ to dist/ first); KUBEWIRE_BENCH_MB=64 npm run bench for a quick
 * look. All sizes and rates are binary: MiB = 2^20 bytes.
 */
import { performance } from 'node:perf_hooks';

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

const KiB = 1024;
const MiB = 1024 * KiB;
const FRAME_PAYLOAD = 32 * KiB;
const CHUNK = 64 * KiB;
const BLOCK_TARGET = 8 * MiB;
const RUNS = 3;
const MEMORY_SAMPLE_EVERY = 64; // chunks, i.e. every 4 MiB

const totalMiB = Number(process.env.KUBEWIRE_BENCH_MB || 256);
if (!(totalMiB > 0)) {
  console.error(`KUBEWIRE_BENCH_MB must be a positive number of MiB, not ${JSON.stringify(process.env.KUBEWIRE_BENCH_MB)}`);
  process.exit(1);
}
const totalBytes = Math.round(totalMiB * MiB);

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

function connection(stream, mode, listener = () => {}) {
  const conn = new ConnectionDecoder(listener, { payload: mode });
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

const gc = typeof globalThis.gc === 'function' ? globalThis.gc : null;

/** Each timed run lasts at least this long; a 6 ms Buffer.copy pass alone would be mostly noise. */
const MIN_RUN_MS = 200;

/** `passes` times: `setup()` (untimed) returns a push function, then every chunk goes through it. */
function timeRun(setup, chunks, passes) {
  let ms = 0;
  for (let p = 0; p < passes; p++) {
    const push = setup();
    const start = performance.now();
    for (let i = 0; i < chunks.length; i++) push(chunks[i]);
    ms += performance.now() - start;
  }
  return ms / passes;
}

/**
 * Warm-up pass, then the best of RUNS timed runs (each repeats the whole stream enough times to
 * last MIN_RUN_MS), then one untimed pass that samples memory every few MiB: sampling costs
 * ~10 µs a call, which would skew the baseline if it ran inside the timed loops.
 */
function measure(setup, chunks, length) {
  gc?.();
  const warmMs = timeRun(setup, chunks, 1);
  const passes = Math.max(1, Math.ceil(MIN_RUN_MS / warmMs));
  let best = Infinity;
  for (let r = 0; r < RUNS; r++) best = Math.min(best, timeRun(setup, chunks, passes));

  gc?.();
  const before = process.memoryUsage();
  const peak = { rss: before.rss, heapUsed: before.heapUsed };
  const push = setup();
  for (let i = 0; i < chunks.length; i++) {
    push(chunks[i]);
    if (i % MEMORY_SAMPLE_EVERY === 0) sampleMemory(peak);
  }
  sampleMemory(peak);

  return {
    mibps: length / MiB / (best / 1000),
    passes,
    rssDelta: peak.rss - before.rss,
    heapDelta: peak.heapUsed - before.heapUsed,
  };
}

function sampleMemory(peak) {
  const m = process.memoryUsage();
  if (m.rss > peak.rss) peak.rss = m.rss;
  if (m.heapUsed > peak.heapUsed) peak.heapUsed = m.heapUsed;
}

// -- run -------------------------------------------------------------------------------------------

const started = performance.now();
for (const stream of streams) verify(stream);

const rows = [];
for (const stream of streams) {
  const { chunks, length } = chunked(stream.block, totalBytes);
  const dir = stream.dir;
  const scratch = Buffer.allocUnsafe(CHUNK);
  const cases = [
    ['Buffer.copy (baseline)', () => (c) => c.copy(scratch, 0)],
    [`${stream.rawName}, no-op handler`, () => { const d = stream.rawDecoder(null); return (c) => d.push(c); }],
    ["ConnectionDecoder, payload 'none'", () => { const d = connection(stream, 'none'); return (c) => d.push(dir, c); }],
    ["ConnectionDecoder, payload 'head'", () => { const d = connection(stream, 'head'); return (c) => d.push(dir, c); }],
  ];
  let copyMibps = 0;
  for (const [decoder, setup] of cases) {
    const r = measure(setup, chunks, length);
    if (decoder.startsWith('Buffer.copy')) copyMibps = r.mibps;
    rows.push({ stream: stream.name, decoder, ...r, ratio: r.mibps / copyMibps, length });
  }
}
const seconds = (performance.now() - started) / 1000;

// -- report ----------------------------------------------------------------------------------------

const mib = (bytes) => `${(Math.max(0, bytes) / MiB).toFixed(1)} MiB`;
const header = ['stream', 'decoder', 'MiB/s', 'ratio to copy', 'peak RSS Δ', 'peak heapUsed Δ'];
const table = rows.map((r, i) => [
  i > 0 && rows[i - 1].stream === r.stream ? '' : r.stream,
  r.decoder,
  r.mibps.toFixed(0),
  r.ratio.toPrecision(3),
  mib(r.rssDelta),
  mib(r.heapDelta),
]);
const widths = header.map((h, c) => Math.max(h.length, ...table.map((row) => row[c].length)));
const line = (row) => row.map((cell, c) => (c >= 2 ? cell.padStart(widths[c]) : cell.padEnd(widths[c]))).join('  ');

console.log(`kubewire codec benchmark: node ${process.version}, ${process.platform}/${process.arch}`);
console.log(
  `${(rows[0].length / MiB).toFixed(0)} MiB per stream (KUBEWIRE_BENCH_MB=${totalMiB}), ${CHUNK / KiB} KiB chunks, ` +
    `${FRAME_PAYLOAD / KiB} KiB frame payloads, warm-up + best of ${RUNS} runs of >= ${MIN_RUN_MS} ms`,
);
console.log('');
console.log(line(header));
console.log(widths.map((w) => '-'.repeat(w)).join('  '));
let previous = null;
for (const [i, row] of table.entries()) {
  if (previous !== null && rows[i].stream !== previous) console.log('');
  previous = rows[i].stream;
  console.log(line(row));
}
console.log('');
console.log('ratio = decoder MiB/s / Buffer.copy MiB/s for the same stream, measured in this run on the same bytes and chunks.');
console.log('Absolute MiB/s vary with machine and load; compare ratios. Tests never check timings.');
console.log(
  `Memory: highest RSS / heapUsed seen in one extra untimed pass (sampled every ${(MEMORY_SAMPLE_EVERY * CHUNK) / MiB} MiB), minus the value` +
    ` before it${gc ? ' after a forced GC' : ' (run node with --expose-gc for a cleaner start)'}; the input stream is allocated beforehand and not counted.`,
);
console.log(`Total time ${seconds.toFixed(1)} s.`);
