import { homedir } from 'node:os';
import { join } from 'node:path';

/** Where kubewire keeps files it writes for the user: $XDG_STATE_HOME/kubewire or ~/.local/state/kubewire. */
export function stateDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env['XDG_STATE_HOME'] || join(homedir(), '.local', 'state');
  return join(base, 'kubewire');
}
