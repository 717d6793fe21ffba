/**
 * One kubectl command: what it ran and how it ended, its connections in order, one lane per
 * stream with the messages the ring kept, the selected message in full, and the findings pane.
 */
import { Box, Text } from 'ink';
import { fallbackLine, outcomeLine, statusLine, summaryLine } from '../format/detail-format.js';
import type { MessageFormat } from '../format/message-format.js';
import type { SessionDetail } from '../store/types.js';
import { ConnectionTimeline } from './connection-timeline.js';
import { FindingsPane, findingsPaneHeight } from './findings-pane.js';
import { LaneTabs } from './lane-tabs.js';
import { MessageList, MessagePreview } from './message-list.js';

export interface SessionDetailProps {
  detail: SessionDetail;
  laneIndex: number;
  messageIndex: number;
  format: MessageFormat;
  width: number;
  height: number;
}

export interface DetailLayout {
  connections: number;
  messages: number;
  preview: number;
}

/**
 * How the height is shared: fixed lines first, then the message list and the preview of the
 * selected message. A long lane gets the larger part; a short one leaves the rest to the preview.
 */
export function detailLayout(height: number, connections: number, extraLines: number, messageCount: number): DetailLayout {
  const conns = Math.min(connections, 5);
  const fixed = 3 + extraLines + 1 + conns + 1 + 2;
  const rest = Math.max(2, height - fixed);
  const minPreview = Math.min(8, Math.max(1, Math.floor(rest / 2)));
  const messages = Math.max(1, Math.min(messageCount, rest - minPreview));
  return { connections: conns, messages, preview: rest - messages };
}

export function SessionDetailView({ detail, laneIndex, messageIndex, format, width, height }: SessionDetailProps) {
  const { row } = detail;
  const lane = laneIndex >= 0 ? detail.lanes[laneIndex] ?? null : null;
  const fallback = fallbackLine(row, detail.connections);
  const evicted = lane && lane.evicted > 0
    ? `${lane.evicted} older ${lane.label} messages fell out of the ring (keeps ${detail.ringSize}); all are in the log${detail.log ? ` ${detail.log}` : ''}`
    : null;
  // detailLayout counts the findings pane's two lines of the empty case; more findings take more.
  const findingLines = findingsPaneHeight(detail.findings.length) - findingsPaneHeight(0);
  const layout = detailLayout(height, detail.connections.length, (fallback ? 1 : 0) + (evicted ? 1 : 0) + findingLines, lane?.messages.length ?? 0);
  const stateColour = row.state === 'failed' ? 'red' : row.state === 'live' ? 'cyan' : 'green';
  return (
    <Box flexDirection="column" height={height} overflow="hidden">
      <Text bold wrap="truncate">{summaryLine(row)}</Text>
      <Text wrap="truncate" color={stateColour}>{outcomeLine(row, width)}</Text>
      <Text wrap="truncate" color={detail.status && detail.status.exitCode ? 'red' : row.failure ? 'red' : undefined}>{statusLine(row, detail.status)}</Text>
      {fallback ? <Text wrap="truncate" color="yellow">{fallback}</Text> : null}
      <ConnectionTimeline connections={detail.connections} sessionStart={row.startedAt} maxLines={layout.connections} width={width} />
      <LaneTabs lanes={detail.lanes} selected={laneIndex} format={format} />
      {evicted ? <Text wrap="truncate" color="yellow">{evicted}</Text> : null}
      <MessageList lane={lane} selected={messageIndex} format={format} sessionStart={row.startedAt} width={width} listHeight={layout.messages} />
      <MessagePreview lane={lane} selected={messageIndex} format={format} width={width} height={layout.preview} />
      <FindingsPane findings={detail.findings} width={width} />
    </Box>
  );
}
