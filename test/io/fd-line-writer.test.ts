/**
 * FdLineWriter, with a stand-in for fs.write: lines go out whole and in order across partial
 * writes and a full pipe's EAGAIN; past the limit lines are dropped and counted, and one line
 * says how many once the backlog drained; a reader that went away ends the output.
 */
import { describe, expect, it } from 'vitest';
import { FdLineWriter, type FdWrite } from '../../src/io/fd-line-writer.js';

/** A pipe of `capacity` bytes that answers EAGAIN when full, and is read when asked. */
function fakePipe(capacity: number) {
  let held = 0;
  let out = '';
  let broken = false;
  const write: FdWrite = (_fd, buffer, offset, length, _pos, cb) => {
    setImmediate(() => {
      if (broken) return cb(Object.assign(new Error('EPIPE'), { code: 'EPIPE' }), 0);
      const n = Math.min(length, capacity - held);
      if (n === 0) return cb(Object.assign(new Error('EAGAIN'), { code: 'EAGAIN' }), 0);
      held += n;
      out += buffer.subarray(offset, offset + n).toString('utf8');
      cb(null, n);
    });
  };
  return {
    write,
    /** What a reader got (everything written that it read). */
    read: () => {
      held = 0;
      return out;
    },
    text: () => out,
    break: () => void (broken = true),
  };
}

const until = async (check: () => boolean): Promise<void> => {
  for (let i = 0; i < 400 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(check()).toBe(true);
};

describe('FdLineWriter', () => {
  it('writes every line whole and in order across partial writes and a full pipe', async () => {
    const pipe = fakePipe(10);
    const w = new FdLineWriter({ fd: 1, limit: 1 << 20, droppedLine: (n) => `dropped ${n}`, write: pipe.write });
    const lines = [...Array(50).keys()].map((i) => `line ${i} ${'x'.repeat(i % 7)}`);
    for (const l of lines) w.line(l);
    // The pipe holds 10 bytes until read: the rest waits in the writer.
    await until(() => pipe.text().length === 10);
    expect(w.backlog).toBeGreaterThan(0);
    for (let i = 0; i < 400 && pipe.text() !== lines.map((l) => l + '\n').join(''); i++) {
      pipe.read();
      await new Promise((r) => setTimeout(r, 2));
    }
    expect(pipe.text()).toBe(lines.map((l) => l + '\n').join(''));
    expect(w.backlog).toBe(0);
  });

  it('drops lines past the limit, counts them, and says how many once it caught up', async () => {
    const pipe = fakePipe(0);
    const w = new FdLineWriter({ fd: 1, limit: 100, droppedLine: (n) => `dropped ${n}`, write: pipe.write });
    for (let i = 0; i < 30; i++) w.line(`line ${String(i).padStart(3, '0')}`);
    // 9 bytes a line: 11 fit in 100 bytes, 19 are dropped; memory stays within the limit.
    expect(w.backlog).toBe(99);
    const pipe2 = fakePipe(1 << 20);
    const w2 = new FdLineWriter({ fd: 1, limit: 100, droppedLine: (n) => `dropped ${n}`, write: pipe2.write });
    for (let i = 0; i < 30; i++) w2.line(`line ${String(i).padStart(3, '0')}`);
    await w2.flushed(2000);
    const got = pipe2.text().trim().split('\n');
    expect(got.slice(0, 11)).toEqual([...Array(11).keys()].map((i) => `line ${String(i).padStart(3, '0')}`));
    expect(got.slice(11)).toEqual(['dropped 19']);
    // Writing goes on after the count.
    w2.line('later');
    await w2.flushed(2000);
    expect(pipe2.text().trim().split('\n').pop()).toBe('later');
    expect(w.backlog).toBe(99);
    w.close();
  });

  it('ends quietly when the reader went away, and flushed() never waits past its bound', async () => {
    const pipe = fakePipe(0);
    const w = new FdLineWriter({ fd: 1, limit: 1000, droppedLine: (n) => `dropped ${n}`, write: pipe.write });
    w.line('waits');
    await w.flushed(20); // bounded: the pipe never takes it
    expect(w.backlog).toBe(6);
    pipe.break();
    await w.flushed(2000);
    expect(w.backlog).toBe(0);
    w.line('after');
    expect(w.backlog).toBe(0);
  });
});
