/**
 * The session's findings: for each (the first two, newest last), its severity, rule and title,
 * then the hop and the fix, on one line each; F shows them whole (findings-view.tsx).
 */
import { Box, Text } from 'ink';
import type { FindingView } from '../store/types.js';

const SHOWN = 2;
const SEVERITY_COLOUR: Record<string, string> = { error: 'red', warn: 'yellow', info: 'cyan' };

/** Lines the pane takes, so the detail view can share its height. */
export function findingsPaneHeight(count: number): number {
  if (count === 0) return 2;
  return 1 + 2 * Math.min(count, SHOWN) + (count > SHOWN ? 1 : 0);
}

export function FindingsPane({ findings, width }: { findings: readonly FindingView[]; width: number }) {
  const shown = findings.slice(0, SHOWN);
  return (
    <Box flexDirection="column" width={width}>
      <Text bold dimColor wrap="truncate">FINDINGS{findings.length ? ` (${findings.length}) · F shows them whole` : ''}</Text>
      {findings.length === 0 ? <Text wrap="truncate" dimColor>none</Text> : null}
      {shown.map((f) => (
        <Box key={f.seq} flexDirection="column">
          <Text wrap="truncate" color={SEVERITY_COLOUR[f.severity] ?? 'magenta'}>{`[${f.severity}] ${f.rule}: ${f.title}`}</Text>
          <Text wrap="truncate" dimColor>{`  ${f.hop ? `${f.hop} · ` : ''}fix: ${f.fix.replace(/\s+/g, ' ')}`}</Text>
        </Box>
      ))}
      {findings.length > SHOWN ? <Text wrap="truncate" dimColor>{`  … ${findings.length - SHOWN} more (F)`}</Text> : null}
    </Box>
  );
}
