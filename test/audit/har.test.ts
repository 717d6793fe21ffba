/**
 * `kubewire export --format har`: the archive validates against the HAR 1.2 JSON schema
 * (har-schema), a plain API request becomes an entry with its body and timings, and an exec
 * upgrade (real kubectl sessions from test/fixtures/vectors) an entry whose `_webSocketMessages`
 * hold every message in Chrome's format. The archive is streamed: an entry is handed out when
 * its connection closes (so entries come in the order connections finished) and the builder
 * keeps only open connections; stdout is written with backpressure, and a closed stdout ends the
 * export quietly.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import AjvModule from 'ajv';
import draft6 from 'ajv/dist/refs/json-schema-draft-06.json' with { type: 'json' };
import { afterAll, describe, expect, it } from 'vitest';
import { HarBuilder, HarLines, type Har, type HarEntry } from '../../src/audit/har.js';
import { runExport } from '../../src/cli/export-command.js';
import { decodeCaptureSync } from '../../src/codec/capture-decode.js';
import { frameOf } from '../../src/events/frames.js';
import { EventStamper, timestampMicros } from '../../src/events/stamp.js';
import type { EventBody, K8sRequestInfo, KubewireEvent } from '../../src/events/types.js';
import { loadVector, vectorsAvailable } from '../support/vectors.js';
import { Collector } from '../support/collector.js';
import { Lines } from '../support/lines-output.js';

const require = createRequire(import.meta.url);
const harSchemas = require('har-schema') as Record<string, Record<string, unknown>>;

// ajv is CommonJS: under NodeNext the default import is the module object for TypeScript.
const Ajv = AjvModule as unknown as typeof AjvModule.default;
// har-schema is draft-06 and uses two keywords of its own (`optional`, `min`), so not strict.
const ajv = new Ajv({ strict: false, allErrors: true });
ajv.addMetaSchema(draft6);
ajv.addFormat('uri', (s: string) => URL.canParse(s));
ajv.addFormat('date-time', (s: string) => !Number.isNaN(Date.parse(s)));
ajv.addFormat('ipv4', /^(\d{1,3}\.){3}\d{1,3}$/);
ajv.addFormat('ipv6', (s: string) => s.includes(':'));
for (const [name, schema] of Object.entries(harSchemas)) if (name !== 'har') ajv.addSchema(schema);
const validateHar = ajv.compile(harSchemas['har']!);

const root = mkdtempSync(join(tmpdir(), 'kubewire-har-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = (name: string): string => join(root, `${++n}-${name}`);
const START_MS = Date.UTC(2026, 10, 21, 10, 0, 0);

/** Builds a log: events stamped 5 ms apart, the way the proxy stamps them. */
class LogWriter {
  private readonly stamper = new EventStamper();
  private t = START_MS;
  readonly lines: string[] = [];

  add(body: EventBody, ids: { session?: string; conn?: string } = {}): void {
    this.t += 5;
    this.lines.push(JSON.stringify(this.stamper.stamp(body, body.type, { ts: timestampMicros(this.t), ...ids })));
  }

  vector(name: string, ids: { session: string; conn: string }): void {
    const v = loadVector(name);
    decodeCaptureSync([v.c2s], [v.s2c], ({ body }) => this.add(body, ids));
  }

  write(file: string): string {
    writeFileSync(file, this.lines.join('\n') + '\n');
    return file;
  }
}

const k8s = (over: Partial<K8sRequestInfo>): K8sRequestInfo => ({
  operation: 'other', namespace: 'default', pod: 'web', container: null, command: [], stdin: false, stdout: false, stderr: false, tty: false, ports: [], ...over,
});

const proxyStart: EventBody = {
  type: 'proxy.start', listen: 'http://127.0.0.1:40123', upstream: 'https://10.0.0.1:6443 (context kind-kind)', context: 'kind-kind',
  kubeconfig: null, payloadMode: 'full', log: null, version: 'test', pid: 1,
};

