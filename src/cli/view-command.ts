/**
 * `kubewire view FILE`: the TUI over a recorded log, or one that is still being written,
 * followed as `tail -f` follows it. Without a terminal it prints the console lines a proxy prints:
 * one per kubectl command.
 */
import { access, constants, stat } from 'node:fs/promises';
import { LogReplay } from '../session/log-replay.js';
import { TICK_MS } from '../session/session-observer.js';
import { ConsoleSink } from '../sinks/console-sink.js';
import { followJsonl } from '../sinks/jsonl-follow.js';
import { CliError, describeFsError } from '../io/errors.js';
import type { Output } from '../io/output.js';
import { waitForSignal } from './signals.js';
import { assertKubewireLog } from '../sinks/log-head.js';
import { canShowTui, launchTui } from './tui-launch.js';

export interface ViewOptions {
  file: string;
  follow: boolean;
  tui: boolean;
  ringSize?: number;
}

export async function runView(opts: ViewOptions, out: Output, err: Output): Promise<number> {
  try {
    await access(opts.file, constants.R_OK);
    if ((await stat(opts.file)).isDirectory()) throw Object.assign(new Error('directory'), { code: 'EISDIR' });
  } catch (e) {
    throw new CliError('KW_ERR_LOG_UNREADABLE', `cannot read ${opts.file}: ${describeFsError(e)}`);
  }
  await assertKubewireLog(opts.file);
  let bad = 0;
  const onBadLine = (n: number): void => {
    if (++bad <= 3) err.line(`kubewire: ${opts.file}:${n}: not an event, skipped`);
  };
  if (opts.tui && canShowTui()) {
    const tui = await launchTui({ log: opts.file, source: opts.file }, opts.ringSize);
    const follower = followJsonl(opts.file, (e) => tui.ingest(e), { follow: opts.follow, onBadLine: () => bad++ });
    // A log read to its end, or one that ended with proxy.stop, settles at once; a followed one
    // settles as it goes quiet.
    follower.done.then(() => {
      if (!opts.follow || follower.finished) tui.finish();
    }, () => {});
    await tui.waitUntilExit();
    follower.stop();
    tui.close();
    return 0;
  }
  // No terminal: replay the log through the console lines a proxy would have printed, its
  // sessions settling by the log's own clock.
  const replay = new LogReplay();
  replay.observer.add(new ConsoleSink(out));
  const follower = followJsonl(opts.file, (e) => replay.ingest(e), { follow: opts.follow, onBadLine });
  const ticker = setInterval(() => replay.tickNow(), TICK_MS);
  // Following ends with Ctrl-C; the sessions still waiting get their lines first.
  if (opts.follow) void waitForSignal().then(() => follower.stop());
  try {
    await follower.done;
  } finally {
    clearInterval(ticker);
  }
  replay.finish();
  return 0;
}
