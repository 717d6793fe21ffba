/**
 * Starting the TUI from a command. React and Ink are loaded only here, so commands that never
 * show the TUI (decode, summary, run, cluster) start fast.
 */
import type { KubewireEvent } from '../events/types.js';
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
  ingest(event: KubewireEvent): void;
  waitUntilExit(): Promise<void>;
  close(): void;
}

export async function launchTui(meta: TuiMeta, ringSize?: number): Promise<LaunchedTui> {
  const [{ SessionStore }, { startTui }] = await Promise.all([import('../../ui/store/session-store.js'), import('../../ui/app.js')]);
  const store = new SessionStore(ringSize !== undefined ? { ringSize } : {});
  store.setMeta(meta);
  const handle = startTui({ store });
  return {
    ingest: (e) => store.ingest(e),
    waitUntilExit: () => handle.waitUntilExit(),
    close: () => {
      handle.unmount();
      store.close();
    },
  };
}

/** The TUI needs a terminal on both ends. */
export function canShowTui(): boolean {
  return Boolean(process.stdout.isTTY && process.stdin.isTTY);
}

/** The view over a running proxy's events, until the user quits or a signal comes; says which. */
export async function showLiveTui(running: RunningProxy, kubeconfig: string, onStart?: () => void): Promise<string> {
  const tui = await launchTui({ listen: running.proxy.url, kubeconfig, log: running.log.path, upstream: running.upstream.describe(), source: 'live' });
  const unsubscribe = running.bus.subscribe((e) => tui.ingest(e));
  onStart?.();
  const reason = await Promise.race([tui.waitUntilExit().then(() => 'quit'), waitForSignal()]);
  unsubscribe();
  tui.close();
  return reason;
}
