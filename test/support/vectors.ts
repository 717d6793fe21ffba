/**
 * The real-kubectl vectors in test/fixtures/vectors (see its README): captured bytes that ship
 * with the repository, so every test runs from a clone anywhere. KUBEWIRE_VECTORS points the
 * tests at another set of captures.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ConnectionSummary } from '../../src/events/types.js';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const VECTORS_DIR = process.env['KUBEWIRE_VECTORS'] ?? resolve(REPO_ROOT, 'test', 'fixtures', 'vectors');

export interface Vector {
  name: string;
  c2s: Buffer;
  s2c: Buffer;
  expectedSummary: ConnectionSummary;
}

export function vectorsAvailable(): boolean {
  const ok = existsSync(VECTORS_DIR) && readdirSync(VECTORS_DIR).some((f) => f.endsWith('.json'));
  if (!ok && process.env['CI'] === 'true') throw new Error(`test vectors not found at ${VECTORS_DIR} (set KUBEWIRE_VECTORS)`);
  if (!ok) console.warn(`skipping vector tests: no vectors at ${VECTORS_DIR} (set KUBEWIRE_VECTORS to a directory of captures)`);
  return ok;
}

export function vectorNames(): string[] {
  return readdirSync(VECTORS_DIR).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5)).sort();
}

export function loadVector(name: string): Vector {
  const meta = JSON.parse(readFileSync(join(VECTORS_DIR, `${name}.json`), 'utf8')) as { expectedSummary: ConnectionSummary };
  return {
    name,
    c2s: readFileSync(join(VECTORS_DIR, `${name}.c2s`)),
    s2c: readFileSync(join(VECTORS_DIR, `${name}.s2c`)),
    expectedSummary: meta.expectedSummary,
  };
}
