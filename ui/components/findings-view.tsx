/** `F`: the session's findings whole (where, why, the fix, the evidence), wrapped and scrolled, never cut. */
import { memo } from 'react';
import { Box, Text } from 'ink';
import type { FindingLine } from '../format/findings-format.js';
import type { SessionRow } from '../store/types.js';

const SEVERITY_COLOUR: Record<string, string> = { error: 'red', warn: 'yellow', warning: 'yellow', info: 'cyan' };

/** Lines left for the findings once the header and the footer are drawn. */
export function findingsLinesHeight(height: number): number {
  return Math.max(1, height - 2);
}

export function FindingsView({ row, lines, count, scroll, height }: { row: SessionRow; lines: readonly FindingLine[]; count: number; scroll: number; height: number }) {
  const visible = findingsLinesHeight(height);
  const top = Math.min(scroll, Math.max(0, lines.length - visible));
  const below = Math.max(0, lines.length - top - visible);
  return (
    <Box flexDirection="column" height={height} overflow="hidden">
      <Text bold wrap="truncate">{`findings · ${row.verb} ${row.target} · ${count === 0 ? 'none' : `${count} finding${count === 1 ? '' : 's'}`}`}</Text>
      {count === 0 ? <Text dimColor>No finding for this session.</Text> : null}
      {lines.slice(top, top + visible).map((l, i) => <FindingText key={top + i} line={l} />)}
      {below > 0 || top > 0 ? <Text dimColor wrap="truncate">{`${top > 0 ? `${top} lines above · ` : ''}${below > 0 ? `${below} more below · ` : ''}j k g G scroll · esc back`}</Text> : null}
    </Box>
  );
}

const FindingText = memo(function FindingText({ line }: { line: FindingLine }) {
  if (line.kind === 'title') return <Text bold color={SEVERITY_COLOUR[line.severity] ?? 'magenta'} wrap="truncate">{line.text}</Text>;
  if (line.kind === 'label') return <Text dimColor bold wrap="truncate">{line.text}</Text>;
  return <Text wrap="truncate">{line.text || ' '}</Text>;
});
