/** The top line: what is listed, what is hidden, and the modes in force. */
import { Box, Text } from 'ink';

export interface TitleBarProps {
  screen: string;
  shown: number;
  total: number;
  restHidden: number;
  filter: string;
  follow: boolean;
  paused: boolean;
  width: number;
}

export function TitleBar(p: TitleBarProps) {
  return (
    <Box width={p.width}>
      <Text wrap="truncate">
        <Text bold color="cyan">kubewire</Text>
        <Text> {p.screen} · {p.shown === p.total ? `${p.total} sessions` : `${p.shown} of ${p.total} sessions`}</Text>
        {p.restHidden > 0 ? <Text dimColor> · {p.restHidden} REST hidden (r shows)</Text> : null}
        {p.filter ? <Text color="yellow"> · filter: {p.filter}</Text> : null}
        {p.follow ? <Text color="green" bold> · FOLLOW</Text> : null}
        {p.paused ? <Text color="red" bold> · PAUSED</Text> : null}
        <Text dimColor> · ? help</Text>
      </Text>
    </Box>
  );
}
