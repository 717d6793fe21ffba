/** The sessions, one row per kubectl command, windowed to the height it is given. */
import { useMemo } from 'react';
import { Box, Text } from 'ink';
import { columnWidths, headerCells, rowCells } from '../format/row-format.js';
import { useScrollWindow } from '../hooks/use-scroll-window.js';
import type { SessionRow as Row } from '../store/types.js';
import { SessionRow } from './session-row.js';

export interface SessionListProps {
  rows: readonly Row[];
  selected: number;
  width: number;
  height: number;
  /** Said when there is no row: why, and what to do. */
  emptyHint: string;
}

export function SessionList({ rows, selected, width, height, emptyHint }: SessionListProps) {
  const widths = useMemo(() => columnWidths(width, rows), [width, rows]);
  const header = useMemo(() => headerCells(widths), [widths]);
  const windowHeight = Math.max(1, height - 1);
  const top = useScrollWindow(selected, rows.length, windowHeight);
  const visible = rows.slice(top, top + windowHeight);
  return (
    <Box flexDirection="column" height={height} overflow="hidden">
      <SessionRow selected={false} {...header} status="header" exitCode={null} />
      {visible.map((row, i) => (
        <SessionRow key={row.id} selected={top + i === selected} {...rowCells(row, widths)} status={row.state} exitCode={row.exitCode} />
      ))}
      {rows.length === 0 ? <Text dimColor wrap="truncate">{emptyHint}</Text> : null}
    </Box>
  );
}
