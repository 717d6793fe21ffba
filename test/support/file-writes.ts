/**
 * The log writers' file writes (src/sinks/log-files.ts), watched or changed in tests whichever
 * way they go: synchronously (`fs.writeSync` / `fs.writevSync`, regular files) or through
 * libuv's pool (FileHandle `write` / `writev`, pipes and devices). Every write is seen as the
 * buffers it was given and the position it names (null: the file's own).
 */
import fs from 'node:fs';
import { open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { vi } from 'vitest';

/** Performs a write as it was asked for; returns how many bytes it took. */
export type RealWrite = (buffers: Buffer[], position: number | null) => Promise<number> | number;
/** What a write does instead: `real` is the write itself, for a part of the buffers or all of them. */
export type WriteHook = (buffers: Buffer[], position: number | null, real: RealWrite) => Promise<number> | number;

type Proto = { write: (...args: unknown[]) => Promise<{ bytesWritten: number }>; writev: (...args: unknown[]) => Promise<{ bytesWritten: number }> };

/** Routes every file write through `hook` until `vi.restoreAllMocks()`. `dir`: where a probe file may be made. */
export async function hookFileWrites(dir: string, hook: WriteHook): Promise<void> {
  const probe = join(dir, '.file-writes-probe');
  const fh = await open(probe, 'w');
  await fh.close();
  await rm(probe);
  const proto = Object.getPrototypeOf(fh) as Proto;
  const { write, writev } = proto;
  const { writevSync } = fs;
  vi.spyOn(proto, 'write').mockImplementation(async function (this: unknown, ...a: unknown[]) {
    const buf = a[0] as Buffer;
    const offset = (a[1] as number | undefined) ?? 0;
    const length = (a[2] as number | undefined) ?? buf.length - offset;
    const real: RealWrite = async (bufs, pos) => (await write.call(this, Buffer.concat(bufs), 0, bufs.reduce((n, b) => n + b.length, 0), pos)).bytesWritten;
    return { bytesWritten: await hook([buf.subarray(offset, offset + length)], (a[3] as number | null | undefined) ?? null, real), buffer: buf };
  });
  vi.spyOn(proto, 'writev').mockImplementation(async function (this: unknown, ...a: unknown[]) {
    const real: RealWrite = async (bufs, pos) => (await writev.call(this, bufs, pos ?? undefined)).bytesWritten;
    return { bytesWritten: await hook(a[0] as Buffer[], (a[1] as number | null | undefined) ?? null, real), buffers: a[0] };
  });
  const syncResult = (n: Promise<number> | number): number => {
    if (typeof n !== 'number') throw new Error('a hook of a synchronous write must answer synchronously');
    return n;
  };
  vi.spyOn(fs, 'writeSync').mockImplementation(((fd: number, buf: Buffer, offset?: number, length?: number, position?: number | null) => {
    const off = offset ?? 0;
    const len = length ?? buf.length - off;
    const real: RealWrite = (bufs, pos) => writevSync(fd, bufs, pos ?? undefined);
    return syncResult(hook([buf.subarray(off, off + len)], position ?? null, real));
  }) as typeof fs.writeSync);
  vi.spyOn(fs, 'writevSync').mockImplementation(((fd: number, bufs: NodeJS.ArrayBufferView[], position?: number | null) => {
    const real: RealWrite = (b, pos) => writevSync(fd, b, pos ?? undefined);
    return syncResult(hook(bufs as Buffer[], position ?? null, real));
  }) as typeof fs.writevSync);
}

/** Every file write's size, in order, while the writes go on as they would. */
export async function recordWriteSizes(dir: string): Promise<number[]> {
  const sizes: number[] = [];
  await hookFileWrites(dir, (bufs, pos, real) => {
    sizes.push(bufs.reduce((n, b) => n + b.length, 0));
    return real(bufs, pos);
  });
  return sizes;
}

/** Each write takes only the first half of its first buffer, as a pipe may. */
export function halfWrites(dir: string): Promise<void> {
  return hookFileWrites(dir, (bufs, pos, real) => real([bufs[0]!.subarray(0, Math.ceil(bufs[0]!.length / 2))], pos));
}
