/**
 * Peers that the machine image does not ship, cached by `scripts/fetch-tools` (which `.ci/run`
 * calls): kubectl 1.34 and helm. The cache rule is the script's own.
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export type FetchedTool = 'kubectl' | 'helm';

export function fetchedToolPath(tool: FetchedTool): string {
  const cache = process.env['KUBEWIRE_TOOLS_CACHE'] ?? join(homedir(), '.cache', 'kubewire-tools');
  return join(cache, 'kubectl-1.34', 'layer', tool, tool);
}

/** The tool's path, or null after a clear skip message; under CI a missing tool fails. */
export function fetchedTool(tool: FetchedTool): string | null {
  const path = fetchedToolPath(tool);
  if (existsSync(path)) return path;
  const msg = `${tool} not found at ${path} (run scripts/fetch-tools ${tool})`;
  if (process.env['CI'] === 'true') throw new Error(msg);
  console.warn(`skipping tests that need ${msg}`);
  return null;
}
