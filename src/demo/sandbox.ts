/**
 * The demo pods' filesystems: one directory per pod under a temporary root, and the mapping
 * that makes a command's pod paths land inside that directory. `kubectl cp` works against it
 * unchanged: `tar cf - /data/remote.txt` archives `data/remote.txt` exactly as a real pod's
 * tar would, and `tar -xmf - -C /tmp` unpacks into the pod's `tmp/` (protocol.md B §2).
 *
 * This is a demo, not a security boundary. Commands run as the local user with the host's
 * binaries; only arguments that are absolute paths are rewritten, so a shell script
 * (`sh -c 'cat /etc/passwd'`) or an interactive shell still sees the host's `/`.
 */
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { DemoPod } from './contracts.js';

/** A command ready for `child_process.spawn` or `node-pty`. */
export interface PodCommand {
  /** argv[0], unchanged: it is looked up in PATH as usual. */
  file: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
}

const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

const REMOTE_TXT = [
  'This file lives in a kubewire demo pod.',
  'Copy it out with: kubectl cp POD:/data/remote.txt ./remote.txt',
  'Copy a file in with: kubectl cp ./local.txt POD:/tmp/local.txt',
  '',
].join('\n');

export class PodSandbox {
  /** The temporary directory holding every pod's directory. */
  readonly root: string;
  private readonly prepared = new Set<string>();
  private disposed = false;
  private readonly onExit = (): void => this.removeRoot();

  private constructor(root: string) {
    this.root = root;
    // process.exit() or an uncaught error skips dispose(); the root must not outlive us.
    process.on('exit', this.onExit);
  }

  /** Creates the root under the OS temp directory and the given pods' directories. */
  static async create(pods: Iterable<DemoPod> = []): Promise<PodSandbox> {
    const sandbox = new PodSandbox(await mkdtemp(path.join(os.tmpdir(), 'kubewire-demo-')));
    for (const pod of pods) sandbox.podDir(pod);
    return sandbox;
  }

  /** The directory that serves as the pod's `/`, created with its demo files on first use. */
  podDir(pod: DemoPod): string {
    if (this.disposed) throw new Error(`the demo sandbox ${this.root} was disposed; create a new one`);
    const dir = path.join(this.root, safeSegment(pod.namespace), safeSegment(pod.name));
    if (!this.prepared.has(dir)) {
      populatePodDir(dir, pod);
      this.prepared.add(dir);
    }
    return dir;
  }

  /** Maps an exec command so that pod paths stay inside the pod's directory. */
  mapCommand(pod: DemoPod, command: readonly string[], options: { tty: boolean }): PodCommand {
    const dir = this.podDir(pod);
    const [file = '', ...rest] = command;
    const args = isTar(file) ? mapTarArgs(rest, dir) : rest.map((a) => mapPath(a, dir));
    const env: Record<string, string> = {
      PATH: process.env['PATH'] ?? DEFAULT_PATH,
      HOME: dir,
      HOSTNAME: pod.name,
      PWD: dir,
    };
    if (options.tty) {
      env['TERM'] = 'xterm-256color';
      // An interactive shell sees this machine's `/`: only absolute paths given as command
      // arguments are mapped into the pod's directory. The prompt says so, every line.
      env['PS1'] = `${pod.name} (demo: ~ is the pod, / is this machine)# `;
    }
    return { file, args, cwd: dir, env };
  }

