/** One lane message on one line; memoised on primitives so scrolling re-renders only what changed. */
import { memo } from 'react';
import { Text } from 'ink';

export interface MessageRowProps {
  selected: boolean;
  seq: number;
  time: string;
  arrow: string;
  size: string;
  tag: string;
  text: string;
  truncated: boolean;
}

export const MessageRow = memo(function MessageRow(p: MessageRowProps) {
  return (
    <Text wrap="truncate" inverse={p.selected}>
      {p.selected ? '> ' : '  '}<Text dimColor>{`#${p.seq}`.padEnd(7)}</Text> <Text dimColor>{p.time.padEnd(9)}</Text> <Text color={p.arrow === '↑' ? 'cyan' : 'green'}>{p.arrow}</Text>{' '}
      {p.size.padStart(6)} {p.tag ? <Text color="yellow">{p.tag} </Text> : null}{p.text}{p.truncated ? <Text color="yellow"> ✂</Text> : null}
    </Text>
  );
});
