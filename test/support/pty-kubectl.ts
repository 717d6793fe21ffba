/**
 * kubectl under a real pseudo-terminal, for `exec -it`: kubectl only asks for a tty when its
 * stdin is a terminal, and sends resizes when the terminal's size changes.
 */
import pty from 'node-pty';
import { expect } from 'vitest';
import { kubectlEnv, kubectlPath } from './kubectl.js';

export interface PtyKubectl {
  output(): string;
  write(text: string): void;
  resize(cols: number, rows: number): void;
  waitFor(re: RegExp, ms?: number): Promise<RegExpMatchArray>;
  exit(ms?: number): Promise<number>;
  kill(): void;
}

export function spawnKubectlInPty(version: string, args: string[], opts: { kubeconfig: string; home: string; env?: Record<string, string>; cols?: number; rows?: number }): PtyKubectl {
  const p = pty.spawn(kubectlPath(version), args, {
    name: 'xterm-256color',
    cols: opts.cols ?? 80,
    rows: opts.rows ?? 24,
    env: kubectlEnv(opts) as Record<string, string>,
  });
  let out = '';
  let exitCode: number | null = null;
  p.onData((d) => (out += d));
  const exited = new Promise<number>((res) => p.onExit((e) => res((exitCode = e.exitCode))));
  const killer = setTimeout(() => p.kill('SIGKILL'), 60_000);
  exited.then(() => clearTimeout(killer));
  return {
    output: () => out,
    write: (t) => p.write(t),
    resize: (c, r) => p.resize(c, r),
    waitFor: (re, ms = 15_000) =>
      new Promise((resolve, reject) => {
        const deadline = Date.now() + ms;
        const poll = (): void => {
          const m = out.match(re);
          if (m) return resolve(m);
          if (Date.now() > deadline || exitCode !== null) return reject(new Error(`timed out waiting for ${re} in: ${JSON.stringify(out.slice(-400))}`));
          setTimeout(poll, 25);
        };
        poll();
      }),
    exit: async (ms = 15_000) => {
      const t = setTimeout(() => p.kill('SIGKILL'), ms);
      const code = await exited;
      clearTimeout(t);
      return code;
    },
    kill: () => p.kill('SIGKILL'),
  };
}

/**
 * `kubewire run -- kubectl exec -it … -- sh` under a pty of 80x24: `stty size` there, a resize
 * to 100x30 seen by the pod, then `exit 5`, whose code must come back. `runArgs` are kubewire
 * run's own flags (kubeconfig, log, …) before `--`.
 */
export async function ttyResizeThroughRun(kubewireBin: string, runArgs: string[], version: string, env: NodeJS.ProcessEnv): Promise<void> {
  const p = pty.spawn(process.execPath, [kubewireBin, 'run', ...runArgs, '--', kubectlPath(version), 'exec', '-it', 'web', '-c', 'app', '--', 'sh'], {
    cols: 80, rows: 24, env: env as Record<string, string>,
  });
  let out = '';
  p.onData((d) => (out += d));
  const exited = new Promise<number>((res) => p.onExit((e) => res(e.exitCode)));
  const waitFor = async (re: RegExp): Promise<void> => {
    for (let i = 0; i < 300 && !re.test(out); i++) await new Promise((r) => setTimeout(r, 50));
    expect(out).toMatch(re);
  };
  try {
    p.write('stty size\r');
    await waitFor(/24 80/);
    p.resize(100, 30);
    await new Promise((r) => setTimeout(r, 300));
    p.write('stty size\r');
    await waitFor(/30 100/);
    p.write('exit 5\r');
    expect(await exited).toBe(5);
  } finally {
    p.kill('SIGKILL');
  }
}
