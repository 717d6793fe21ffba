/**
 * The kubewire TUI: the sessions list, a session's detail, its rebuilt terminal, its findings
 * in full, help, and the status bar. Live data comes from a SessionStore outside React
 * (store/session-store.ts) through snapshots published at most 20 times a second; this
 * component only lays them out, maps keys to view state (state/key-bindings.ts) and runs the
 * one action a key asks for beside that: saving a message or a stream (save/save-file.ts).
 * Everything drawn fits in the terminal's height, and `startTui` draws it on the alternate
 * screen, so the user's scrollback is left alone.
 */
import './ink-env/hide-ci.js';
import { useCallback, useMemo, useState } from 'react';
import { Box, render, Text, useApp } from 'ink';
import { FilterLine } from './components/filter-line.js';
import { FindingsView, findingsLinesHeight } from './components/findings-view.js';
import { HelpView } from './components/help-view.js';
import { SessionDetailView } from './components/session-detail.js';
import { SessionList } from './components/session-list.js';
import { StatusBar, statusBarHeight, type Notice } from './components/status-bar.js';
import { TerminalView, terminalLinesHeight } from './components/terminal-view.js';
import { TitleBar } from './components/title-bar.js';
import { findingLines } from './format/findings-format.js';
import { useSessionDetail } from './hooks/use-session-detail.js';
import { useStoreSnapshot } from './hooks/use-store-snapshot.js';
import { useTerminalScreen } from './hooks/use-terminal-screen.js';
import { useTerminalSize } from './hooks/use-terminal-size.js';
import { useViewKeys } from './hooks/use-view-keys.js';
import { defaultSaveDir, saveMessage, saveStream, tildePath } from './save/save-file.js';
import type { KeyAction, KeyContext } from './state/key-bindings.js';
import {
  activeFilter, initialViewState, selectedLaneIndex, selectedMessageIndex, selectedRowIndex, type ViewState,
} from './state/view-state.js';
import type { SessionStore } from './store/session-store.js';
import type { StoreMeta } from './store/types.js';
import './ink-env/restore-ci.js';

/** The title line, and one spare so Ink never fills the screen (it would clear it on every frame). */
const TITLE_AND_SPARE = 2;

export interface AppProps {
  store: SessionStore;
  /** Called when the user asks to quit (q, ctrl-c); the app then exits. */
  onQuit?: () => void;
  /** View state to start from (tests). */
  initialView?: Partial<ViewState>;
  /** Where w and W save; defaultSaveDir() unless given. */
  saveDir?: string;
}

