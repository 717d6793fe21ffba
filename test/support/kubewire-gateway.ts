/**
 * `kubewire gateway` as an administrator runs it: the built bin/kubewire.js in its own process,
 * ready once it logged its `gateway listening` JSON line. Stopped by PID (`stop`).
 */
import { spawn } from 'node:child_process';
import { KUBEWIRE_BIN } from './kubewire-run.js';
import { waitForText } from './wait.js';

export interface GatewayProcess {
  pid: number;
  ready: { listen: string; metrics: string; auditLog: string; kubeconfig: string | null };
  stdout(): string;
  stderr(): string;
  /** Every JSON line logged so far. */
  lines(): Record<string, unknown>[];
  stop(): Promise<number | null>;
}

export async function startGateway(args: string[], home: string): Promise<GatewayProcess> {
  const child = spawn(process.execPath, [KUBEWIRE_BIN, 'gateway', '--listen', '127.0.0.1:0', '--metrics-listen', '127.0.0.1:0', ...args], {
    env: { ...process.env, HOME: home, XDG_STATE_HOME: `${home}/state` }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let running = true;
  void exited.then(() => (running = false));
  const stop = async (): Promise<number | null> => {
    if (running) child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    const code = await exited;
    clearTimeout(timer);
    return code;
  };
  try {
    await waitForText(() => out, /"msg":"gateway listening".*\n/, 20_000, () => running);
  } catch (e) {
    await stop();
    throw new Error(`the gateway did not start: ${(e as Error).message}\nstdout: ${out}\nstderr: ${err}`);
  }
  const lines = (): Record<string, unknown>[] => out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
  const ready = lines().find((l) => l['msg'] === 'gateway listening') as unknown as GatewayProcess['ready'];
  return { pid: child.pid!, ready, stdout: () => out, stderr: () => err, lines, stop };
}
