/**
 * The observer's worker thread (node:worker_threads): takes its configuration from
 * `workerData`, opens the log, says `ready` (or `fatal`), then handles the relay's messages in
 * the order they came, one at a time. Started by worker-observer.ts.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { CliError } from '../io/errors.js';
import type { FromObserver, ObserverConfig, ToObserver } from './observer-messages.js';
import { ObserverCore } from './observer-core.js';

const port = parentPort!;
const post = (m: FromObserver): void => port.postMessage(m);

try {
  const { core, logPath } = await ObserverCore.open(workerData as ObserverConfig, post);
  // Serial: a message waits until the one before it (an audit start, a shutdown) is done.
  let queue = Promise.resolve();
  port.on('message', (m: ToObserver) => {
    queue = queue.then(() => core.handle(m));
  });
  post({ t: 'ready', logPath });
} catch (e) {
  const err = e instanceof CliError ? e : new CliError('KW_ERR_OBSERVER', `the observer could not start: ${(e as Error).message}`, 1);
  post({ t: 'fatal', code: err.code, message: err.message, exitCode: err.exitCode });
}
