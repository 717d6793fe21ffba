/**
 * `kubewire decode --c2s FILE --s2c FILE [--summary|--text|--findings [--json]] [--payload MODE]`:
 * decodes one captured connection, one file per TCP direction, each starting with its HTTP
 * head. Either file alone decodes what that side holds, with a note that the other is absent.
 * `--findings` runs the diagnosis rules over the decoded events (the same engine and session
 * model as the proxy) and prints the findings as `kubewire run` does, or with `--json` as
 * `finding` events.
 */
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { decodeCapture } from '../codec/capture-decode.js';
import type { PayloadMode } from '../codec/decode-context.js';
import { EventDiagnosis, findingBody, type SessionFinding } from '../diagnose/engine.js';
import { noteFor } from '../events/notes.js';
import { EventStamper } from '../events/stamp.js';
import type { KubewireEvent } from '../events/types.js';
import { CliError, describeFsError } from '../io/errors.js';
import type { Output } from '../io/output.js';
import { formatFindingLine } from '../sinks/console-sink.js';

export interface DecodeOptions {
  c2s?: string;
  s2c?: string;
  summary?: boolean;
  text?: boolean;
  findings?: boolean;
  json?: boolean;
  payload?: PayloadMode;
}

const READ_CHUNK_BYTES = 64 * 1024;
/** Captures are local files the user chose, so the client side may be held in full while waiting. */
const CAPTURE_MAX_PENDING_BYTES = 1024 * 1024 * 1024;

/** What a capture of one side cannot tell, for the note. */
const ABSENT = {
  c2s: 'decoding the server\'s side alone (no --c2s): the request, the offered protocols and the client\'s frames are unknown; SPDY streams the client opened show as unknown streams',
  s2c: 'decoding the client\'s side alone (no --s2c): the answer is unknown; the client\'s frames after an upgrade request are read as if the server had accepted its first offer',
} as const;

export async function runDecode(opts: DecodeOptions, out: Output, err: Output = out): Promise<number> {
  if (opts.c2s === undefined && opts.s2c === undefined) throw new CliError('KW_ERR_DECODE_USAGE', 'decode needs --c2s FILE, --s2c FILE, or both (one file per TCP direction)');
  if (opts.findings && (opts.summary || opts.text)) throw new CliError('KW_ERR_DECODE_USAGE', '--findings prints the findings alone (with --json as finding events); it does not go with --summary or --text');
  if (opts.json && (opts.summary || opts.text)) throw new CliError('KW_ERR_DECODE_USAGE', '--json does not go with --summary or --text');
  // Check the files before printing anything, so an error never follows partial output.
  if (opts.c2s !== undefined) await assertReadable('--c2s', opts.c2s);
  if (opts.s2c !== undefined) await assertReadable('--s2c', opts.s2c);
  if (opts.c2s === undefined) err.line(`kubewire: ${ABSENT.c2s}`);
  if (opts.s2c === undefined) err.line(`kubewire: ${ABSENT.s2c}`);
  const stamper = new EventStamper();
  let found = 0;
  // Findings are stamped into the same sequence as the events their evidence points at.
  const diagnosis = opts.findings
    ? new EventDiagnosis((f: SessionFinding) => {
      found++;
      const body = findingBody(f);
      const ev = stamper.stamp(body, noteFor(body), { ...(f.session ? { session: f.session } : {}), ...(f.conn ? { conn: f.conn } : {}) });
      out.line(opts.json ? JSON.stringify(ev) : formatFindingLine(body.severity, body.rule, body.title, body.fix));
    })
    : null;
  const summary = await decodeCapture(
    opts.c2s !== undefined ? readChunks('--c2s', opts.c2s) : null,
    opts.s2c !== undefined ? readChunks('--s2c', opts.s2c) : null,
    ({ body, note }) => {
      if (opts.summary) return;
      const ev = stamper.stamp(body, note);
      if (diagnosis) diagnosis.ingest(ev);
      else out.line(opts.text ? textLine(ev) : JSON.stringify(ev));
    },
    { payload: opts.payload ?? 'full', maxPendingBytes: CAPTURE_MAX_PENDING_BYTES },
  );
  if (diagnosis) {
    diagnosis.finish();
    if (found === 0 && !opts.json) out.line('no findings');
  }
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
