/** A round trip through a forwarded echo port: `sent`, then the half-close, and every byte back. */
import { connect } from 'node:net';

/** 256 KiB (by default) of a pattern that shows any byte moved or lost. */
export function echoPattern(size = 256 * 1024): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i < b.length; i++) b[i] = (i * 13) & 0xff;
  return b;
}

/** Sends `sent` to 127.0.0.1:`port`, ends its side, and resolves with all it got before the end. */
export function echoRoundTrip(port: number, sent: Buffer, ms = 15_000): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const got: Buffer[] = [];
    const s = connect(port, '127.0.0.1', () => s.end(sent));
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`echo timed out after ${Buffer.concat(got).length} bytes`));
    }, ms);
    s.on('data', (d: Buffer) => got.push(d));
    s.on('end', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(got));
    });
    s.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}
