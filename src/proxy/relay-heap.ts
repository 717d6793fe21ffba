/**
 * The relay's heap: its young generation is kept at the size V8 starts it with.
 *
 * The relay's thread allocates little per chunk, but some of it is alive at every scavenge (the
 * chunks in the sockets' write queues, the batch of entries for the observer), and V8 grows a
 * young generation by the bytes that survive (Heap::ResizeNewSpace, `--semi-space-growth-factor`):
 * kubewire's grew from 1 MiB semi-spaces to 4 and more within a 64 MiB transfer, and a young
 * generation that large beside an old one of ~8 MiB left the old one too little room
 * (Heap::IncrementalMarkingLimitReached), so V8 started a major GC (incremental marking, then a
 * mark-compact) every 50-100 ms while bytes flowed: 36-40 mark-compacts in 640 MiB streamed,
 * against none in the bare TLS relay, whose heap stays under V8's 8 MiB threshold for marking.
 * Kept at 1 MiB, the relay's thread scavenges more often and marked 1-5 times. 128 MiB streams
 * with the fast client, 5 interleaved rounds, against the previous build in the same run: process
 * CPU per MiB `--payload none` 2.89 instead of 3.44, head 3.28-3.36 instead of 3.28-3.59, full
 * 4.06 instead of 4.38, most of it V8's helper threads (concurrent marking); throughput over the
 * relay's head 0.69-0.82 instead of 0.64-0.73.
 *
 * V8 reads the flag each time it would grow a young generation, so setting it at run time
 * works, with two catches. Loading a command's modules alone grows the young generation, so it
 * is set before they load (main.ts). And starting an isolate (the observer's worker) sets it back
 * to 2: the young generation grew again and marking came back (46 mark-compacts in 640 MiB with
 * the flag set only before the worker started), so it is set again once the observer runs. The
 * flag is the process's, so the observer's worker gets it too; its young generation is capped at
 * a few MiB anyway (OBSERVER_YOUNG_GENERATION_MB). Node 20's V8 (11.3) and later ones have the
 * flag; later ones also floor it at 2, where this does nothing.
 */
import { setFlagsFromString } from 'node:v8';

const HOLD = '--semi-space-growth-factor=1';
let held = false;

/** Called before the relay's modules load (main.ts). */
export function holdRelayYoungGeneration(): void {
  held = true;
  setFlagsFromString(HOLD);
}

/** Called once an isolate (a worker) started, which set the flag back: sets it again if the relay holds it. */
export function afterIsolateStart(): void {
  if (held) setFlagsFromString(HOLD);
}
