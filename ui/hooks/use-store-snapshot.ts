/**
 * The store's snapshot for a component, through `useSyncExternalStore`: re-renders at most as
 * often as the store publishes. While `paused`, the snapshot last shown is kept, and the store
 * keeps ingesting behind it.
 */
import { useCallback, useRef, useSyncExternalStore } from 'react';
import type { SessionStore } from '../store/session-store.js';
import type { StoreSnapshot } from '../store/types.js';

export function useStoreSnapshot(store: SessionStore, paused = false): StoreSnapshot {
  const shown = useRef<StoreSnapshot | null>(null);
  const subscribe = useCallback((listener: () => void) => store.subscribe(listener), [store]);
  const getSnapshot = useCallback(
    () => (paused && shown.current ? shown.current : store.getSnapshot()),
    [store, paused],
  );
  const snapshot = useSyncExternalStore(subscribe, getSnapshot, getSnapshot);
  shown.current = snapshot;
  return snapshot;
}
