/**
 * The bottom lines. Over a proxy: how to use it (the kubeconfig to export, where it listens),
 * the live counters and where the log is. Over a log: which file, whether it has ended (its
 * `proxy.stop`) or may still grow, and its counters, never a rate or proxy wording. Then,
 * when there is one, what the view just did (a save) or what the tour says. It reads the
 * store on its own, so the counters move even while the view is paused. Counters come before
 * the log path, which is cut at its start; the kubeconfig and a save's path are split over
 * lines rather than cut.
 */
import { Box, Text } from 'ink';
import { cutStartToWidth, cutToWidth, displayWidth, splitToWidth, wrapToWidth } from '../format/display-width.js';
import { clockTime } from '../format/row-format.js';
import { parseTsMillis } from '../../src/events/stamp.js';
import { useStoreSnapshot } from '../hooks/use-store-snapshot.js';
import type { SessionStore } from '../store/session-store.js';
import type { Narration, StoreMeta, StoreSnapshot } from '../store/types.js';

/** What the view itself has to say (where a save went, or why it failed). */
export interface Notice {
  text: string;
  error: boolean;
}

export interface StatusBarProps {
  store: SessionStore;
  /** Events total when the view was paused, to say how many arrived since. */
  pausedAt: number | null;
  width: number;
  notice?: Notice | null;
}

/** How many lines the status bar takes at `width`. */
export function statusBarHeight(snapshot: Pick<StoreSnapshot, 'meta' | 'narration'>, width: number, notice: Notice | null = null): number {
  const { meta } = snapshot;
  const usage = usageLines(meta, width).length;
  const first = usage === 1 && displayWidth(usageLine(meta)) + displayWidth(listenPart(meta)) <= width ? 2 : usage + 2;
  return first + (notice ? noticeLines(notice, width).length : snapshot.narration ? 1 : 0);
}

/** The kubeconfig to export (or the log viewed) is wrapped, never cut: it is there to be copied. At most two lines. */
function usageLines(meta: StoreMeta, width: number): string[] {
  const lines = splitToWidth(usageLine(meta), width);
  return lines.length > 2 ? [lines[0]!, cutStartToWidth(lines.slice(1).join(''), width)] : lines;
}

/** A notice is wrapped, not cut: it holds a path to read. At most three lines. */
const NOTICE_LINES = 3;

function noticeLines(notice: Notice, width: number): string[] {
  const lines = wrapToWidth(notice.text, width);
  return lines.length > NOTICE_LINES ? [...lines.slice(0, NOTICE_LINES - 1), cutToWidth(lines.slice(NOTICE_LINES - 1).join(' '), width)] : lines;
}

function usageLine(meta: StoreMeta): string {
  if (meta.source !== 'live') return `viewing ${meta.source}`;
  return meta.kubeconfig ? `export KUBECONFIG=${meta.kubeconfig}` : 'no client kubeconfig written';
}

function listenPart(meta: StoreMeta): string {
  if (meta.source !== 'live') return `  ${logState(meta)}`;
  return `  listen ${meta.listen ?? '-'}${meta.upstream ? ` → ${meta.upstream}` : ''}`;
}

/** A log has ended when it holds its run's proxy.stop; until then its proxy may still write to it. */
export function logState(meta: StoreMeta): string {
  if (!meta.stopped) return 'no proxy.stop yet: its proxy may still be writing it';
  const at = parseTsMillis(meta.stopped.ts ?? undefined);
  return `log ended${at !== null ? ` at ${clockTime(at)}` : ''}: the proxy stopped (${meta.stopped.reason})`;
}

export function StatusBar({ store, pausedAt, width, notice = null }: StatusBarProps) {
  const { stats, meta, ringSize, narration } = useStoreSnapshot(store);
  const live = meta.source === 'live';
  const split = statusBarHeight({ meta, narration: null }, width) > 2;
  const usage = usageLines(meta, width);
  const listen = listenPart(meta);
  const counters: { text: string; colour?: string }[] = [];
  if (live) counters.push({ text: `${formatRate(stats.eventRate)} ev/s · ` });
  counters.push({ text: `${stats.eventsTotal} events` });
  if (pausedAt !== null) counters.push({ text: ` · +${stats.eventsTotal - pausedAt} since pause`, colour: 'red' });
  counters.push({ text: ` · dropped ${stats.droppedEvents}`, ...(stats.droppedEvents ? { colour: 'red' } : {}) });
  if (stats.backpressure) counters.push({ text: ' · relay paused: log behind', colour: 'red' });
  if (stats.evictedMessages) counters.push({ text: ` · ${stats.evictedMessages} msgs past the rings (${ringSize}/lane, all in the log)`, colour: 'yellow' });
  if (stats.evictedSessions) counters.push({ text: ` · ${stats.evictedSessions} old sessions forgotten`, colour: 'yellow' });
  // Over a log, the file is already named on the first line.
  const logPath = live || (meta.log !== null && meta.log !== meta.source) ? meta.log ?? '(none)' : null;
  const used = counters.reduce((n, c) => n + displayWidth(c.text), 0);
  const room = width - used - ' · log '.length;
  return (
    <Box flexDirection="column" width={width}>
      {usage.map((line, i) => (
        <Text key={i} wrap="truncate">
          <Text bold={live && meta.kubeconfig !== null}>{line}</Text>
          {split ? null : <Text dimColor={live} color={!live && meta.stopped ? 'green' : undefined}>{listen}</Text>}
        </Text>
      ))}
      {split ? <Text wrap="truncate" dimColor={live} color={!live && meta.stopped ? 'green' : undefined}>{listen.trimStart()}</Text> : null}
      <Text wrap="truncate">
        {counters.map((c, i) => <Text key={i} {...(c.colour ? { color: c.colour } : {})}>{c.text}</Text>)}
        {logPath !== null && room > 4 ? <><Text dimColor> · log </Text><Text>{cutStartToWidth(logPath, room)}</Text></> : null}
      </Text>
      {notice
        ? noticeLines(notice, width).map((l, i) => <Text key={i} wrap="truncate" color={notice.error ? 'red' : 'green'}>{l}</Text>)
        : narration ? <NarrationLine narration={narration} /> : null}
    </Box>
  );
}

function NarrationLine({ narration }: { narration: Narration }) {
  const last = narration.lines[narration.lines.length - 1] ?? '';
  return <Text wrap="truncate" color={narration.done ? 'green' : 'cyan'}>{narration.done ? last : `tour ${narration.count}: ${last}`}</Text>;
}

function formatRate(r: number): string {
  if (r >= 10_000) return `${Math.round(r / 1000)}k`;
  if (r >= 100) return String(Math.round(r));
  return r.toFixed(r > 0 && r < 10 ? 1 : 0);
}
