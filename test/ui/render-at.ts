/**
 * Rendering at a chosen terminal size (ink-testing-library's stdout is always 100 columns and
 * has no rows), and waiting for a frame by what it shows rather than for a fixed time, so the
 * tests hold on a loaded machine.
 */
import { EventEmitter } from 'node:events';
import type { ReactElement } from 'react';
import { render } from 'ink';

class SizedStdout extends EventEmitter {
  frames: string[] = [];
  constructor(readonly columns: number, readonly rows: number) {
    super();
  }
  write = (frame: string): boolean => {
    this.frames.push(frame);
    return true;
  };
  lastFrame = (): string => this.frames[this.frames.length - 1] ?? '';
}

/** A terminal's stdin that takes keys from the test. */
export class KeyStdin extends EventEmitter {
  isTTY = true;
  private data: string | null = null;
  write = (s: string): void => {
    this.data = s;
    this.emit('readable');
    this.emit('data', s);
  };
  read = (): string | null => {
    const d = this.data;
    this.data = null;
    return d;
  };
  setEncoding(): void {}
  setRawMode(): void {}
  resume(): void {}
  pause(): void {}
  ref(): void {}
  unref(): void {}
}

export interface SizedApp {
  lastFrame(): string;
  stdin: { write(s: string): void };
  unmount(): void;
  /** The first frame `test` accepts, from now on (throws with the last frame after `ms`). */
  frame(test: (frame: string) => boolean, ms?: number): Promise<string>;
  /** Writes `key`, then waits for the frame `test` accepts. */
  press(key: string, test: (frame: string) => boolean, ms?: number): Promise<string>;
}

async function waitUntil(ok: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error('Ink never subscribed to its input');
    await new Promise((r) => setTimeout(r, 5));
  }
}

export function renderAt(tree: ReactElement, columns = 80, rows = 24): SizedApp {
  const stdout = new SizedStdout(columns, rows);
  const stdin = new KeyStdin();
  const instance = render(tree, {
    stdout: stdout as unknown as NodeJS.WriteStream,
    stdin: stdin as unknown as NodeJS.ReadStream,
    debug: true,
    exitOnCtrlC: false,
    patchConsole: false,
  });
  const frame = async (test: (f: string) => boolean, ms = 10_000): Promise<string> => {
    const end = Date.now() + ms;
    for (;;) {
      const f = stdout.lastFrame();
      if (test(f)) return f;
      if (Date.now() > end) throw new Error(`no frame matched; the last:\n${f}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  return {
    lastFrame: stdout.lastFrame,
    stdin,
    unmount: () => instance.unmount(),
    frame,
    press: async (key, test, ms) => {
      // Ink reads keys only once its input hook has subscribed (an effect after the first frame).
      await waitUntil(() => stdin.listenerCount('readable') > 0, ms);
      stdin.write(key);
      return frame(test, ms);
    },
  };
}
