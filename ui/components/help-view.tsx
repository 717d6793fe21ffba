/** `?`: every key, from the same table the bindings use. */
import { Box, Text } from 'ink';
import { HELP } from '../state/key-bindings.js';

export function HelpView({ height, ringSize, log, saveDir }: { height: number; ringSize: number; log: string | null; saveDir: string }) {
  const lines: { section: string; keys: string; text: string }[] = [];
  for (const section of HELP) {
    section.keys.forEach(([keys, text], i) => lines.push({ section: i === 0 ? section.section : '', keys, text }));
  }
  // What is not a key comes last: a short terminal cuts it first.
  lines.push({ section: 'files', keys: 'w  W save to', text: saveDir });
  lines.push({ section: 'memory', keys: `${ringSize} per lane`, text: `older messages are only in the log${log ? `: ${log}` : ''}` });
  return (
    <Box flexDirection="column" height={height} overflow="hidden">
      {lines.slice(0, height).map((l, i) => (
        <Text key={i} wrap="truncate">
          <Text bold color="cyan">{l.section.padEnd(9)}</Text>
          <Text bold>{l.keys.padEnd(23)}</Text> {l.text}
        </Text>
      ))}
    </Box>
  );
}
