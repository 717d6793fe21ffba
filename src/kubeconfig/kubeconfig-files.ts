/**
 * Which kubeconfig files to read, reading them, and merging them, the way kubectl's loading
 * rules do: `--kubeconfig` wins over `KUBECONFIG` (a list of files; entries that do not exist
 * are skipped), which wins over ~/.kube/config. Merged, the first file to define a name wins,
 * and the first non-empty current-context wins. Parsing is @kubernetes/client-node's; this
 * module tells a missing file, an unreadable one and bad YAML apart, naming the file.
 */
import { readFileSync, accessSync, constants as fsConstants } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, dirname, isAbsolute, resolve, sep } from 'node:path';
import type { Cluster, Context, KubeConfig, User } from '@kubernetes/client-node';
import { CliError, describeFsError } from '../io/errors.js';

export type ClientNode = typeof import('@kubernetes/client-node');

export interface LoadedFile {
  path: string;
  kc: KubeConfig;
  /** The YAML as parsed, before client-node drops invalid entries: it tells why one is unusable. */
  raw: Record<string, unknown>;
}

export interface Merged {
  clusters: Map<string, { value: Cluster; file: string }>;
  users: Map<string, { value: User; file: string }>;
  contexts: Map<string, { value: Context; file: string }>;
  currentContext: string | null;
  currentContextFile: string | null;
}

export function kubeconfigPaths(kubeconfig: string | undefined, env: NodeJS.ProcessEnv): string[] {
  if (kubeconfig) {
    const file = resolve(kubeconfig);
    if (!exists(file)) throw new CliError('KW_ERR_KUBECONFIG_NOT_FOUND', `the kubeconfig ${file} given with --kubeconfig does not exist`);
    return [file];
  }
  const list = env['KUBECONFIG'];
  if (list) {
    const files = [...new Set(list.split(delimiter).filter((f) => f !== '').map((f) => resolve(f)))];
    // kubectl skips KUBECONFIG entries that do not exist.
    const found = files.filter(exists);
    if (found.length === 0) {
      throw new CliError('KW_ERR_KUBECONFIG_NOT_FOUND', `no kubeconfig found: none of the files in KUBECONFIG exist (${files.join(', ') || 'the list is empty'}); fix KUBECONFIG or pass --kubeconfig <file>`);
    }
    return found;
  }
  const home = env['HOME'] || homedir();
  const file = resolve(home, '.kube', 'config');
  if (!exists(file)) {
    throw new CliError('KW_ERR_KUBECONFIG_NOT_FOUND', `no kubeconfig found: KUBECONFIG is not set and ${file} does not exist; pass --kubeconfig <file> or set KUBECONFIG`);
  }
  return [file];
}

function exists(file: string): boolean {
  try {
    accessSync(file, fsConstants.F_OK);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== 'ENOENT';
  }
}

/** What loadFromFile does, with the reading and the YAML errors told apart. */
export function loadFile(lib: ClientNode, file: string): LoadedFile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new CliError('KW_ERR_KUBECONFIG_UNREADABLE', `cannot read kubeconfig ${file}: ${describeFsError(e)}`);
  }
  const kc = new lib.KubeConfig();
  let raw: unknown = {};
  try {
    raw = lib.loadYaml(text);
  } catch (e) {
    // loadYaml refuses an empty document; kubectl reads it as an empty config.
    if ((e as Error).name === 'YAMLException') {
      // js-yaml's message carries a multi-line excerpt; one line is enough to find the spot.
      const y = e as Error & { reason?: string; mark?: { line: number; column: number } };
      const where = y.mark ? ` at line ${y.mark.line + 1}, column ${y.mark.column + 1}` : '';
      throw new CliError('KW_ERR_KUBECONFIG_PARSE', `kubeconfig ${file} is not valid YAML: ${y.reason ?? y.message.split('\n')[0]}${where}`);
    }
    return { path: file, kc, raw: {} };
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new CliError('KW_ERR_KUBECONFIG_PARSE', `kubeconfig ${file} is not a kubeconfig: expected a YAML mapping with clusters, users and contexts`);
  }
  try {
    // Filter, like kubectl, which only validates the entries in use; select-context.ts explains those.
    kc.loadFromString(text, { onInvalidEntry: 'filter' });
  } catch (e) {
    throw new CliError('KW_ERR_KUBECONFIG_PARSE', `kubeconfig ${file} cannot be loaded: ${(e as Error).message}`);
  }
  kc.makePathsAbsolute(dirname(file));
  const dir = dirname(file);
  for (const user of kc.users) {
    // client-go resolves an exec command with a path separator against the kubeconfig's folder.
    const exec = user.exec as { command?: unknown } | null | undefined;
    if (exec && typeof exec.command === 'string' && exec.command.includes(sep) && !isAbsolute(exec.command)) {
      exec.command = resolve(dir, exec.command);
    }
  }
  return { path: file, kc, raw: raw as Record<string, unknown> };
}

export function merge(files: LoadedFile[]): Merged {
  const m: Merged = { clusters: new Map(), users: new Map(), contexts: new Map(), currentContext: null, currentContextFile: null };
  for (const f of files) {
    for (const c of f.kc.clusters) if (!m.clusters.has(c.name)) m.clusters.set(c.name, { value: c, file: f.path });
    for (const u of f.kc.users) if (!m.users.has(u.name)) m.users.set(u.name, { value: u, file: f.path });
    for (const c of f.kc.contexts) if (!m.contexts.has(c.name)) m.contexts.set(c.name, { value: c, file: f.path });
    const current = f.kc.getCurrentContext();
    if (!m.currentContext && typeof current === 'string' && current !== '') {
      m.currentContext = current;
      m.currentContextFile = f.path;
    }
  }
  return m;
}