/** `kubectl get pod web` through the proxy, as conn r1 of session s1. */
function restRequest(log: LogWriter, ids = { session: 's1', conn: 'r1' }): void {
  const body = '{"kind":"Pod","apiVersion":"v1","metadata":{"name":"web"}}';
  log.add({ type: 'conn.open', kind: 'http', client: '127.0.0.1:5000', upstream: 'https://10.0.0.1:6443' }, ids);
  log.add({
    type: 'http.request', dir: 'c2s', offset: 0, method: 'GET', target: '/api/v1/namespaces/default/pods/web?timeout=32s', path: '/api/v1/namespaces/default/pods/web',
    version: '1.1', headers: [['Host', '127.0.0.1:40123'], ['User-Agent', 'kubectl/v1.33.1'], ['Accept', 'application/json']], upgrade: null, offered: [],
    kubectlSession: 's1', kubectlCommand: 'kubectl get', userAgent: 'kubectl/v1.33.1', k8s: k8s({}),
  }, ids);
  log.add({
    type: 'http.response', dir: 's2c', offset: 0, status: 200, reason: 'OK', version: '1.1', headers: [['Content-Type', 'application/json'], ['Audit-Id', 'a-1']],
    protocol: null, auditId: 'a-1', server: null, contentType: 'application/json',
  }, ids);
  log.add({ type: 'http.body', dir: 's2c', offset: 0, contentType: 'application/json', k8sStatus: null, text: body, size: body.length, payload: Buffer.from(body).toString('base64') }, ids);
  log.add({ type: 'conn.close', closedBy: 'upstream', bytes: { c2s: 0, s2c: body.length }, durationMs: 15, error: null }, ids);
}

async function exportHar(files: string[], session?: string): Promise<Har> {
  const out = new Collector();
  expect(await runExport({ files, format: 'har', ...(session ? { session } : {}) }, out, new Lines())).toBe(0);
  const har = JSON.parse(out.text) as Har;
  const valid = validateHar(har);
  expect(valid, ajv.errorsText(validateHar.errors, { separator: '\n' })).toBe(true);
  return har;
}

const entryOf = (har: Har, conn: string): HarEntry => {
  const e = har.log.entries.find((x) => x.connection === conn);
  expect(e, `no entry for ${conn}`).toBeDefined();
  return e!;
};

describe('HAR export of plain requests', () => {
  it('writes a schema-valid entry with URL, query, headers, body and timings', async () => {
    const log = new LogWriter();
    log.add(proxyStart);
    restRequest(log);
    const har = await exportHar([log.write(fresh('rest.jsonl'))]);
    expect(har.log.version).toBe('1.2');
    expect(har.log.creator.name).toBe('kubewire');
    expect(har.log.entries).toHaveLength(1);
    const e = har.log.entries[0]!;
    expect(e.startedDateTime).toBe('2026-11-21T10:00:00.015000Z');
    expect(e.request.method).toBe('GET');
    expect(e.request.url).toBe('https://10.0.0.1:6443/api/v1/namespaces/default/pods/web?timeout=32s');
    expect(e.request.httpVersion).toBe('HTTP/1.1');
    expect(e.request.queryString).toEqual([{ name: 'timeout', value: '32s' }]);
    expect(e.request.headers).toContainEqual({ name: 'User-Agent', value: 'kubectl/v1.33.1' });
    expect(e.response.status).toBe(200);
    expect(e.response.content).toEqual({ size: 58, mimeType: 'application/json', text: '{"kind":"Pod","apiVersion":"v1","metadata":{"name":"web"}}' });
    expect(e.response.bodySize).toBe(58);
    // Request at +15 ms, response head at +20, last event at +30.
    expect(e.timings).toMatchObject({ send: 0, wait: 5, receive: 10 });
    expect(e.time).toBe(15);
    expect(e._kubewire).toMatchObject({ session: 's1', conn: 'r1', kind: 'http' });
    // The validator does reject what HAR 1.2 forbids.
    const { cache: _cache, ...withoutCache } = e;
    expect(validateHar({ log: { ...har.log, entries: [withoutCache] } })).toBe(false);
    expect(validateHar({ log: { ...har.log, entries: [{ ...e, request: { ...e.request, url: 'not a url' } }] } })).toBe(false);
  });

  it('takes the server from audit.start in an audit log', async () => {
    const log = new LogWriter();
    log.add({
      type: 'audit.start', chain: { algorithm: 'sha256', keyId: null },
      identity: { source: 'kubeconfig', username: null, uid: null, groups: [], extra: {}, kubeconfigUser: 'admin', clientCertificate: null, reviewError: null },
      os: { user: 'u', uid: 1000, host: 'h', platform: 'linux' }, kubewire: { version: 'test', pid: 1 },
      cluster: { server: 'https://api.example.com:443/k8s/clusters/c-1', context: 'prod', via: 'kubeconfig' },
      redactStdin: 'none', failMode: 'closed', maxSize: null,
    });
    log.add(proxyStart);
    restRequest(log);
    const har = await exportHar([log.write(fresh('audit.jsonl'))]);
    expect(har.log.entries[0]!.request.url).toBe('https://api.example.com:443/k8s/clusters/c-1/api/v1/namespaces/default/pods/web?timeout=32s');
  });
});

