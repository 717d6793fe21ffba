import { describe, expect, it } from 'vitest';
import { MAX_STATUS_BYTES } from '../../src/codec/limits.js';
import { StatusBytes } from '../../src/translate/status-bytes.js';

describe('StatusBytes', () => {
  it('keeps a status whole, copied, and is empty after take', () => {
    const s = new StatusBytes();
    const a = Buffer.from('{"kind":"Status",');
    s.push(a);
    s.push(Buffer.from('"status":"Success"}'));
    a.fill(0);
    expect(s.take().toString()).toBe('{"kind":"Status","status":"Success"}');
    expect(s.length).toBe(0);
  });

  it('cuts a status past the limit, and never splices a later piece in after one that did not fit', () => {
    const s = new StatusBytes();
    s.push(Buffer.alloc(MAX_STATUS_BYTES - 10, 0x61));
    s.push(Buffer.alloc(20, 0x62));
    s.push(Buffer.from('tail'));
    const kept = s.take();
    expect(kept.length).toBe(MAX_STATUS_BYTES);
    expect(kept.subarray(-10).toString()).toBe('b'.repeat(10));
    expect(kept.includes('tail')).toBe(false);
  });
});
