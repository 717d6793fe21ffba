/**
 * The `/` filter: whitespace-separated terms that must all match. A bare word matches the
 * verb, namespace, pod, container, command or transport of a row, or text inside the
 * session's recorded payloads; a prefixed term narrows it:
 *
 *   pod:web  ns:default  c:app  verb:exec  state:failed  cmd:tar  text:password
 *
 * Matching is case-insensitive and by substring. Payload text is searched by the store, over
 * the bytes its rings kept (see Lane.searchText); this module only says what to search for.
 */
import type { SessionRow } from './types.js';

export type FilterField = 'any' | 'pod' | 'ns' | 'container' | 'verb' | 'state' | 'cmd' | 'text';

export interface FilterTerm {
  field: FilterField;
  /** Lower-cased. */
  value: string;
}

const PREFIXES: Record<string, FilterField> = {
  pod: 'pod', ns: 'ns', namespace: 'ns', c: 'container', container: 'container', verb: 'verb', state: 'state', is: 'state',
  cmd: 'cmd', command: 'cmd', text: 'text', payload: 'text',
};

export function parseFilter(query: string): FilterTerm[] {
  const terms: FilterTerm[] = [];
  for (const word of query.trim().split(/\s+/)) {
    if (!word) continue;
    const colon = word.indexOf(':');
    const field = colon > 0 ? PREFIXES[word.slice(0, colon).toLowerCase()] : undefined;
    const value = (field ? word.slice(colon + 1) : word).toLowerCase();
    if (value) terms.push({ field: field ?? 'any', value });
  }
  return terms;
}

/** Does `row` match `term` by its own fields? (`text` terms never do: they are payload-only.) */
export function rowFieldsMatch(row: SessionRow, term: FilterTerm): boolean {
  const v = term.value;
  const has = (s: string | null): boolean => s !== null && s.toLowerCase().includes(v);
  switch (term.field) {
    case 'pod': return has(row.pod);
    case 'ns': return has(row.namespace);
    case 'container': return has(row.container);
    case 'verb': return has(row.verb);
    case 'state': return has(row.state);
    case 'cmd': return has(row.command) || has(row.kubectlCommand);
    case 'text': return false;
    case 'any':
      return has(row.verb) || has(row.target) || has(row.command) || has(row.kubectlCommand) || has(row.transport) || has(row.protocol) || has(row.id);
  }
}

/**
 * The rows the list shows: REST rows only when `showRest`, then every term. `payloadContains`
 * answers for `text` terms and, when the fields do not match, for bare words.
 */
export function filterRows(
  rows: readonly SessionRow[],
  terms: readonly FilterTerm[],
  showRest: boolean,
  payloadContains: (sessionId: string, term: string) => boolean,
): SessionRow[] {
  const out: SessionRow[] = [];
  for (const row of rows) {
    if (row.rest && !showRest) continue;
    let ok = true;
    for (const t of terms) {
      const fields = rowFieldsMatch(row, t);
      if (fields) continue;
      if ((t.field === 'text' || t.field === 'any') && payloadContains(row.id, t.value)) continue;
      ok = false;
      break;
    }
    if (ok) out.push(row);
  }
  return out;
}