  /** Removes the whole root. Safe to call more than once. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    process.off('exit', this.onExit);
    await rm(this.root, { recursive: true, force: true });
  }

  private removeRoot(): void {
    if (this.disposed) return;
    this.disposed = true;
    rmSync(this.root, { recursive: true, force: true });
  }
}

function populatePodDir(dir: string, pod: DemoPod): void {
  for (const sub of ['tmp', 'data', 'etc']) mkdirSync(path.join(dir, sub), { recursive: true });
  // /dev/null, /dev/zero and /proc exist in every real pod; scripts and kubectl users rely on them.
  for (const sub of ['dev', 'proc']) {
    try {
      symlinkSync(`/${sub}`, path.join(dir, sub));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  writeFileSync(path.join(dir, 'etc', 'hostname'), `${pod.name}\n`);
  writeFileSync(path.join(dir, 'data', 'remote.txt'), REMOTE_TXT);
  writeFileSync(
    path.join(dir, 'README.txt'),
    [
      `This directory is the filesystem of the demo pod ${pod.namespace}/${pod.name},`,
      'served by `kubewire cluster`. Commands run by `kubectl exec` start here, and',
      'absolute paths in their arguments are mapped into this directory (/tmp is ./tmp).',
      'It is a temporary directory on the host, removed when kubewire exits.',
      '',
    ].join('\n'),
  );
}

/** Pod names are DNS labels; anything else is flattened so it cannot leave the root. */
function safeSegment(name: string): string {
  const s = name.replace(/[^A-Za-z0-9._-]/g, '_');
  return s === '' || s === '.' || s === '..' ? `_${s}` : s;
}

function mapPath(arg: string, podDir: string): string {
  if (!arg.startsWith('/')) return arg;
  // normalize() keeps `/..` at the top, so `/../x` stays inside the pod's directory.
  const inPod = path.posix.normalize(arg);
  return inPod === '/' ? podDir : podDir + inPod;
}

function isTar(file: string): boolean {
  return path.posix.basename(file) === 'tar';
}

/** Short options of GNU/BSD tar that take a value (the ones kubectl or a user plausibly uses). */
const TAR_SHORT_WITH_VALUE = new Set(['f', 'C', 'b', 'T', 'X', 'g', 'K', 'L', 'N', 'V', 'H', 'I']);
const TAR_LONG_WITH_VALUE = new Set([
  'file', 'directory', 'blocking-factor', 'files-from', 'exclude-from', 'listed-incremental',
  'starting-file', 'tape-length', 'newer', 'after-date', 'label', 'format', 'use-compress-program',
  'exclude', 'transform', 'xform', 'owner', 'group', 'mode', 'mtime',
]);
const TAR_SHORT_PATH_VALUE = new Set(['f', 'C', 'T', 'X', 'g']);
const TAR_LONG_PATH_VALUE = new Set(['file', 'directory', 'files-from', 'exclude-from', 'listed-incremental']);

/**
 * One parsed tar argument. An option keeps its shape so it is written back the same way:
 * `bare` (an old-style value word), `separate` (`-xmf X`, `--file X`), `attached` (`-fX`,
 * `--file=X`). `flag` is the text before the value: a short cluster up to the option's letter
 * (`-xmf`), or the long option (`--file=`, `--file`).
 */
type TarToken =
  | { kind: 'flags'; text: string }
  | { kind: 'option'; name: string; flag: string; form: 'bare' | 'separate' | 'attached'; value: string; isPath: boolean }
  | { kind: 'member'; text: string };

/**
 * tar arguments: in create mode the members become relative to the pod's `/` (a real tar
 * strips the leading `/` too), so the archive names match a real pod's; the values of `-C`,
 * `-f` and the other path options are pod paths like any other argument.
 */
function mapTarArgs(args: readonly string[], podDir: string): string[] {
  const tokens = tokenizeTar(args);
  const create = tokens.some((t) =>
    t.kind === 'flags' ? t.text.includes('c') : t.kind === 'option' && (t.name === 'create' || (!t.flag.startsWith('--') && t.flag.includes('c'))),
  );
  if (!create) return tokens.flatMap((t) => renderTarToken(t, podDir));

  // GNU tar resolves each member against the latest -C; absolute members ignore -C. Track the
  // user's directory and emit our own -C before the first member and wherever it changes.
  const out: string[] = [];
  let userDir = podDir;
  let emittedDir: string | null = null;
  for (const t of tokens) {
    if (t.kind === 'option' && (t.name === 'C' || t.name === 'directory')) {
      userDir = t.value.startsWith('/') ? mapPath(t.value, podDir) : path.resolve(userDir, t.value);
      // Keep the other flags of a cluster such as `-cC`; the -C itself is re-emitted below.
      if (t.form !== 'bare' && !t.flag.startsWith('--') && t.flag.length > 2) out.push(t.flag.slice(0, -1));
      continue;
    }
    if (t.kind !== 'member') {
      out.push(...renderTarToken(t, podDir));
      continue;
    }
    const absolute = t.text.startsWith('/');
    const dir = absolute ? podDir : userDir;
    if (dir !== emittedDir) {
      out.push('-C', dir);
      emittedDir = dir;
    }
    out.push(absolute ? path.posix.normalize(t.text).replace(/^\/+/, '') || '.' : t.text);
  }
  return out;
}

function renderTarToken(t: TarToken, podDir: string): string[] {
  if (t.kind === 'flags') return [t.text];
  // Outside create mode, members are names inside the archive, not paths on disk.
  if (t.kind === 'member') return [t.text];
  const value = t.isPath ? mapPath(t.value, podDir) : t.value;
  if (t.form === 'bare') return [value];
  if (t.form === 'attached') return [t.flag + value];
  return t.flag === '' ? [value] : [t.flag, value];
}

function tokenizeTar(args: readonly string[]): TarToken[] {
  const tokens: TarToken[] = [];
  let i = 0;
  const next = (): string => args[i++] ?? '';
  // Old style: a first word without a dash bundles the flags; their values follow in order.
  if (args.length > 0 && !(args[0] as string).startsWith('-')) {
    const bundle = next();
    tokens.push({ kind: 'flags', text: bundle });
    for (const letter of bundle) {
      if (TAR_SHORT_WITH_VALUE.has(letter)) {
        tokens.push({ kind: 'option', name: letter, flag: '', form: 'bare', value: next(), isPath: TAR_SHORT_PATH_VALUE.has(letter) });
      }
    }
  }
  while (i < args.length) {
    const arg = next();
    if (arg === '--') {
      while (i < args.length) tokens.push({ kind: 'member', text: next() });
    } else if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = arg.slice(2, eq < 0 ? undefined : eq);
      const isPath = TAR_LONG_PATH_VALUE.has(name);
      if (eq >= 0) {
        tokens.push({ kind: 'option', name, flag: arg.slice(0, eq + 1), form: 'attached', value: arg.slice(eq + 1), isPath });
      } else if (TAR_LONG_WITH_VALUE.has(name)) {
        tokens.push({ kind: 'option', name, flag: arg, form: 'separate', value: next(), isPath });
      } else {
        tokens.push({ kind: 'option', name, flag: arg, form: 'attached', value: '', isPath: false });
      }
    } else if (arg.startsWith('-') && arg.length > 1) {
      tokens.push(tokenizeShortCluster(arg, next));
    } else {
      tokens.push({ kind: 'member', text: arg });
    }
  }
  return tokens;
}

/** `-xmf -` or `-C/tmp`: the cluster up to the first letter that takes a value is its flag. */
function tokenizeShortCluster(arg: string, next: () => string): TarToken {
  for (let k = 1; k < arg.length; k++) {
    const letter = arg[k] as string;
    if (!TAR_SHORT_WITH_VALUE.has(letter)) continue;
    const flag = arg.slice(0, k + 1);
    const isPath = TAR_SHORT_PATH_VALUE.has(letter);
    const attached = arg.slice(k + 1);
    return attached !== ''
      ? { kind: 'option', name: letter, flag, form: 'attached', value: attached, isPath }
      : { kind: 'option', name: letter, flag, form: 'separate', value: next(), isPath };
  }
  return { kind: 'flags', text: arg };
}
