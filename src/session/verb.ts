/**
 * What kind of kubectl command a session is. `Kubectl-Command` (kubectl 1.24+ sends it on every
 * request: `kubectl cp`, `kubectl logs`) says it best; without it, the requests do.
 *
 * `kubectl cp` is an exec of `tar` (and first `test -d DEST` to probe the destination), so by
 * its requests alone it looks like exec; the header, or that command line, tells them apart.
 * `logs -f` and `get -w` are streams over plain GETs (`follow=true`, `watch=true`).
 */
import type { K8sRequestInfo } from '../events/types.js';
import { isTrue, splitTarget } from '../codec/k8s-request.js';

export type SessionVerb = 'exec' | 'cp' | 'attach' | 'port-forward' | 'logs' | 'watch' | 'rest';

const VERB_OF_COMMAND: Record<string, SessionVerb> = {
  exec: 'exec', attach: 'attach', cp: 'cp', 'port-forward': 'port-forward', logs: 'logs', log: 'logs',
};

/** The subcommand of a `Kubectl-Command` header (`kubectl cp` → `cp`), or null. */
export function commandWord(kubectlCommand: string | null): string | null {
  const word = kubectlCommand?.trim().split(/\s+/)[1];
  return word ?? null;
}

/** kubectl cp's destination probe (`test -d DEST`), which may exit 1 on a session that succeeds. */
export function isCopyProbe(command: readonly string[]): boolean {
  return command[0] === 'test' && command[1] === '-d';
}

/** A remote command that is really `kubectl cp`. */
export function isCopy(command: readonly string[], kubectlCommand: string | null): boolean {
  if (kubectlCommand !== null) return commandWord(kubectlCommand) === 'cp';
  return command[0] === 'tar' || isCopyProbe(command);
}

/** A plain GET that streams: `watch=true` (get -w) or `follow=true` (logs -f). */
export function streamingQuery(target: string | null | undefined): 'watch' | 'follow' | null {
  if (!target) return null;
  const { query } = splitTarget(target);
  if (isTrue(query.get('watch'))) return 'watch';
  if (isTrue(query.get('follow'))) return 'follow';
  return null;
}

/** The verb of a session from its stream's request (if any) and its header. */
export function verbOf(stream: K8sRequestInfo | null, kubectlCommand: string | null, sawLog: boolean, sawWatch: boolean): SessionVerb {
  switch (stream?.operation) {
    case 'exec': return isCopy(stream.command, kubectlCommand) ? 'cp' : 'exec';
    case 'attach': return 'attach';
    case 'portforward': return 'port-forward';
    case 'log': return 'logs';
    default: break;
  }
  if (sawLog) return 'logs';
  const word = commandWord(kubectlCommand);
  if (word === 'get' && sawWatch) return 'watch';
  // No stream (the pod GET failed, or the upgrade never came): kubectl still says what it was doing.
  if (word !== null && VERB_OF_COMMAND[word]) return VERB_OF_COMMAND[word]!;
  return sawWatch ? 'watch' : 'rest';
}
