/** One tab per stream of the session; the shown one highlighted, with its message count. */
import { Text } from 'ink';
import type { MessageFormat } from '../format/message-format.js';
import type { LaneView } from '../store/types.js';

export function LaneTabs({ lanes, selected, format }: { lanes: readonly LaneView[]; selected: number; format: MessageFormat }) {
  if (lanes.length === 0) return <Text dimColor wrap="truncate">LANES none: no stream data in this session</Text>;
  return (
    <Text wrap="truncate">
      <Text bold dimColor>LANES </Text>
      {lanes.map((l, i) => (
        <Text key={l.key}>
          <Text inverse={i === selected} bold={i === selected}>{` ${l.label} ${l.total} `}</Text>
          {i < lanes.length - 1 ? ' ' : ''}
        </Text>
      ))}
      <Text dimColor>  tab/h/l · view </Text>
      <Text bold>{format === 'json' ? 'JSON' : format}</Text>
      <Text dimColor> (t x J) · s terminal</Text>
    </Text>
  );
}
