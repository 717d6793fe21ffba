/**
 * status-missing: a remote command ended without a status and kubectl failed for it: the server
 * side closed TCP under WebSocket, with neither the status nor a close frame, so kubectl exits 1
 * with `close 1006 (abnormal closure)` (protocol.md B §3). The other endings without a status,
 * those kubectl reports as success, are `exit-unknown`; src/diagnose/status-end.ts reads the
 * ending once for both, so a stream gives one of the two findings, never both.
 */
import { describeRequest, seqsOf, upstreamHop } from '../answer.js';
import { STATUS_FIX_LOGS, missingStatuses, statusPlace } from '../status-end.js';
import type { Rule } from '../types.js';

export const statusMissing: Rule = {
  id: 'status-missing',
  evaluate(view) {
    return missingStatuses(view).filter((m) => !m.silent).map(({ conn: c, protocol }) => ({
      rule: 'status-missing',
      conn: c.conn,
      severity: 'error' as const,
      title: 'The command ended without a status: kubectl failed with close 1006',
      explanation: `The exit code travels in a status (${protocol}: ${statusPlace(c)}) that the server writes before it ends the stream. None came: the server side closed the connection without it, and without a close frame. `
        + 'kubectl fails with `error reading from error stream: next reader: websocket: close 1006 (abnormal closure): unexpected EOF` (rc 1); how the command ended is unknown.',
      evidence: {
        facts: [describeRequest(c), `${c.conn}: ${c.response?.status} ${protocol}, ${c.frames.s2c} frames from the server, no status`, `${c.conn}: server side ended without a close frame`],
        seqs: seqsOf(c.request, c.response, c.stack, c.ends.s2c ?? c.close),
      },
      hop: upstreamHop(c),
      fix: `${STATUS_FIX_LOGS} Scripts that rely on exit codes should not trust this run.`,
    }));
  },
};
