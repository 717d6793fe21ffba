/**
 * Saving what the session screen shows: the selected message's bytes, or the whole stream of
 * the lane shown (every kept message, in order), each to a new file. Files are created 0600
 * in a 0700 directory, as the logs are (a message may hold a secret typed into a shell), and
 * never overwritten: a name that is taken gets a number. What the rings no longer hold, or
 * held only in part, is said in the result, never silently left out.
 */
import { mkdir, open } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { messageBytes } from '../format/message-format.js';
import { compactBytes } from '../format/row-format.js';
import type { LaneMessage, LaneView } from '../store/types.js';

/** `$XDG_STATE_HOME/kubewire/saved`, else `~/.local/state/kubewire/saved`: beside kubewire's logs. */
export function defaultSaveDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(env['XDG_STATE_HOME'] || join(homedir(), '.local', 'state'), 'kubewire', 'saved');
}

export interface SaveResult {
  path: string | null;
  /** One line for the status bar: what was written where, and what was not kept. */
  text: string;
  error: boolean;
}

/** Names taken before giving up (`name.txt`, `name-2.txt`, …). */
const MAX_TRIES = 1000;

export async function saveMessage(dir: string, sessionId: string, lane: LaneView, m: LaneMessage): Promise<SaveResult> {
  if (m.payload === undefined) return refused(m.size > 0 ? `#${m.seq}: its ${m.size} B were not recorded (--payload none); nothing to save` : `#${m.seq} carries no bytes; nothing to save`);
  const bytes = messageBytes(m);
  const notes = m.truncated ? [`recorded ${bytes.length} of ${m.size} B (--payload head)`] : [];
  return write(dir, `${base(sessionId)}-${slug(lane.label)}-${m.seq}`, bytes, `#${m.seq} ${lane.label}`, notes);
}

export async function saveStream(dir: string, sessionId: string, lane: LaneView): Promise<SaveResult> {
  const parts: Uint8Array[] = [];
  let recorded = 0;
  let partial = 0;
  const dirs = new Set<string>();
  for (const m of lane.messages) {
    if (m.payload === undefined) {
      if (m.size > 0) partial++;
      continue;
    }
    if (m.truncated) partial++;
    const b = messageBytes(m);
    if (b.length === 0) continue;
    parts.push(b);
    recorded += b.length;
    if (m.dir) dirs.add(m.dir);
  }
  if (recorded === 0) return refused(`${lane.label}: no bytes recorded in the ${lane.messages.length} messages kept; nothing to save`);
  const notes: string[] = [];
  if (lane.evicted > 0) notes.push(`${lane.evicted} earlier messages fell out of the ring (the log has them)`);
  if (partial > 0) notes.push(`${partial} recorded in part or not at all`);
  if (dirs.size > 1) notes.push('both directions, in order');
  const count = lane.messages.length;
  return write(dir, `${base(sessionId)}-${slug(lane.label)}`, Buffer.concat(parts), `${lane.label}, ${count} message${count === 1 ? '' : 's'}`, notes);
}

async function write(dir: string, name: string, bytes: Uint8Array, what: string, notes: string[]): Promise<SaveResult> {
  const ext = looksLikeText(bytes) ? 'txt' : 'bin';
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    for (let i = 1; i <= MAX_TRIES; i++) {
      const path = join(dir, `${name}${i === 1 ? '' : `-${i}`}.${ext}`);
      let fh;
      try {
        // wx: fails on an existing name instead of overwriting it.
        fh = await open(path, 'wx', 0o600);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EEXIST') continue;
        throw e;
      }
      try {
        await fh.writeFile(bytes);
      } finally {
        await fh.close();
      }
      const tail = notes.length ? ` (${notes.join('; ')})` : '';
      return { path, text: `saved to ${tildePath(path)} · ${compactBytes(bytes.length)} of ${what}${tail}`, error: false };
    }
    return refused(`not saved: ${MAX_TRIES} files named ${name} already in ${dir}`);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    return refused(`not saved: ${err.code ? `${err.code} ` : ''}${err.message} (the directory is ${dir})`);
  }
}

/** The path as the user would type it: the home directory as `~`. */
export function tildePath(path: string, home: string = homedir()): string {
  return home && path.startsWith(`${home}/`) ? `~${path.slice(home.length)}` : path;
}

function refused(text: string): SaveResult {
  return { path: null, text, error: true };
}

/** `kubewire-<first 8 of the session id>`, in characters any file system takes. */
function base(sessionId: string): string {
  return `kubewire-${slug(sessionId.slice(0, 8)) || 'session'}`;
}

function slug(s: string): string {
  return s.replace(/[^A-Za-z0-9._-]+/g, '_');
}

/** Valid UTF-8 without control bytes other than tab, newlines and the escape of terminal colours. */
function looksLikeText(bytes: Uint8Array): boolean {
  const text = Buffer.from(bytes).toString('utf8');
  if (text.includes('\ufffd')) return false;
  return !/[\u0000-\u0008\u000b\u000c\u000e-\u001a\u001c-\u001f\u007f]/.test(text);
}