describe.runIf(vectorsAvailable())('HAR export of upgrades from real kubectl sessions', () => {
  it('gives an exec WebSocket its _webSocketMessages, and the refused attempt and SPDY fallback their own entries', async () => {
    const log = new LogWriter();
    log.add(proxyStart);
    restRequest(log);
    log.vector('kubectl1.30-exec-tty-ws-v5', { session: 's1', conn: 'c1' });
    log.vector('kubectl1.33-exec-fb-403-ws-rejected-403', { session: 's2', conn: 'c2' });
    log.vector('kubectl1.33-exec-fb-403-spdy-c2', { session: 's2', conn: 'c3' });
    const file = log.write(fresh('upgrades.jsonl'));
    const har = await exportHar([file]);
    // In the order the connections finished: r1 at its conn.close; the vectors log no
    // conn.close, so c1–c3 at the end of the log, in the order they started.
    expect(har.log.entries.map((e) => e.connection)).toEqual(['r1', 'c1', 'c2', 'c3']);

    const ws = entryOf(har, 'c1');
    expect(ws.request.url).toBe('https://10.0.0.1:6443/api/v1/namespaces/default/pods/p1/exec?command=sh&container=c1&stdin=true&stdout=true&tty=true');
    expect(ws.request.queryString).toContainEqual({ name: 'tty', value: 'true' });
    expect(ws.response.status).toBe(101);
    expect(ws._resourceType).toBe('websocket');
    expect(ws._kubewire).toMatchObject({ kind: 'upgrade', transport: 'websocket', protocol: 'v5.channel.k8s.io', exitCode: 5 });
    const messages = ws._webSocketMessages!;
    // Every frame of the vector is one message here (none is fragmented).
    const frames = log.lines.map((l) => frameOf(JSON.parse(l) as KubewireEvent)).filter((e) => e?.type === 'ws.frame' && e.conn === 'c1');
    expect(messages).toHaveLength(frames.length);
    const bin = (channel: number, text: string): string => Buffer.concat([Buffer.from([channel]), Buffer.from(text)]).toString('base64');
    expect(messages).toContainEqual({ type: 'send', time: expect.any(Number), opcode: 2, data: bin(4, '{"Width":80,"Height":24}\n') });
    expect(messages).toContainEqual({ type: 'send', time: expect.any(Number), opcode: 2, data: bin(0, 'hello\r') });
    expect(messages).toContainEqual({ type: 'receive', time: expect.any(Number), opcode: 2, data: bin(1, 'fake$ ') });
    // The server's empty message right after the 101: just the stdout channel byte.
    expect(messages.find((m) => m.type === 'receive')!.data).toBe(Buffer.from([1]).toString('base64'));
    // Close frames from both sides, with their payload (code 1000).
    expect(messages.filter((m) => m.opcode === 8)).toEqual([
      { type: 'send', time: expect.any(Number), opcode: 8, data: 'A+g=' },
      { type: 'receive', time: expect.any(Number), opcode: 8, data: 'A+g=' },
    ]);
    // Epoch seconds with fractions, within the entry's span.
    const start = Date.parse(ws.startedDateTime) / 1000;
    for (const m of messages) expect(m.time).toBeGreaterThanOrEqual(start);
    expect(messages.every((m) => m._truncated === undefined)).toBe(true);

    const refused = entryOf(har, 'c2');
    expect(refused.response.status).toBe(403);
    expect(refused.response.content.mimeType).toBe('application/json');
    expect(JSON.parse(refused.response.content.text!)).toMatchObject({ kind: 'Status', reason: 'Forbidden' });
    expect(refused._webSocketMessages).toBeUndefined();

    const spdy = entryOf(har, 'c3');
    expect(spdy.response.status).toBe(101);
    expect(spdy._kubewire).toMatchObject({ transport: 'spdy', exitCode: 0 });
    expect(spdy._webSocketMessages).toBeUndefined();

    // --session keeps one session's entries.
    const only = await exportHar([file], 's2');
    expect(only.log.entries.map((e) => e.connection)).toEqual(['c2', 'c3']);
  });

  it('gives each connection its own exit code: kubectl cp\'s test -d probe exits 1, its tar 0', async () => {
    const log = new LogWriter();
    log.add(proxyStart);
    log.vector('kubectl1.33-exec-cpin-ws-v5', { session: 'cp', conn: 'c1' });
    log.vector('kubectl1.33-exec-cpin-ws-v5-c2', { session: 'cp', conn: 'c2' });
    const har = await exportHar([log.write(fresh('cp.jsonl'))]);
    expect(entryOf(har, 'c1')._kubewire).toMatchObject({ transport: 'websocket', protocol: 'v5.channel.k8s.io', exitCode: 1 });
    expect(entryOf(har, 'c2')._kubewire).toMatchObject({ transport: 'websocket', protocol: 'v5.channel.k8s.io', exitCode: 0 });
  });

  it('reads a connection id that a later kubewire run uses again as a new connection', async () => {
    const log = new LogWriter();
    // A client without Kubectl-Session: its session is its connection id, which restarts with each run.
    log.add(proxyStart);
    log.vector('kubectl1.33-exec-exit3-ws-v5', { session: 'c1', conn: 'c1' });
    log.add(proxyStart);
    log.vector('kubectl1.33-exec-fb-403-spdy-c2', { session: 'c1', conn: 'c1' });
    const har = await exportHar([log.write(fresh('runs.jsonl'))]);
    expect(har.log.entries.map((e) => [e.connection, e._kubewire.transport, e._kubewire.exitCode])).toEqual([['c1', 'websocket', 3], ['c1', 'spdy', 0]]);
  });

  it('joins a fragmented message into one, and writes to a file with -o', async () => {
    const log = new LogWriter();
    log.add(proxyStart);
    log.vector('kubectl1.33-exec-wsfrag-ws-v5', { session: 'f', conn: 'c1' });
    const out = fresh('frag.har');
    const stdout = new Collector();
    expect(await runExport({ files: [log.write(fresh('frag.jsonl'))], format: 'har', output: out }, stdout, new Lines())).toBe(0);
    expect(stdout.text).toBe('');
    const har = JSON.parse(readFileSync(out, 'utf8')) as Har;
    expect(validateHar(har), ajv.errorsText(validateHar.errors)).toBe(true);
    const received = har.log.entries[0]!._webSocketMessages!.filter((m) => m.type === 'receive' && m.opcode === 2);
    const text = received.map((m) => Buffer.from(m.data, 'base64'));
    expect(text).toContainEqual(Buffer.concat([Buffer.from([1]), Buffer.from('fake-sh: running "exit 4"\n')]));
    expect(text).toContainEqual(Buffer.concat([Buffer.from([2]), Buffer.from('fake-sh: this line is on stderr\n')]));
  });
});

