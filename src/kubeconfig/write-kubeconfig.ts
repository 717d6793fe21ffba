/**
 * A one-cluster kubeconfig for the demo cluster. The YAML is written by hand: every value is a
 * double-quoted scalar, with everything outside printable ASCII/Unicode escaped, so no server
 * URL, token or name can change the document's structure (YAML 1.1 §4.6.8, as go-yaml reads it).
 * The file holds a bearer token, so it is written 0600 and replaced atomically.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export interface KubeconfigOptions {
  server: string;
  caCertPem: string;
  token: string;
  /** Cluster, user and context name. Default `kubewire-demo`. */
  name?: string;
  namespace?: string;
  /** More users of the same cluster: each gets a user and a context entry of its name. */
  users?: { name: string; token: string }[];
}

export const DEFAULT_KUBECONFIG_NAME = 'kubewire-demo';

/** A YAML double-quoted scalar. */
export function yamlQuote(value: string): string {
  let out = '"';
  for (const ch of value) {
    const cp = ch.codePointAt(0)!;
    if (ch === '"' || ch === '\\') out += '\\' + ch;
    else if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp === 0x2028 || cp === 0x2029 || cp === 0xfeff || (cp >= 0xd800 && cp <= 0xdfff)) {
      out += cp <= 0xff ? '\\x' + cp.toString(16).padStart(2, '0') : '\\u' + cp.toString(16).padStart(4, '0');
    } else out += ch;
  }
  return out + '"';
}

export function kubeconfigText(opts: KubeconfigOptions): string {
  const name = yamlQuote(opts.name ?? DEFAULT_KUBECONFIG_NAME);
  const caData = Buffer.from(opts.caCertPem, 'utf8').toString('base64');
  const lines = [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    `- name: ${name}`,
    '  cluster:',
    `    server: ${yamlQuote(opts.server)}`,
    `    certificate-authority-data: ${yamlQuote(caData)}`,
    'users:',
  ];
  const users = [{ name: opts.name ?? DEFAULT_KUBECONFIG_NAME, token: opts.token }, ...(opts.users ?? [])];
  for (const u of users) lines.push(`- name: ${yamlQuote(u.name)}`, '  user:', `    token: ${yamlQuote(u.token)}`);
  lines.push('contexts:');
  for (const u of users) {
    lines.push(`- name: ${yamlQuote(u.name)}`, '  context:', `    cluster: ${name}`, `    user: ${yamlQuote(u.name)}`);
    if (opts.namespace !== undefined) lines.push(`    namespace: ${yamlQuote(opts.namespace)}`);
  }
  lines.push(`current-context: ${name}`, 'preferences: {}', '');
  return lines.join('\n');
}

export async function writeKubeconfig(file: string, opts: KubeconfigOptions): Promise<void> {
  await writePrivateFile(file, kubeconfigText(opts));
}

/** Writes `text` to `file`, mode 0600, replacing it atomically (a kubeconfig holds credentials). */
export async function writePrivateFile(file: string, text: string): Promise<void> {
  const dir = dirname(file);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = join(dir, `.${basename(file)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await writeFile(tmp, text, { mode: 0o600, flag: 'wx' });
    // The umask cannot widen 0600, but a stricter one could leave the owner unable to read.
    await chmod(tmp, 0o600);
    await rename(tmp, file);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  await chmod(file, 0o600);
}
