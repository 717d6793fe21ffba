/**
 * The bottom lines: how to use the proxy (the kubeconfig to export, where it listens), where the
 * log is, and the live counters. It reads the store on its own, so the counters move even while
 * the view is paused. Two lines when the terminal is wide enough, else three.
 */
import { Box, Text } from 'ink';
import { useStoreSnapshot } from '../hooks/use-store-snapshot.js';
import type { SessionStore } from '../store/session-store.js';
import type { StoreMeta } from '../store/types.js';

export interface StatusBarProps {
  store: SessionStore;
  /** Events total when the view was paused, to say how many arrived since. */
  pausedAt: number | null;
  width: number;
}

/** How many lines the status bar takes at `width`. */
export function statusBarHeight(meta: StoreMeta, width: number): 2 | 3 {
  return usageLine(meta).length + listenPart(meta).length <= width ? 2 : 3;
}

function usageLine(meta: StoreMeta): string {
  if (meta.source !== 'live') return `viewing ${meta.source}`;
  return meta.kubeconfig ? `export KUBECONFIG=${meta.kubeconfig}` : 'no client kubeconfig written';
}

function listenPart(meta: StoreMeta): string {
  if (meta.source !== 'live') return '';
  return `  listen ${meta.listen ?? '-'}${meta.upstream ? ` → ${meta.upstream}` : ''}`;
}

export function StatusBar({ store, pausedAt, width }: StatusBarProps) {
  const { stats, meta, ringSize } = useStoreSnapshot(store);
  const live = meta.source === 'live';
  const split = statusBarHeight(meta, width) === 3;
  const listen = listenPart(meta);
  return (
    <Box flexDirection="column" width={width}>
      <Text wrap="truncate">
        <Text bold={live && meta.kubeconfig !== null}>{usageLine(meta)}</Text>
        {split ? null : <Text dimColor>{listen}</Text>}
      </Text>
      {split ? <Text wrap="truncate" dimColor>{listen.trimStart()}</Text> : null}
      <Text wrap="truncate">
        <Text>{formatRate(stats.eventRate)} ev/s</Text>
        {pausedAt !== null ? <Text color="red"> · +{stats.eventsTotal - pausedAt} since pause</Text> : null}
        <Text color={stats.droppedEvents ? 'red' : undefined}> · dropped {stats.droppedEvents}</Text>
        {stats.backpressure ? <Text color="red"> · relay paused: log behind</Text> : null}
        <Text dimColor> · log </Text><Text>{meta.log ?? '(none)'}</Text>
        <Text dimColor> · {stats.eventsTotal} events</Text>
        {stats.evictedMessages ? <Text color="yellow"> · {stats.evictedMessages} msgs past the rings ({ringSize}/lane, all in the log)</Text> : null}
        {stats.evictedSessions ? <Text color="yellow"> · {stats.evictedSessions} old sessions forgotten</Text> : null}
      </Text>
    </Box>
  );
}

function formatRate(r: number): string {
  if (r >= 10_000) return `${Math.round(r / 1000)}k`;
  if (r >= 100) return String(Math.round(r));
  return r.toFixed(r > 0 && r < 10 ? 1 : 0);
}
