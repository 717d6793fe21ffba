/**
 * `kubewire demo` (and `npm start`): the demo cluster, kubewire in front of it, and the TUI,
 * with the kubectl lines to try from another terminal. `--script` also runs a short tour with
 * the installed kubectl so the view fills itself; the view's status bar says what the tour
 * runs and when it is done. Without a terminal it prints one line per kubectl command instead,
 * and with `--script` it ends after the tour.
 */
import { accessSync, constants } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { tmpdir } from 'node:os';
import type { PayloadMode } from '../codec/decode-context.js';
import { DemoCluster } from '../demo/demo-cluster.js';
import { CliError } from '../io/errors.js';
import type { Output } from '../io/output.js';
import { runTour } from './demo-tour.js';
import { parseListen } from './listen-address.js';
import { startProxy } from './proxy-setup.js';
import { waitForSignal } from './signals.js';
import { stateDir } from './state-dir.js';
import { canShowTui, showLiveTui } from './tui-launch.js';

export interface DemoOptions {
  script: boolean;
  kubectl?: string;
  tui: boolean;
  payload: PayloadMode;
  log?: string;
  gateway: string[];
}

export async function runDemo(opts: DemoOptions, out: Output, err: Output): Promise<number> {
  const kubectl = opts.script ? opts.kubectl ?? findOnPath('kubectl') ?? null : null;
  if (opts.kubectl) assertExecutable(opts.kubectl);
  if (opts.script && !kubectl) err.line('kubewire: no kubectl on PATH, so no tour (pass --kubectl /path/to/kubectl); the demo runs without it');
  const dir = await mkdtemp(join(tmpdir(), 'kubewire-demo-run-'));
  const cluster = await DemoCluster.start({ gateway: opts.gateway, kubeconfigPath: join(dir, 'cluster.kubeconfig') });
  const kubeconfig = join(stateDir(), `demo-${process.pid}.kubeconfig`);
  let running;
  try {
    running = await startProxy({ kubeconfig: join(dir, 'cluster.kubeconfig'), payload: opts.payload, ...(opts.log ? { log: opts.log } : {}) }, parseListen('127.0.0.1:0'), kubeconfig, err);
  } catch (e) {
    await cluster.stop();
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
  const intro = [
    `kubewire demo: a demo cluster at ${cluster.url}, kubewire in front of it at ${running.proxy.url}`,
    `log: ${running.log.path}`,
    '',
    'Try, in another terminal:',
    `  export KUBECONFIG=${kubeconfig}`,
    '  kubectl get pods',
    '  kubectl exec web -c app -- sh -c "echo hello; exit 3"',
    '  kubectl exec -it web -c app -- sh',
    '  kubectl cp ./some-file web:/tmp/some-file -c app',
    '  kubectl port-forward pod/web 8080:80',
    '  kubectl attach -it worker',
    '',
  ];
  for (const line of intro) out.line(line);

  const useTui = opts.tui && canShowTui();
  try {
    if (useTui) {
      // The tour narrates in the view's status bar and says when it is done.
      await showLiveTui(running, kubeconfig, (view) => {
        if (!kubectl) return;
        void runTour({ kubectl, kubeconfig, cluster, say: (line) => view.narrate(line) }).then(
          () => view.endNarration('tour done: enter opens a session, ? lists the keys; or run kubectl yourself'),
          (e: unknown) => view.endNarration(`the tour stopped: ${e instanceof Error ? e.message : String(e)}`),
        );
      });
      for (const line of intro.slice(0, 2)) out.line(line);
    } else {
      // The shutdown below settles the sessions still waiting, so every line is out before the demo ends.
      running.showConsole(out);
      if (kubectl) {
        await runTour({ kubectl, kubeconfig, cluster, say: (l) => out.line(`tour: ${l}`) });
      } else {
        out.line('Press Ctrl-C to stop.');
        await waitForSignal();
      }
    }
  } finally {
    await running.shutdown('demo stopped');
    await cluster.stop();
    await rm(dir, { recursive: true, force: true });
    await rm(kubeconfig, { force: true });
  }
  return 0;
}

function assertExecutable(path: string): void {
  try {
    accessSync(path, constants.X_OK);
  } catch {
    throw new CliError('KW_ERR_NO_KUBECTL', `--kubectl ${path}: not an executable file`);
  }
}

function findOnPath(name: string): string | undefined {
  for (const d of (process.env['PATH'] ?? '').split(delimiter)) {
    if (!d) continue;
    const p = join(d, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // keep looking
    }
  }
  return undefined;
}
