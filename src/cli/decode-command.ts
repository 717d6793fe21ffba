/**
 * `kubewire decode --c2s FILE --s2c FILE [--summary|--text] [--payload MODE]`: decodes one
 * captured connection, one file per TCP direction, each starting with its HTTP head.
 */
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { decodeCapture } from '../codec/capture-decode.js';
import type { PayloadMode } from '../codec/decode-context.js';
import { EventStamper } from '../events/stamp.js';
import type { KubewireEvent } from '../events/types.js';
import { CliError, describeFsError } from '../io/errors.js';
import type { Output } from '../io/output.js';

export interface DecodeOptions {
  c2s: string;
  s2c: string;
  summary?: boolean;
  text?: boolean;
  payload?: PayloadMode;
}

const READ_CHUNK_BYTES = 64 * 1024;
/** Captures are local files the user chose, so the client side may be held in full while waiting. */
const CAPTURE_MAX_PENDING_BYTES = 1024 * 1024 * 1024;

export async function runDecode(opts: DecodeOptions, out: Output): Promise<number> {
  // Check both files before printing anything, so an error never follows partial output.
  await assertReadable('--c2s', opts.c2s);
  await assertReadable('--s2c', opts.s2c);
  const stamper = new EventStamper();
  const summary = await decodeCapture(
    readChunks('--c2s', opts.c2s),
    readChunks('--s2c', opts.s2c),
    ({ body, note }) => {
      if (opts.summary) return;
      const ev = stamper.stamp(body, note);
      out.line(opts.text ? textLine(ev) : JSON.stringify(ev));
    },
    { payload: opts.payload ?? 'full', maxPendingBytes: CAPTURE_MAX_PENDING_BYTES },
  );
  if (opts.summary) out.line(JSON.stringify(summary, null, 2));
  return 0;
}

async function assertReadable(flag: string, path: string): Promise<void> {
  try {
    const fh = await open(path, 'r');
    try {
      const st = await fh.stat();
      if (st.isDirectory()) throw Object.assign(new Error('directory'), { code: 'EISDIR' });
    } finally {
      await fh.close();
    }
  } catch (e) {
    throw new CliError('KW_ERR_CAPTURE_UNREADABLE', `cannot read ${flag} ${path}: ${describeFsError(e)}`);
  }
}

async function* readChunks(flag: string, path: string): AsyncGenerator<Buffer> {
  try {
    for await (const chunk of createReadStream(path, { highWaterMark: READ_CHUNK_BYTES })) yield chunk as Buffer;
  } catch (e) {
    throw new CliError('KW_ERR_CAPTURE_UNREADABLE', `cannot read ${flag} ${path}: ${describeFsError(e)}`);
  }
}

/** `#12 s2c @245 k8s.data  stdout 3 B "hi\n"`: the note, with where it happened. */
export function textLine(ev: KubewireEvent): string {
  const where = 'dir' in ev && ev.dir ? ` ${ev.dir}${'offset' in ev && typeof ev.offset === 'number' ? ` @${ev.offset}` : ''}` : '';
  const tunnel = 'tunnel' in ev && ev.tunnel ? ' [tunnel]' : '';
  return `#${ev.seq}${where} ${ev.type}${tunnel}  ${ev.note}`;
}
