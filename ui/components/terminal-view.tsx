/**
 * What the user saw: the session's stdout replayed into a headless terminal at the sizes
 * kubectl sent, with a plain statement of what could not be replayed.
 */
import { memo } from 'react';
import { Box, Text } from 'ink';
import { cutToWidth, displayWidth, joinFitting } from '../format/display-width.js';
import type { SessionRow } from '../store/types.js';
import type { TerminalScreen } from '../terminal/terminal-replay.js';

export interface TerminalViewProps {
  row: SessionRow;
  screen: TerminalScreen | null;
  /** Lines scrolled up from the bottom. */
  scroll: number;
  width: number;
  height: number;
}

/** Lines left for the screen once the header and notices are drawn. */
export function terminalLinesHeight(height: number, screen: TerminalScreen | null): number {
  return Math.max(1, height - 2 - (screen?.notices.length ?? 0));
}

export function TerminalView({ row, screen, scroll, width, height }: TerminalViewProps) {
  if (!screen) {
    return (
      <Box flexDirection="column" height={height}>
        <Text bold wrap="truncate">terminal · {row.verb} {row.target}</Text>
        <Text dimColor>replaying stdout…</Text>
      </Box>
    );
  }
  const visible = terminalLinesHeight(height, screen);
  const end = Math.max(0, screen.lines.length - Math.min(scroll, Math.max(0, screen.lines.length - visible)));
  const start = Math.max(0, end - visible);
  const sizes = screen.sizes.map(([c, r]) => `${c}x${r}`).join(' → ');
  return (
    <Box flexDirection="column" height={height} overflow="hidden">
      <Text bold wrap="truncate">
        {headerLine(`terminal ${screen.cols}x${screen.rows}`, `${row.verb} ${row.target} [${row.command}]`, [
          `${screen.messages} stdout messages`, `sizes ${sizes}`, ...(scroll > 0 ? [`scrolled up ${scroll}`] : []),
        ], width)}
      </Text>
      {screen.notices.map((n, i) => <Text key={i} color="yellow" wrap="truncate">⚠ {n}</Text>)}
      <Text dimColor wrap="truncate">{'─'.repeat(Math.min(width, screen.cols))}</Text>
      {screen.lines.slice(start, end).map((line, i) => <ScreenLine key={start + i} line={line} />)}
    </Box>
  );
}

/** The size, what ran (cut to leave room), then the counts; what still does not fit goes whole. */
function headerLine(size: string, what: string, counts: string[], width: number): string {
  const room = width - displayWidth([size, ...counts].join(' · ')) - 3;
  return joinFitting([size, ...(room >= 12 ? [cutToWidth(what, room)] : []), ...counts], ' · ', width);
}

const ScreenLine = memo(function ScreenLine({ line }: { line: string }) {
  return <Text wrap="truncate">{line || ' '}</Text>;
});
