/** The events of a `--translate` run's log, with the fields the translate tests read. */
import { readFileSync } from 'node:fs';

export interface LoggedEvent {
  type: string;
  conn?: string;
  session?: string;
  translated?: { from: string; to: string; leg: string; peer: string };
  status?: number;
  protocol?: string | null;
}

export function loggedEvents(log: string): LoggedEvent[] {
  return readFileSync(log, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as LoggedEvent);
}
