/**
 * Reading a JSONL log written by a running or stopped kubewire: every line must parse and
 * validate against `src/events/event.schema.json` (Ajv, draft 2020-12), as the event-schema
 * tests check for decoded events.
 */
import { existsSync, readFileSync } from 'node:fs';
import Ajv2020 from 'ajv/dist/2020.js';
import { expect } from 'vitest';
import { EVENT_SCHEMA } from '../../src/events/schema.js';
import type { KubewireEvent } from '../../src/events/types.js';

// ajv is CommonJS: under NodeNext the default import is the module object for TypeScript.
const Ajv = Ajv2020 as unknown as typeof Ajv2020.default;
const ajv = new Ajv({ strict: true, allErrors: true });
const validate = ajv.compile(EVENT_SCHEMA);

/** What makes `ev` not a valid event by the schema, one line each; empty when it is one. */
export function schemaErrors(ev: unknown): string[] {
  if (validate(ev)) return [];
  return (validate.errors ?? []).filter((x) => x.keyword !== 'if').map((x) => `${x.instancePath || '/'} ${x.message ?? x.keyword} ${JSON.stringify(x.params)}`);
}

/** Events of the log's complete lines so far (a last line still being written is left out). */
export function readEvents(path: string): KubewireEvent[] {
  if (!existsSync(path)) return [];
  const text = readFileSync(path, 'utf8');
  const complete = text.slice(0, text.lastIndexOf('\n') + 1);
  return complete.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as KubewireEvent);
}

/**
 * The whole log, checked: it ends with a newline, every line is JSON and a valid event, and
 * `seq` counts up from 1 with no gap.
 */
export function expectValidLog(path: string): KubewireEvent[] {
  expect(existsSync(path), `log ${path} exists`).toBe(true);
  const text = readFileSync(path, 'utf8');
  expect(text.length, `log ${path} is not empty`).toBeGreaterThan(0);
  expect(text.endsWith('\n'), `log ${path} ends with a complete line`).toBe(true);
  const events: KubewireEvent[] = [];
  text.slice(0, -1).split('\n').forEach((line, i) => {
    let ev: unknown;
    try {
      ev = JSON.parse(line);
    } catch (e) {
      throw new Error(`${path}:${i + 1}: not JSON (${(e as Error).message}): ${line.slice(0, 200)}`);
    }
    if (!validate(ev)) {
      const errors = (validate.errors ?? []).filter((x) => x.keyword !== 'if').map((x) => `  ${x.instancePath || '/'} ${x.message ?? x.keyword} ${JSON.stringify(x.params)}`);
      throw new Error(`${path}:${i + 1}: invalid event ${line.slice(0, 400)}\n${errors.join('\n')}`);
    }
    events.push(ev as KubewireEvent);
  });
  expect(events.map((e) => e.seq), 'seq counts up from 1').toEqual(events.map((_, i) => i + 1));
  return events;
}

/** Polls `check` every 50 ms until it returns a value other than undefined, or fails after `ms`. */
export async function waitUntil<T>(label: string, check: () => T | undefined | Promise<T | undefined>, ms: number): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${label}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export { ofType, type EventOf } from './events-of.js';
