/**
 * The in-process demo containers behind kubectl attach and kubectl logs.
 */
import type { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { AttachHub, ContainerUnavailableError, type AttachSink } from '../../src/demo/attach-hub.js';
import { fakePod, waitUntil } from './fixtures.js';

const hubs: AttachHub[] = [];
function newHub(...args: ConstructorParameters<typeof AttachHub>): AttachHub {
  const hub = new AttachHub(...args);
  hubs.push(hub);
  return hub;
}
afterEach(() => {
  for (const h of hubs.splice(0)) h.stop();
});

class Sink implements AttachSink {
  text = '';
  ended = 0;
  output(data: Buffer): void {
    this.text += data.toString('utf8');
  }
  end(): void {
    this.ended += 1;
  }
}

function collect(stream: Readable): { text: () => string; ended: Promise<void> } {
  let text = '';
  stream.on('data', (d: Buffer) => (text += d.toString('utf8')));
  const ended = new Promise<void>((resolve) => stream.once('end', () => resolve()));
  return { text: () => text, ended };
}

const pod = fakePod({ containers: [{ name: 'app', image: 'x' }, { name: 'sidecar', image: 'y' }] });

describe('AttachHub', () => {
  it('ticks to every attached client with the container label and a UTC timestamp', async () => {
    const hub = newHub([pod], { tickMs: 10 });
    hub.start();
    const a = new Sink();
    const b = new Sink();
    hub.attach(pod, 'app', a);
    hub.attach(pod, 'app', b);
    await waitUntil(() => a.text.includes('tick 2 ') && b.text.includes('tick 2 '), 2000, 'two ticks');
    expect(a.text).toMatch(/^\[web\/app\] tick 1 \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\n/m);
  });

  it('echoes complete stdin lines to every client; detach stops the output only', async () => {
    const hub = newHub([pod], { tickMs: 10_000 });
    hub.start();
    const a = new Sink();
    const b = new Sink();
    const ha = hub.attach(pod, 'app', a);
    hub.attach(pod, 'app', b);
    ha.write(Buffer.from('hel'));
    ha.write(Buffer.from('lo\r'));
    ha.write(Buffer.from('\nsecond\rthird\x7fD\npart'));
    expect(a.text).toBe('[web/app] echo: hello\n[web/app] echo: second\n[web/app] echo: thirD\n');
    expect(b.text).toBe(a.text);
    ha.endInput();
    expect(b.text).toContain('[web/app] echo: part\n');
    ha.detach();
    const before = a.text;
    hub.attach(pod, 'app', new Sink()).write(Buffer.from('more\n'));
    expect(a.text).toBe(before);
    expect(b.text).toContain('[web/app] echo: more\n');
  });

  it('keeps one process per container', async () => {
    const hub = newHub([pod], { tickMs: 10_000 });
    hub.start();
    const app = new Sink();
    const side = new Sink();
    hub.attach(pod, 'app', app).write(Buffer.from('to app\n'));
    hub.attach(pod, 'sidecar', side);
    expect(app.text).toContain('[web/app] echo: to app');
    expect(side.text).toBe('');
  });

  it('rejects unknown containers and pods that are not running, with the server texts', () => {
    const hub = newHub([], { tickMs: 10_000 });
    expect(() => hub.attach(pod, 'nope', new Sink())).toThrow('container nope is not valid for pod web');
    const pending = fakePod({ name: 'p', phase: 'Pending' });
    expect(() => hub.logs(pending, 'app')).toThrow('container "app" in pod "p" is waiting to start: ContainerCreating');
    const done = fakePod({ name: 'done', phase: 'Succeeded' });
    try {
      hub.attach(done, 'app', new Sink());
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ContainerUnavailableError);
      expect((err as ContainerUnavailableError).code).toBe('KW_ERR_DEMO_CONTAINER_COMPLETED');
    }
  });

  it('serves a completed pod\'s log and ends it even with follow', async () => {
    const hub = newHub([], { tickMs: 10_000 });
    hub.start();
    const log = collect(hub.logs(fakePod({ name: 'done', phase: 'Succeeded' }), 'app', { follow: true }));
    await log.ended;
    expect(log.text()).toContain('[done/app] done, exiting with code 0\n');
  });

  it('logs: tailLines, timestamps and sinceSeconds', async () => {
    let now = new Date('2026-11-21T10:57:00.000Z');
    const hub = newHub([pod], { tickMs: 10_000, now: () => now });
    const h = hub.attach(pod, 'app', new Sink());
    for (let i = 1; i <= 5; i++) {
      now = new Date(now.getTime() + 10_000);
      h.write(Buffer.from(`line ${i}\n`));
    }
    const tail = collect(hub.logs(pod, 'app', { tailLines: 2 }));
    await tail.ended;
    expect(tail.text()).toBe('[web/app] echo: line 4\n[web/app] echo: line 5\n');

    const stamped = collect(hub.logs(pod, 'app', { tailLines: 1, timestamps: true }));
    await stamped.ended;
    expect(stamped.text()).toBe('2026-11-21T10:57:50.000Z [web/app] echo: line 5\n');

    const recent = collect(hub.logs(pod, 'app', { sinceSeconds: 15 }));
    await recent.ended;
    expect(recent.text()).toBe('[web/app] echo: line 4\n[web/app] echo: line 5\n');
  });

  it('keeps at most maxLines log lines', async () => {
    const hub = newHub([pod], { tickMs: 10_000, maxLines: 3 });
    const h = hub.attach(pod, 'app', new Sink());
    for (let i = 1; i <= 10; i++) h.write(Buffer.from(`n${i}\n`));
    const log = collect(hub.logs(pod, 'app'));
    await log.ended;
    expect(log.text()).toBe('[web/app] echo: n8\n[web/app] echo: n9\n[web/app] echo: n10\n');
  });

  it('follows new lines until the reader destroys the stream', async () => {
    const hub = newHub([pod], { tickMs: 10 });
    hub.start();
    const stream = hub.logs(pod, 'app', { follow: true });
    const log = collect(stream);
    await waitUntil(() => log.text().includes('tick 3 '), 2000, 'followed ticks');
    expect(log.text().split('\n')[0]).toMatch(/demo process started/);
    stream.destroy();
    await new Promise((r) => setTimeout(r, 30));
    const seen = log.text();
    await new Promise((r) => setTimeout(r, 50));
    expect(log.text()).toBe(seen);
  });

  it('stop ends attached clients and followed logs and leaves no timers', async () => {
    const hub = newHub([pod], { tickMs: 10 });
    hub.start();
    const sink = new Sink();
    hub.attach(pod, 'app', sink);
    const log = collect(hub.logs(pod, 'sidecar', { follow: true }));
    await waitUntil(() => sink.text.includes('tick 1 '), 2000, 'a tick');
    hub.stop();
    await log.ended;
    expect(sink.ended).toBe(1);
    const text = sink.text;
    await new Promise((r) => setTimeout(r, 40));
    expect(sink.text).toBe(text);
    // Started again, the processes go on counting.
    hub.start();
    const again = new Sink();
    hub.attach(pod, 'app', again);
    await waitUntil(() => /tick \d+ /.test(again.text), 2000, 'a tick after restart');
  });
});
