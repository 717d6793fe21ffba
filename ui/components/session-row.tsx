/** One line of the session list. Memoised on primitive props: a row re-renders only when one of its cells changed. */
import { memo } from 'react';
import { Text } from 'ink';
import type { RowCells } from '../format/row-format.js';
import type { RowState } from '../store/types.js';

/** The padded cells, plus what decides the row's look. */
export interface SessionRowProps extends RowCells {
  selected: boolean;
  status: RowState | 'header';
  exitCode: number | null;
}

const STATE_COLOUR: Record<RowState, string> = { live: 'cyan', done: 'green', failed: 'red' };

export const SessionRow = memo(function SessionRow(p: SessionRowProps) {
  const header = p.status === 'header';
  // Cells are already padded to their widths; an empty cell is a column the width left out.
  const gap = (cell: string): string => (cell ? ' ' : '');
  return (
    <Text wrap="truncate" inverse={p.selected} bold={header} dimColor={header}>
      {p.selected ? '> ' : '  '}
      {p.time ? <Text dimColor={!header}>{p.time} </Text> : null}
      <Text bold>{p.verb}</Text> {p.target} {p.command} {p.transport}
      <Text color="yellow">{p.fallback}</Text> <Text color={header ? undefined : STATE_COLOUR[p.status as RowState]}>{p.state}</Text>
      {gap(p.duration)}{p.duration}{gap(p.bytes)}{p.bytes} <Text color={p.exitCode ? 'red' : undefined}>{p.exit}</Text>
      {gap(p.findings)}<Text color="magenta">{p.findings}</Text>
    </Text>
  );
});
