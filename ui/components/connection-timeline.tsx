/** The session's connections in order (the pod GET, the WebSocket attempt and its answer, the SPDY retry), each with status and timing. */
import { memo } from 'react';
import { Box, Text } from 'ink';
import { connectionLines } from '../format/detail-format.js';
import type { ConnectionView } from '../store/types.js';

const OUTCOME_COLOUR: Record<ConnectionView['outcome'], string | undefined> = { ok: 'green', refused: 'yellow', failed: 'red', pending: 'cyan' };

export function ConnectionTimeline({ connections, sessionStart, maxLines, width }: { connections: readonly ConnectionView[]; sessionStart: number | null; maxLines: number; width: number }) {
  // The last connections matter most (the stream, the retry); older REST ones are summarised.
  const shown = connections.length > maxLines ? connections.slice(connections.length - (maxLines - 1)) : connections;
  const hidden = connections.length - shown.length;
  // Two columns of indent in front of each line.
  const lines = connectionLines(shown, sessionStart, width - 2);
  return (
    <Box flexDirection="column">
      <Text bold dimColor wrap="truncate">CONNECTIONS</Text>
      {hidden > 0 ? <Text dimColor wrap="truncate">  … {hidden} earlier requests</Text> : null}
      {shown.map((c, i) => (
        <ConnectionLine key={c.conn} line={lines[i]!} outcome={c.outcome} />
      ))}
    </Box>
  );
}

const ConnectionLine = memo(function ConnectionLine({ line, outcome }: { line: string; outcome: ConnectionView['outcome'] }) {
  return <Text wrap="truncate" color={OUTCOME_COLOUR[outcome]}>{'  '}{line}</Text>;
});