describe('HAR export of WebSocket channel protocols', () => {
  it('writes base64.channel.k8s.io messages as the text sent, and marks bytes the log lacks', async () => {
    const log = new LogWriter();
    const ids = { session: 'b', conn: 'c1' };
    log.add(proxyStart);
    log.add({
      type: 'upgrade.request', dir: 'c2s', offset: 0, method: 'GET', target: '/api/v1/namespaces/default/pods/web/exec?command=echo&command=hi&stdout=true', path: '/api/v1/namespaces/default/pods/web/exec',
      version: 'HTTP/1.1', headers: [['Host', 'h']], upgrade: 'websocket', offered: ['base64.channel.k8s.io'], kubectlSession: 'b', kubectlCommand: null, userAgent: null,
      k8s: k8s({ operation: 'exec', command: ['echo', 'hi'], stdout: true }),
    }, ids);
    log.add({ type: 'upgrade.response', dir: 's2c', offset: 0, status: 101, reason: 'Switching Protocols', version: 'HTTP/1.1', headers: [], protocol: 'base64.channel.k8s.io', auditId: null, server: null, contentType: null }, ids);
    log.add({ type: 'decode.stack', transport: 'websocket', protocol: 'base64.channel.k8s.io', semantics: 'base64-v1', layers: ['websocket', 'channel'], reason: 'test' }, ids);
    log.add({ type: 'ws.frame', dir: 's2c', offset: 100, opcode: 1, kind: 'text', fin: true, rsv: 0, masked: false, length: 5 }, ids);
    log.add({ type: 'k8s.data', dir: 's2c', offset: 101, channel: 1, stream: 'stdout', size: 3, payload: Buffer.from('hi\n').toString('base64') }, ids);
    log.add({ type: 'ws.frame', dir: 's2c', offset: 107, opcode: 1, kind: 'text', fin: true, rsv: 0, masked: false, length: 401 }, ids);
    log.add({ type: 'k8s.data', dir: 's2c', offset: 108, channel: 1, stream: 'stdout', size: 300, payload: Buffer.alloc(256, 0x61).toString('base64'), truncated: true }, ids);
    log.add({ type: 'ws.frame', dir: 's2c', offset: 510, opcode: 9, kind: 'ping', fin: true, rsv: 0, masked: false, length: 0, payload: '' }, ids);
    log.add({ type: 'conn.end', dir: 's2c', offset: 512 }, ids);
    const har = await exportHar([log.write(fresh('b64.jsonl'))]);
    const messages = har.log.entries[0]!._webSocketMessages!;
    expect(messages[0]).toEqual({ type: 'receive', time: Date.parse('2026-11-21T10:00:00.025Z') / 1000, opcode: 1, data: '1aGkK' });
    expect(messages[1]).toMatchObject({ opcode: 1, _truncated: true });
    expect(messages[1]!.data.startsWith('1YWFh')).toBe(true);
    expect(messages[2]).toEqual({ type: 'receive', time: expect.any(Number), opcode: 9, data: '' });
  });
});

