/**
 * `kubewire proxy`: serves until SIGINT or SIGTERM, prints the `export KUBECONFIG=…` line, and
 * one line per kubectl command (the TUI takes this place when there is a terminal).
 */
import { join } from 'node:path';
import type { Output } from '../io/output.js';
import { parseListen } from './listen-address.js';
import { startProxy, type ProxyFlags } from './proxy-setup.js';
import { stateDir } from './state-dir.js';
import { waitForSignal } from './signals.js';
import { canShowTui, showLiveTui } from './tui-launch.js';

export interface ProxyOptions extends ProxyFlags {
  listen: string;
  writeKubeconfig?: string;
  tui: boolean;
}

export async function runProxy(opts: ProxyOptions, out: Output, err: Output): Promise<number> {
  const listen = parseListen(opts.listen);
  if (!listen.loopback) err.line(`kubewire: warning: listening on ${listen.host}, not loopback: anyone who can reach it and has the token uses your cluster credentials`);
  const kubeconfig = opts.writeKubeconfig ?? join(stateDir(), `proxy-${process.pid}.kubeconfig`);
  const running = await startProxy(opts, listen, kubeconfig, err);
  out.line(`kubewire proxy listening on ${running.proxy.url}, forwarding to ${running.upstream.describe()}`);
  out.line(opts.audit
    ? `audit log: ${running.log.path} (every byte, hash-chained${opts.audit.keyFile ? ' with HMAC' : ''}${opts.audit.maxSize ? ', rotating' : ''}; --audit-fail ${opts.audit.failMode})`
    : `log: ${running.log.path} (payload ${opts.payload})`);
  out.line('');
  out.line(`  export KUBECONFIG=${kubeconfig}`);
  out.line('');
  if (opts.tui && canShowTui()) {
    await running.shutdown(await showLiveTui(running, kubeconfig));
    out.line(`kubewire proxy stopped; log: ${running.log.path}`);
    return 0;
  }
  // Shutdown settles the sessions still waiting, so their lines come before it returns.
  running.showConsole(out);
  await running.shutdown(await waitForSignal());
  return 0;
}
