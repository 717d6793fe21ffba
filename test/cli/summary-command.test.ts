import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CliError } from '../../src/io/errors.js';
import { runSummary } from '../../src/cli/summary-command.js';
import { decodeCaptureSync } from '../../src/codec/capture-decode.js';
import { EventBus } from '../../src/events/event-bus.js';
import { noteFor } from '../../src/events/notes.js';
import type { EventBody } from '../../src/events/types.js';
import { JsonlSink } from '../../src/sinks/jsonl-sink.js';
import { canonical, decodeAll } from '../support/decode.js';
import { loadVector, vectorsAvailable } from '../support/vectors.js';
import { Lines } from '../support/lines-output.js';

const root = mkdtempSync(join(tmpdir(), 'kubewire-summary-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = (name: string): string => join(root, `${++n}-${name}`);

interface Capture {
  c2s: Buffer;
  s2c: Buffer;
}

/** A live-style log: each capture as one proxied connection, written by the bus and the JSONL sink. */
async function writeLog(path: string, captures: Capture[]): Promise<void> {
  const bus = new EventBus({ lossless: true });
  bus.addSink(await JsonlSink.open(path));
  const start: EventBody = { type: 'proxy.start', listen: '127.0.0.1:8001', upstream: 'https://k:6443', context: null, kubeconfig: null, payloadMode: 'full', log: path, version: 'test', pid: process.pid };
  bus.publish(start, noteFor(start), { session: 'run' });
  captures.forEach((c, i) => {
    const ids = { session: 'run', conn: `c${i + 1}` };
    decodeCaptureSync([c.c2s], [c.s2c], ({ body, note }) => bus.publish(body, note, ids));
  });
  await bus.close();
}

const run = async (file: string): Promise<{ code: number; out: string[]; err: string[] }> => {
  const out = new Lines();
  const err = new Lines();
  const code = await runSummary({ file }, out, err);
  return { code, out: out.lines, err: err.lines };
};

const latin = (s: string): Buffer => Buffer.from(s, 'latin1');
const refused: Capture = {
  c2s: latin('GET /api/v1/namespaces/default/pods/p1/exec?command=ls&stdout=true HTTP/1.1\r\nHost: k\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Protocol: v5.channel.k8s.io\r\nKubectl-Session: s-1\r\n\r\n'),
  s2c: latin('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n'),
};
const plain: Capture = {
  c2s: latin('GET /api/v1/pods HTTP/1.1\r\nHost: k\r\n\r\n'),
  s2c: latin('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}'),
};

describe('kubewire summary', () => {
  it('prints the summary of each upgraded connection as compact JSON, and skips plain HTTP', async () => {
    const log = fresh('hand.jsonl');
    await writeLog(log, [refused, plain]);
    const r = await run(log);
    expect(r.code).toBe(0);
    expect(r.err).toEqual([]);
    expect(r.out).toHaveLength(1);
    expect(r.out[0]).not.toContain('\n');
    expect(r.out[0]).toBe(JSON.stringify(decodeAll([refused.c2s], [refused.s2c]).summary));
  });

  it('reports a broken line and a cut-off last line with their numbers, and goes on', async () => {
    const log = fresh('broken.jsonl');
    await writeLog(log, [refused]);
    const good = (await run(log)).out;
    const events = readFileSync(log, 'utf8').split('\n').filter((l) => l !== '');
    const summaryLine = events.find((l) => l.includes('"type":"conn.summary"'))!;
    // A garbage line, a blank one, the same connection again, then half a line.
    appendFileSync(log, `not json\r\n\n${summaryLine}\n${summaryLine.slice(0, 40)}`);
    const r = await run(log);
    expect(r.code).toBe(0);
    expect(r.out).toEqual([good[0], good[0]]);
    expect(r.err).toEqual([
      `kubewire: ${log}:${events.length + 1}: line is not JSON, skipped`,
      `kubewire: ${log}:${events.length + 4}: last line is cut short, skipped`,
    ]);
  });

  it('takes a last line without a newline when it is complete', async () => {
    const log = fresh('nonl.jsonl');
    await writeLog(log, [refused]);
    const text = readFileSync(log, 'utf8');
    writeFileSync(log, text.trimEnd());
    const r = await run(log);
    expect(r.out).toHaveLength(1);
    expect(r.err).toEqual([]);
  });

  it('prints nothing for an empty log', async () => {
    const log = fresh('empty.jsonl');
    writeFileSync(log, '');
    expect(await run(log)).toEqual({ code: 0, out: [], err: [] });
  });

  it('fails with KW_ERR_LOG_UNREADABLE (exit 2) for a missing file or a directory', async () => {
    for (const [file, why] of [[fresh('missing.jsonl'), 'no such file'], [root, 'is a directory']] as const) {
      const e = await runSummary({ file }, new Lines(), new Lines()).then(() => null, (x: unknown) => x);
      expect(e).toBeInstanceOf(CliError);
      expect((e as CliError).code).toBe('KW_ERR_LOG_UNREADABLE');
      expect((e as CliError).exitCode).toBe(2);
      expect((e as CliError).message).toBe(`cannot read the log ${file}: ${why}${why === 'is a directory' ? ', not a file' : ''}`);
    }
  });

  const available = vectorsAvailable();
  describe.skipIf(!available)('over a log of real kubectl connections', () => {
    const names = [
      'kubectl1.30-exec-fb-403-ws-rejected-403',
      'kubectl1.30-exec-fb-403-spdy-c2',
      'kubectl1.33-exec-tty-ws-v5',
      'kubectl1.30-portforward-ws-tunnel-spdy',
      'kubectl1.27-exec-exit3-spdy',
    ];
    it('equals each vector\'s expected summary, in order, with a cut-off last line skipped', async () => {
      const vectors = names.map(loadVector);
      const log = fresh('vectors.jsonl');
      await writeLog(log, vectors);
      appendFileSync(log, '{"v":1,"seq":99999,"type":"k8s.da');
      const r = await run(log);
      expect(r.code).toBe(0);
      expect(r.out.map((l) => canonical(JSON.parse(l)))).toEqual(vectors.map((v) => canonical(v.expectedSummary)));
      expect(r.err).toHaveLength(1);
      expect(r.err[0]).toMatch(/:\d+: last line is cut short, skipped$/);
    });
  });
});