/** The upgrade.request / upgrade.response / decode.stack of a base64 exec on `ids.conn`. */
function base64Upgrade(log: LogWriter, ids: { session: string; conn: string }): void {
  log.add({
    type: 'upgrade.request', dir: 'c2s', offset: 0, method: 'GET', target: '/api/v1/namespaces/default/pods/web/exec?command=sh&stdout=true', path: '/api/v1/namespaces/default/pods/web/exec',
    version: 'HTTP/1.1', headers: [['Host', 'h']], upgrade: 'websocket', offered: ['base64.channel.k8s.io'], kubectlSession: ids.session, kubectlCommand: null, userAgent: null,
    k8s: k8s({ operation: 'exec', command: ['sh'], stdout: true }),
  }, ids);
  log.add({ type: 'upgrade.response', dir: 's2c', offset: 0, status: 101, reason: 'Switching Protocols', version: 'HTTP/1.1', headers: [], protocol: 'base64.channel.k8s.io', auditId: null, server: null, contentType: null }, ids);
  log.add({ type: 'decode.stack', transport: 'websocket', protocol: 'base64.channel.k8s.io', semantics: 'base64-v1', layers: ['websocket', 'channel'], reason: 'test' }, ids);
}

describe('HAR export as a stream', () => {
  it('hands out an entry when its connection closes and keeps only open connections', () => {
    const log = new LogWriter();
    log.add(proxyStart);
    // A WebSocket that stays open across the whole log (never closed: kubewire was stopped).
    base64Upgrade(log, { session: 'w', conn: 'c1' });
    for (let i = 1; i <= 500; i++) {
      restRequest(log, { session: 's1', conn: `r${i}` });
      log.add({ type: 'ws.frame', dir: 's2c', offset: i * 10, opcode: 1, kind: 'text', fin: true, rsv: 0, masked: false, length: 5 }, { session: 'w', conn: 'c1' });
      log.add({ type: 'k8s.data', dir: 's2c', offset: i * 10 + 1, channel: 1, stream: 'stdout', size: 3, payload: Buffer.from('hi\n').toString('base64') }, { session: 'w', conn: 'c1' });
    }
    const builder = new HarBuilder({ creatorVersion: 'test' });
    const writer = new HarLines('test');
    const lines = [writer.head()];
    let maxOpen = 0;
    for (const line of log.lines) {
      const event = JSON.parse(line) as KubewireEvent;
      const done = builder.push(event);
      maxOpen = Math.max(maxOpen, builder.openConnections);
      // Exactly at the request's conn.close, before the log ends, its entry comes out.
      if (event.type === 'conn.close') expect(done.map((e) => e.connection)).toEqual([event.conn]);
      else expect(done).toEqual([]);
      lines.push(...done.map((e) => writer.entry(e)));
    }
    // The open WebSocket and the one request in flight: not the 500 requests of the log.
    expect(maxOpen).toBe(2);
    expect(writer.count).toBe(500);
    const rest = builder.finish();
    expect(rest.map((e) => e.connection)).toEqual(['c1']);
    expect(rest[0]!._webSocketMessages).toHaveLength(500);
    expect(builder.openConnections).toBe(0);
    lines.push(...rest.map((e) => writer.entry(e)), writer.tail());
    const har = JSON.parse(lines.join('\n')) as Har;
    expect(validateHar(har), ajv.errorsText(validateHar.errors)).toBe(true);
    expect(har.log.entries.map((e) => e.connection)).toEqual([...Array.from({ length: 500 }, (_, i) => `r${i + 1}`), 'c1']);
  });

  it('writes entries in the order their connections finished, finishing an earlier run at the next start', async () => {
    const log = new LogWriter();
    log.add(proxyStart);
    base64Upgrade(log, { session: 'w', conn: 'c1' });
    restRequest(log, { session: 's1', conn: 'r1' });
    log.add({ type: 'conn.close', closedBy: 'client', bytes: { c2s: 10, s2c: 20 }, durationMs: 40, error: null }, { session: 'w', conn: 'c1' });
    // The next kubewire run: its r1 is another connection; the first run's c2 never closed.
    base64Upgrade(log, { session: 'w', conn: 'c2' });
    log.add(proxyStart);
    restRequest(log, { session: 's2', conn: 'r1' });
    const har = await exportHar([log.write(fresh('order.jsonl'))]);
    expect(har.log.entries.map((e) => `${e.connection}/${e._kubewire.session}`)).toEqual(['r1/s1', 'c1/w', 'c2/w', 'r1/s2']);
    const c1 = entryOf(har, 'c1');
    expect(c1._resourceType).toBe('websocket');
    // Started before r1, finished after it: times still say when it ran.
    expect(Date.parse(c1.startedDateTime)).toBeLessThan(Date.parse(entryOf(har, 'r1').startedDateTime));
  });

  it('waits for a slow stdout to drain instead of buffering the archive', async () => {
    const log = new LogWriter();
    log.add(proxyStart);
    for (let i = 1; i <= 200; i++) restRequest(log, { session: 's1', conn: `r${i}` });
    const file = log.write(fresh('slow.jsonl'));
    const out = new Collector(1, 1024);
    expect(await runExport({ files: [file], format: 'har' }, out, new Lines())).toBe(0);
    const har = JSON.parse(out.text) as Har;
    expect(validateHar(har), ajv.errorsText(validateHar.errors)).toBe(true);
    expect(har.log.entries).toHaveLength(200);
    // At most the buffer plus the line that filled it; all 200 entries (~200 KB) without backpressure.
    const longest = Math.max(...out.text.split('\n').map((l) => Buffer.byteLength(l) + 1));
    expect(out.maxBuffered).toBeLessThanOrEqual(1024 + longest);
  });

  it('stops quietly when stdout closes', async () => {
    const log = new LogWriter();
    log.add(proxyStart);
    for (let i = 1; i <= 50; i++) restRequest(log, { session: 's1', conn: `r${i}` });
    const file = log.write(fresh('closed.jsonl'));
    let writes = 0;
    const out = new Writable({
      highWaterMark: 64,
      write(_chunk, _enc, cb) {
        // The reader goes away after three lines, the way `| head -3` does.
        if (++writes === 3) this.destroy();
        cb();
      },
    });
    out.on('error', () => {});
    expect(await runExport({ files: [file], format: 'har' }, out, new Lines())).toBe(0);
    expect(writes).toBe(3);
  });

  it('writes no file for a --session that matches nothing', async () => {
    const log = new LogWriter();
    log.add(proxyStart);
    restRequest(log);
    const out = fresh('none.har');
    const stdout = new Collector();
    const e = await runExport({ files: [log.write(fresh('nosession.jsonl'))], format: 'har', session: 'nope', output: out }, stdout, new Lines()).then(() => null, (x: unknown) => x);
    expect((e as { code?: string }).code).toBe('KW_ERR_SESSION_NOT_FOUND');
    expect(existsSync(out)).toBe(false);
  });
});
