/**
 * The `headers` lane: every request of a session and its answer as their heads were on the
 * wire, what `kubectl -v=9` users look for: the request line and headers, the status line and
 * headers, and the first bytes of a response body when they were text. The events already
 * hold the headers redacted (Authorization, tokens, cookies never reach an event); nothing is
 * kept here, the lane is built from the session model's facts when the detail is.
 */
import type { HeaderLines } from '../../src/events/types.js';
import type { SessionFacts } from '../../src/session/session-facts.js';
import type { LaneMessage, LaneView } from './types.js';

export function headersLane(facts: SessionFacts): LaneView | null {
  const messages: LaneMessage[] = [];
  let up = 0;
  let down = 0;
  for (const c of facts.story().connections) {
    const conn = facts.conns.get(c.id);
    const req = conn?.request;
    if (!conn || !req) continue;
    const head = `${req.method} ${req.target} HTTP/${req.version}\n${headerText(req.headers)}`;
    messages.push(message(req.seq, req.ts, 'c2s', conn.conn, head, req.note, 'request'));
    up += Buffer.byteLength(head);
    const res = conn.response;
    if (!res) continue;
    let text = `HTTP/${res.version} ${res.status} ${res.reason}\n${headerText(res.headers)}`;
    const body = conn.body;
    if (body?.text) text += `\n${body.text}${body.text.length < body.size ? `\n… (${body.size} B in all; the first bytes shown)` : ''}\n`;
    messages.push(message(res.seq, res.ts, 's2c', conn.conn, text, res.note, `response ${res.status}`));
    down += Buffer.byteLength(text);
  }
  if (messages.length === 0) return null;
  return {
    key: 'headers',
    label: 'headers',
    kind: 'headers',
    messages,
    total: messages.length,
    evicted: 0,
    bytesUp: up,
    bytesDown: down,
    truncated: 0,
    port: null,
  };
}

function headerText(headers: HeaderLines): string {
  return headers.map(([name, value]) => `${name}: ${value}\n`).join('');
}

function message(seq: number, ts: string | undefined, dir: 'c2s' | 's2c', conn: string, text: string, note: string, tag: string): LaneMessage {
  const bytes = Buffer.from(text, 'utf8');
  return { seq, ts: ts ?? null, dir, conn, size: bytes.length, payload: bytes.toString('base64'), truncated: false, note, tag };
}
