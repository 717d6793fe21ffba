/**
 * How many of the relay's copies the observer has not decoded yet, counted in shared memory
 * (a SharedArrayBuffer and Atomics) instead of acknowledged by messages.
 *
 * The relay counts what it copied, the observer adds what it decoded to one shared counter,
 * and the difference is in flight: exact at any moment, and nothing crosses the threads for it.
 * An `ack` message per MiB woke the relay's thread once per MiB streamed and cost both threads
 * a message each time, and it could only say "at most ACK_BYTES more than this".
 *
 * Only a relay that is held (the lossless brake, worker-observer.ts) needs to hear of progress.
 * It raises a flag, then reads the counter; the observer adds to the counter, then clears the
 * flag, and sends one `decoded` message if the flag was up. All four steps are sequentially
 * consistent (Atomics), so of a relay that raised the flag just after the observer's last
 * check, either the relay's read sees that last decode or the observer's next check sees the
 * flag: no wake-up is lost, and at most one comes that was not needed.
 *
 * Both counts run modulo 2^32 (bytes in flight stay far below 2^31: the relay holds or skips
 * past LOSSLESS_IN_FLIGHT and LOSSY_IN_FLIGHT).
 */

const DECODED = 0;
const WAITING = 1;

/** What both threads share. */
export function inFlightMemory(): SharedArrayBuffer {
  return new SharedArrayBuffer(2 * Int32Array.BYTES_PER_ELEMENT);
}

/** The relay's side. */
export class InFlight {
  private readonly cells: Int32Array;
  /** Bytes copied since the start, modulo 2^32. */
  private copied = 0;

  constructor(memory: SharedArrayBuffer) {
    this.cells = new Int32Array(memory);
  }

  copy(bytes: number): void {
    this.copied = (this.copied + bytes) >>> 0;
  }

  /** Copied and not yet decoded. */
  get bytes(): number {
    return (this.copied - Atomics.load(this.cells, DECODED)) >>> 0;
  }

  /** Asks for a `decoded` message at the observer's next progress; then reads what is in flight. */
  wake(): number {
    Atomics.store(this.cells, WAITING, 1);
    return this.bytes;
  }

  /** No message needed any more. */
  settle(): void {
    Atomics.store(this.cells, WAITING, 0);
  }
}

/** The observer's side. */
export class Decoded {
  private readonly cells: Int32Array;

  constructor(memory: SharedArrayBuffer) {
    this.cells = new Int32Array(memory);
  }

  /** Adds `bytes` decoded; true when the relay asked to hear of it (once per ask). */
  add(bytes: number): boolean {
    Atomics.add(this.cells, DECODED, bytes | 0);
    return Atomics.compareExchange(this.cells, WAITING, 1, 0) === 1;
  }
}
