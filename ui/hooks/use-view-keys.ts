/**
 * Keyboard input to view state. The handler is registered once and reads the latest state from
 * a ref, so keys that arrive together are applied one after the other, each to the state the
 * previous one left.
 */
import { useCallback, useRef } from 'react';
import { useInput, type Key } from 'ink';
import { handleKey, type KeyAction, type KeyContext } from '../state/key-bindings.js';
import type { ViewState } from '../state/view-state.js';

export function useViewKeys(view: ViewState, setView: (v: ViewState) => void, ctx: KeyContext, onQuit: () => void, onAction: (a: KeyAction) => void): void {
  const latest = useRef({ view, ctx, onQuit, onAction });
  latest.current.view = view;
  latest.current.ctx = ctx;
  latest.current.onQuit = onQuit;
  latest.current.onAction = onAction;
  const handler = useCallback((input: string, key: Key) => {
    const r = latest.current;
    const next = handleKey(r.view, input, key, r.ctx);
    if (next === 'quit') {
      r.onQuit();
      return;
    }
    if ('action' in next) {
      r.onAction(next);
      return;
    }
    if (next === r.view) return;
    r.view = next;
    setView(next);
  }, [setView]);
  useInput(handler);
}
