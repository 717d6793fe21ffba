/**
 * The rebuilt terminal of a session: replayed off the render path (xterm parses asynchronously),
 * incrementally as stdout grows, and dropped when the view closes.
 */
import { useEffect, useRef, useState } from 'react';
import type { TerminalSource } from '../store/types.js';
import { TerminalReplay, type TerminalScreen } from '../terminal/terminal-replay.js';

export function useTerminalScreen(source: TerminalSource | null): TerminalScreen | null {
  const replay = useRef<TerminalReplay | null>(null);
  const [screen, setScreen] = useState<{ sessionId: string; screen: TerminalScreen } | null>(null);
  useEffect(() => {
    if (source === null) {
      replay.current?.dispose();
      replay.current = null;
      return;
    }
    replay.current ??= new TerminalReplay();
    let current = true;
    replay.current.update(source).then(
      (s) => {
        if (current) setScreen({ sessionId: source.sessionId, screen: s });
      },
      () => {},
    );
    return () => {
      current = false;
    };
  }, [source]);
  useEffect(() => () => replay.current?.dispose(), []);
  return source !== null && screen?.sessionId === source.sessionId ? screen.screen : null;
}
