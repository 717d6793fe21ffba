/** The audit flags of `proxy` and `run`: checked together, before anything starts. */
import { defaultReplica } from '../../src/store/store-spec.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { auditSettings, parseSize } from '../../src/cli/audit-setup.js';
import { runCli } from '../support/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'kubewire-auditflags-'));
const kubeconfig = join(dir, 'kubeconfig');
writeFileSync(kubeconfig, 'apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]\ncontexts: [{name: x, context: {cluster: c}}]\ncurrent-context: x\n');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('audit flags', () => {
  it('reads sizes with binary multiples and refuses tiny or malformed ones', () => {
    expect(parseSize('100M')).toBe(100 * 1024 * 1024);
    expect(parseSize('1G')).toBe(1024 ** 3);
    expect(parseSize('64KiB')).toBe(65536);
    expect(parseSize('1048576')).toBe(1048576);
    expect(() => parseSize('10K')).toThrow(/too small: at least 64K/);
    expect(() => parseSize('lots')).toThrow(/expected a size such as 100M/);
  });

  it('--audit defaults to fail closed, no redaction, one file', () => {
    expect(auditSettings({ audit: true }, false)).toEqual({ failMode: 'closed', keyFile: null, redactStdin: 'none', maxSize: null, signingKeyFile: null, replica: defaultReplica() });
    expect(auditSettings({}, false)).toBeNull();
  });

  it('refuses audit-only flags without --audit, and --audit with a --payload that drops bytes', () => {
    const r = runCli(['run', '--audit-key-file', 'k', '--redact-stdin', 'all', '--', 'true']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--audit-key-file, --redact-stdin only apply to an audit log: add --audit \[KW_ERR_USAGE\]/);
    const one = runCli(['run', '--max-size', '1M', '--', 'true']);
    expect(one.stderr).toMatch(/--max-size only applies to an audit log: add --audit/);
    const p = runCli(['proxy', '--audit', '--payload', 'head', '--no-tui']);
    expect(p.status).toBe(2);
    expect(p.stderr).toMatch(/--audit records every byte; it cannot be combined with --payload head/);
  });

  it('names a key file that is too short before anything starts', () => {
    const key = join(dir, 'short.key');
    writeFileSync(key, 'short\n');
    const r = runCli(['run', '--kubeconfig', kubeconfig, '--audit', '--audit-key-file', key, '--log', join(dir, 'a.jsonl'), '--', 'true']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/the key file .*short\.key holds 5 bytes; an audit key needs at least 16 .*\[KW_ERR_AUDIT_KEY\]/);
  });

  it('refuses to start a chain in a log file that exists', () => {
    const log = join(dir, 'exists.jsonl');
    writeFileSync(log, '{}\n');
    const r = runCli(['run', '--kubeconfig', kubeconfig, '--audit', '--log', log, '--', 'true']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/cannot write the audit log .*exists\.jsonl: the file already exists; an audit chain starts in a new file/);
  });
});
