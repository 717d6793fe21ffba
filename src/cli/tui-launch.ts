/**
 * Starting the TUI from a command. React and Ink are loaded only here, so commands that never
 * show the TUI (decode, summary, run, cluster) start fast.
 *
 * The TUI's store reads the session model (src/session): over a running proxy it listens to
 * the relay thread's copy of the proxy's one session model (`running.sessions()`, fed with the
 * observer's events and ticks in batches); over a log it is fed through an observer of its
 * own, on the log's own clock (src/session/log-replay.ts).
 */
import type { KubewireEvent } from '../events/types.js';
import { LogReplay } from '../session/log-replay.js';
import { TICK_MS, type SessionListener } from '../session/session-observer.js';
import type { RunningProxy } from './proxy-setup.js';
import { waitForSignal } from './signals.js';

export interface TuiMeta {
  listen?: string;
  kubeconfig?: string;
  log?: string;
  upstream?: string;
  source?: string;
}

export interface LaunchedTui {
  /** The store, for a running proxy's session observer (`running.sessions().add`). */
  readonly listener: SessionListener;
  /** One event read from a log, through the TUI's own session observer. */
  ingest(event: KubewireEvent): void;
  /** The log ended and will not grow: every session settles. */
  finish(): void;
  /** A line of narration in the status bar (the demo tour), and the one that closes it. */
  narrate(line: string): void;
  endNarration(line: string): void;
  waitUntilExit(): Promise<void>;
  close(): void;
}

export async function launchTui(meta: TuiMeta, ringSize?: number): Promise<LaunchedTui> {
  const [{ SessionStore }, { startTui }] = await Promise.all([import('../../ui/store/session-store.js'), import('../../ui/app.js')]);
  const store = new SessionStore(ringSize !== undefined ? { ringSize } : {});
  store.setMeta(meta);
  const handle = startTui({ store });
  let log: LogObserver | undefined;
  return {
    listener: store,
    ingest: (e) => (log ??= new LogObserver(store)).replay.ingest(e),
    finish: () => log?.replay.finish(),
    narrate: (line) => store.narrate(line),
    endNarration: (line) => store.endNarration(line),
    waitUntilExit: () => handle.waitUntilExit(),
    close: () => {
      log?.stop();
      log = undefined;
      handle.unmount();
      store.close();
    },
  };
}

/** A log's own session observer, on the log's own clock (src/session/log-replay.ts). */
class LogObserver {
  readonly replay = new LogReplay();
  private readonly timer: NodeJS.Timeout;

  constructor(listener: SessionListener) {
    this.replay.observer.add(listener);
    this.timer = setInterval(() => this.replay.tickNow(), TICK_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

/** The TUI needs a terminal on both ends. */
export function canShowTui(): boolean {
  return Boolean(process.stdout.isTTY && process.stdin.isTTY);
}

/**
 * The view over a running proxy's sessions, until the user quits or a signal comes; says which.
 * `onStart` gets the view once it shows, to narrate in it.
 */
export async function showLiveTui(running: RunningProxy, kubeconfig: string, onStart?: (view: Pick<LaunchedTui, 'narrate' | 'endNarration'>) => void): Promise<string> {
  const tui = await launchTui({ listen: running.proxy.url, kubeconfig, log: running.log.path, upstream: running.upstream.describe(), source: 'live' });
  const sessions = running.sessions();
  sessions.add(tui.listener);
  onStart?.(tui);
  const reason = await Promise.race([tui.waitUntilExit().then(() => 'quit'), waitForSignal()]);
  sessions.remove(tui.listener);
  tui.close();
  return reason;
}
