/**
 * exit-unknown: a remote command ended without a status on a path where kubectl reports success:
 * the server sent its WebSocket close frame, ended the SPDY session (an error stream closed with
 * nothing on it, RST_STREAM, GOAWAY) or closed TCP under SPDY, and no status came first. kubectl
 * exits 0, but the exit status is unknown, not 0: `exit 3` gives rc 0 (protocol.md B §3, §4).
 * A kubelet or container runtime restarted mid-exec ends streams this way. The ending kubectl
 * fails on (close 1006) is `status-missing`; src/diagnose/status-end.ts tells them apart once.
 */
import { describeRequest, seqsOf, upstreamHop } from '../answer.js';
import { STATUS_FIX_LOGS, missingStatuses, spdyEnd, statusPlace } from '../status-end.js';
import type { Rule } from '../types.js';

export const exitUnknown: Rule = {
  id: 'exit-unknown',
  evaluate(view) {
    return missingStatuses(view).filter((m) => m.silent).map(({ conn: c, shape, protocol }) => {
      const how = shape === 'ws-close' ? `close ${c.closeFrames.s2c?.closeCode ?? ''} from the server`.replace('  ', ' ')
        : shape === 'spdy-end' ? `${spdyEnd(c)} from the server` : 'the server side closed TCP';
      const end = shape === 'ws-close' ? c.closeFrames.s2c : shape === 'spdy-end' ? c.spdyServerEnd : c.ends.s2c ?? c.close;
      return {
        rule: 'exit-unknown',
        conn: c.conn,
        severity: 'error' as const,
        title: 'The exit status is unknown: the stream ended without a status, and kubectl reported success',
        explanation: `The exit code travels in a status (${protocol}: ${statusPlace(c)}) that the server writes before it ends the stream. None came: `
          + (shape === 'ws-close' ? 'the server sent its close frame without it. '
            : shape === 'spdy-end' ? `the server ended the stream (${spdyEnd(c)}) with nothing on the error stream. `
              : 'the server side closed the connection without it. ')
          + 'kubectl then cannot know how the command ended and reports success (rc 0): the exit status is unknown, not 0 (`exit 3` gives rc 0). '
          + 'A kubelet or container runtime that restarts mid-exec ends streams this way.',
        evidence: {
          facts: [describeRequest(c), `${c.conn}: ${c.response?.status} ${protocol}, ${c.frames.s2c} frames from the server, no status`, `${c.conn}: ${how}`],
          seqs: seqsOf(c.request, c.response, c.stack, end),
        },
        hop: upstreamHop(c),
        fix: `${STATUS_FIX_LOGS} Do not trust this run's rc 0: rerun the command, or have it print its own exit code (\`sh -c '…; echo rc=$?'\`).`,
      };
    });
  },
};
