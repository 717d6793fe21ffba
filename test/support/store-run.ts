/** A run of a file store replica written through the store's writer (`--audit-store DIR`), for the store tests. */
import { join } from 'node:path';
import type { AuditSink } from '../../src/audit/audit-sink.js';
import type { AuditSettings } from '../../src/cli/audit-setup.js';
import { EventBus } from '../../src/events/event-bus.js';
import { noteFor } from '../../src/events/notes.js';
import type { EventBody } from '../../src/events/types.js';
import { openAuditStore } from '../../src/store/open-store.js';

export interface StoreRun {
  bus: EventBus;
  sink: AuditSink;
  publish(body: EventBody, fields?: { session?: string; conn?: string }): void;
}

/** Opens a run of `replica` in the file store `dir` and publishes its `audit.start`. */
export async function openStoreRun(dir: string, replica: string, opts: { maxSize?: number | null; scratch: string; report?: (line: string) => void }): Promise<StoreRun> {
  const maxSize = opts.maxSize ?? null;
  const settings: AuditSettings = { failMode: 'closed', keyFile: null, redactStdin: 'none', maxSize, store: { kind: 'files', dir }, replica };
  const bus = new EventBus({ lossless: true });
  const publish = (body: EventBody, fields: { session?: string; conn?: string } = {}): void => void bus.publish(body, noteFor(body), fields);
  const sink = await openAuditStore(settings, { logPath: join(opts.scratch, 'unused.jsonl'), key: null, signer: null, publish, report: opts.report ?? (() => undefined) });
  bus.addSink(sink);
  publish({
    type: 'audit.start', chain: sink.chain,
    identity: { source: 'kubeconfig', username: null, uid: null, groups: [], extra: {}, kubeconfigUser: 'u', clientCertificate: null, reviewError: null },
    os: { user: 'u', uid: 1000, host: 'h', platform: 'linux/x64' }, kubewire: { version: '0.1.0', pid: process.pid },
    cluster: { server: 'https://127.0.0.1:6443/', context: 'demo', via: '' }, redactStdin: 'none', failMode: 'closed', maxSize,
  });
  return { bus, sink, publish };
}
