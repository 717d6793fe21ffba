/**
 * Reserved for diagnosis: the rules that will explain why a stream failed report `finding`
 * events, which the store already counts per session. Until they exist this pane only holds
 * its place and lists what arrived.
 */
import { Box, Text } from 'ink';
import type { FindingView } from '../store/types.js';

export function FindingsPane({ findings, width }: { findings: readonly FindingView[]; width: number }) {
  const text = findings.length
    ? findings.map((f) => `[${f.severity}] ${f.title}`).join(' · ')
    : 'none (diagnosis findings will appear here)';
  return (
    <Box flexDirection="column" width={width}>
      <Text bold dimColor wrap="truncate">FINDINGS{findings.length ? ` (${findings.length})` : ''}</Text>
      <Text wrap="truncate" color={findings.length ? 'magenta' : undefined} dimColor={!findings.length}>{text}</Text>
    </Box>
  );
}