export function App({ store, onQuit, initialView, saveDir }: AppProps) {
  const { exit } = useApp();
  const { columns, rows: terminalRows } = useTerminalSize();
  const [view, setView] = useState<ViewState>(() => ({ ...initialViewState, ...initialView }));
  const [notice, setNotice] = useState<Notice | null>(null);
  const snapshot = useStoreSnapshot(store, view.paused);
  const filter = activeFilter(view);
  const rows = useMemo(() => store.filterRows(filter, view.showRest, snapshot), [store, filter, view.showRest, snapshot]);
  const selected = selectedRowIndex(view, rows);
  const detailId = view.screen === 'list' ? null : view.detailId;
  const detail = useSessionDetail(store, detailId, snapshot);
  const laneIndex = detail ? selectedLaneIndex(view, detail.lanes) : -1;
  const lane = detail && laneIndex >= 0 ? detail.lanes[laneIndex] ?? null : null;
  const messageSeqs = useMemo(() => lane?.messages.map((m) => m.seq) ?? [], [lane]);
  const messageIndex = selectedMessageIndex(view, messageSeqs);
  const screen = useTerminalScreen(view.screen === 'terminal' && detail ? detail.terminal : null);

  const width = columns;
  const bodyHeight = Math.max(6, terminalRows - TITLE_AND_SPARE - statusBarHeight(snapshot, width, notice));
  const listHeight = bodyHeight - (view.editingFilter ? 1 : 0);
  const terminalVisible = terminalLinesHeight(bodyHeight, screen);
  const findings = useMemo(
    () => (view.screen === 'findings' && detail ? findingLines(detail.findings, Math.max(20, width - 1)) : []),
    [view.screen, detail, width],
  );

  const ctx: KeyContext = {
    rowIds: rows.map((r) => r.id),
    laneKeys: detail?.lanes.map((l) => l.key) ?? [],
    messageSeqs,
    page: Math.max(1, bodyHeight - 4),
    terminalScrollMax: Math.max(0, (screen?.lines.length ?? 0) - terminalVisible),
    findingsScrollMax: Math.max(0, findings.length - findingsLinesHeight(bodyHeight)),
  };
  const quit = useCallback(() => {
    onQuit?.();
    exit();
  }, [onQuit, exit]);
  // What a save said stays until the next key changes the view.
  const changeView = useCallback((v: ViewState) => {
    setNotice(null);
    setView(v);
  }, []);
  const message = lane && messageIndex >= 0 ? lane.messages[messageIndex] ?? null : null;
  const act = useCallback((a: KeyAction) => {
    if (a.action !== 'save' || !detail) return;
    if (!lane) {
      setNotice({ text: 'nothing to save: this session has no stream data', error: true });
      return;
    }
    const dir = saveDir ?? defaultSaveDir();
    if (a.what === 'message' && !message) {
      setNotice({ text: `nothing to save: no message selected in ${lane.label}`, error: true });
      return;
    }
    const saving = a.what === 'message' ? saveMessage(dir, detail.row.id, lane, message!) : saveStream(dir, detail.row.id, lane);
    void saving.then((r) => setNotice({ text: r.text, error: r.error }));
  }, [detail, lane, message, saveDir]);
  useViewKeys(view, changeView, ctx, quit, act);

  const hiddenRest = view.showRest ? 0 : snapshot.restCount;
  let body;
  if (view.help) {
    body = <HelpView height={bodyHeight} ringSize={snapshot.ringSize} log={snapshot.meta.log} saveDir={tildePath(saveDir ?? defaultSaveDir())} />;
  } else if (view.screen === 'list') {
    body = (
      <>
        {view.editingFilter ? <FilterLine draft={view.filterDraft} /> : null}
        <SessionList rows={rows} selected={selected} width={width} height={listHeight} emptyHint={emptyHint(snapshot.rows.length, hiddenRest, filter, snapshot.meta)} />
      </>
    );
  } else if (!detail) {
    body = (
      <Box height={bodyHeight} flexDirection="column">
        <Text color="yellow">This session is no longer in memory (more than the store keeps); it is in the log{snapshot.meta.log ? `: ${snapshot.meta.log}` : ''}.</Text>
        <Text dimColor>esc goes back</Text>
      </Box>
    );
  } else if (view.screen === 'findings') {
    body = <FindingsView row={detail.row} lines={findings} count={detail.findings.length} scroll={view.findingsScroll} height={bodyHeight} />;
  } else if (view.screen === 'detail') {
    body = <SessionDetailView detail={detail} laneIndex={laneIndex} messageIndex={messageIndex} format={view.format} width={width} height={bodyHeight} />;
  } else {
    body = <TerminalView row={detail.row} screen={screen} scroll={view.terminalScroll} width={width} height={bodyHeight} />;
  }

  return (
    <Box flexDirection="column" width={width}>
      <TitleBar
        screen={view.help ? 'help' : view.screen === 'list' ? 'sessions' : view.screen === 'detail' ? 'session' : view.screen}
        shown={rows.length}
        total={snapshot.rows.length - hiddenRest}
        restHidden={hiddenRest}
        filter={filter}
        follow={view.follow}
        paused={view.paused}
        width={width}
      />
      {body}
      <StatusBar store={store} pausedAt={view.paused ? snapshot.stats.eventsTotal : null} width={width} notice={notice} />
    </Box>
  );
}

function emptyHint(total: number, hiddenRest: number, filter: string, meta: StoreMeta): string {
  if (total === 0) {
    if (meta.source === 'live') return 'No kubectl commands yet. Run kubectl with the KUBECONFIG below; each command shows up here as it starts.';
    return meta.stopped ? 'This log has ended, and no kubectl command went through the proxy that wrote it.' : 'No kubectl commands in this log (it has no proxy.stop: its proxy may still be writing it).';
  }
  if (filter) return `Nothing matches "${filter}" (esc clears the filter).`;
  if (hiddenRest > 0) return `Only plain REST requests so far (${hiddenRest}); r shows them.`;
  return 'Nothing to show.';
}

export interface TuiHandle {
  waitUntilExit(): Promise<void>;
  unmount(): void;
}

const ENTER_ALT_SCREEN = '\x1b[?1049h';
const LEAVE_ALT_SCREEN = '\x1b[?1049l';

/**
 * Draws the TUI until the user quits (then `onQuit` is called, after the screen was given
 * back) or `unmount` is called. Ctrl-C is a key here, not a signal: the terminal is in raw mode.
 */
export function startTui(options: { store: SessionStore; stdin?: NodeJS.ReadStream; stdout?: NodeJS.WriteStream; onQuit?: () => void }): TuiHandle {
  const stdout = options.stdout ?? process.stdout;
  const stdin = options.stdin ?? process.stdin;
  const alternate = Boolean(stdout.isTTY);
  let restored = !alternate;
  const restore = (): void => {
    if (restored) return;
    restored = true;
    stdout.write(LEAVE_ALT_SCREEN);
  };
  if (alternate) stdout.write(ENTER_ALT_SCREEN);
  // Whatever ends the process, the user gets their screen back.
  process.once('exit', restore);
  let quitRequested = false;
  const instance = render(<App store={options.store} onQuit={() => (quitRequested = true)} />, {
    stdout,
    stdin,
    exitOnCtrlC: false,
    // kubewire writes through its own outputs, never console.*; and patching breaks under test runners.
    patchConsole: false,
  });
  const finish = (): void => {
    restore();
    process.off('exit', restore);
    if (quitRequested) options.onQuit?.();
  };
  const exited = instance.waitUntilExit().then(
    () => finish(),
    (e: unknown) => {
      finish();
      throw e;
    },
  );
  return {
    waitUntilExit: () => exited,
    unmount: () => {
      instance.unmount();
      restore();
    },
  };
}
