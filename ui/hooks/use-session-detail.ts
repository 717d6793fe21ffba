/** The detail of one session, fetched again only when the shown snapshot changes. */
import { useMemo } from 'react';
import type { SessionStore } from '../store/session-store.js';
import type { SessionDetail, StoreSnapshot } from '../store/types.js';

export function useSessionDetail(store: SessionStore, sessionId: string | null, snapshot: StoreSnapshot): SessionDetail | null {
  return useMemo(
    () => (sessionId === null ? null : store.getDetail(sessionId)),
    // The snapshot stands for "what was published": a new one may carry a new detail.
    [store, sessionId, snapshot],
  );
}
