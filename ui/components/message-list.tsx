/** The messages of one lane, windowed to its height, and the selected one in full below. */
import { Box, Text } from 'ink';
import { dirArrow, messageTime } from '../format/detail-format.js';
import { displayWidth } from '../format/display-width.js';
import { messageBlock, messageLine, type MessageFormat } from '../format/message-format.js';
import { compactBytes } from '../format/row-format.js';
import { useScrollWindow } from '../hooks/use-scroll-window.js';
import type { LaneView } from '../store/types.js';
import { MessageRow } from './message-row.js';

export interface MessageListProps {
  lane: LaneView | null;
  selected: number;
  format: MessageFormat;
  sessionStart: number | null;
  width: number;
  listHeight: number;
}

export function MessageList({ lane, selected, format, sessionStart, width, listHeight }: MessageListProps) {
  const messages = lane?.messages ?? [];
  const top = useScrollWindow(selected, messages.length, listHeight);
  const textWidth = Math.max(10, width - 30);
  return (
    <Box flexDirection="column" height={listHeight} overflow="hidden">
      {messages.length === 0 ? <Text dimColor>no messages</Text> : null}
      {messages.slice(top, top + listHeight).map((m, i) => (
        <MessageRow
          key={m.seq}
          selected={top + i === selected}
          seq={m.seq}
          time={messageTime(m, sessionStart)}
          arrow={dirArrow(m)}
          size={compactBytes(m.size)}
          tag={m.tag}
          text={messageLine(m, format, textWidth)}
          truncated={m.truncated}
        />
      ))}
    </Box>
  );
}

export function MessagePreview({ lane, selected, format, width, height }: { lane: LaneView | null; selected: number; format: MessageFormat; width: number; height: number }) {
  const m = lane?.messages[selected];
  if (!lane || !m) return <Box height={height} />;
  const head = `#${m.seq} ${lane.label}${m.tag ? ` ${m.tag}` : ''} · ${m.dir ?? ''} · ${m.size} B · conn ${m.conn ?? '-'}${m.ts ? ` · ${m.ts}` : ''}`;
  const lines = messageBlock(m, format, Math.max(10, width - 2), Math.max(1, height - 1));
  return (
    <Box flexDirection="column" height={height} overflow="hidden">
      <Text bold dimColor wrap="truncate">{`── ${head} ${'─'.repeat(Math.max(0, width - 4 - displayWidth(head)))}`}</Text>
      {lines.map((l, i) => <Text key={i} wrap="truncate">{' '}{l}</Text>)}
    </Box>
  );
}
