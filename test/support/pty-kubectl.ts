/**
 * kubectl under a real pseudo-terminal, for `exec -it`: kubectl only asks for a tty when its
 * stdin is a terminal, and sends resizes when the terminal's size changes.
 */
import pty from 'node-pty';
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
