/**
 * JSONL logs built from real vectors, as the proxy would have written them: events stamped
 * with times, session and connection ids. A WebSocket refusal and its SPDY retry share a
 * session, as kubectl's Kubectl-Session header makes them do.
 */
import { writeFileSync } from 'node:fs';
import { decodeCaptureSync } from '../../src/codec/capture-decode.js';
import { EventStamper, timestampMicros } from '../../src/events/stamp.js';
import { loadVector } from './vectors.js';

export interface LoggedConnection {
  vector: string;
  session: string;
}

export function writeRecordedLog(file: string, connections: LoggedConnection[], startMs = Date.UTC(2026, 10, 21, 10, 0, 0)): number {
  const stamper = new EventStamper();
  const lines: string[] = [];
  let t = startMs;
  connections.forEach((c, i) => {
    const v = loadVector(c.vector);
    decodeCaptureSync([v.c2s], [v.s2c], ({ body, note }) => {
      t += 3;
      lines.push(JSON.stringify(stamper.stamp(body, note, { ts: timestampMicros(t), session: c.session, conn: `c${i + 1}` })));
    });
  });
  writeFileSync(file, lines.join('\n') + '\n');
  return lines.length;
}
