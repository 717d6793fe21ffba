/**
 * Starting the TUI from a command. React and Ink are loaded only here, so commands that never
 * show the TUI (decode, summary, run, cluster) start fast.
 */
import type { KubewireEvent } from '../events/types.js';

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
