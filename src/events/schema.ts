/**
 * The event schema as JSON Schema (`event.schema.json`, draft 2020-12), for validators and
 * tools. The build does not copy JSON into dist, so from dist/src/events the file is read
 * from the package's own src/events; from src/events it sits beside this module.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const CANDIDATES = ['./event.schema.json', '../../../src/events/event.schema.json'];

const file = CANDIDATES.map((p) => fileURLToPath(new URL(p, import.meta.url))).find((p) => existsSync(p));
if (file === undefined) throw new Error(`event.schema.json not found next to ${fileURLToPath(import.meta.url)} or in the package's src/events`);

export const EVENT_SCHEMA = createRequire(import.meta.url)(file) as { readonly $id: string; readonly [key: string]: unknown };
