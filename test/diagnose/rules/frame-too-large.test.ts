import { describe, expect, it } from 'vitest';
import { frameTooLarge } from '../../../src/diagnose/rules/frame-too-large.js';
import { LogBuilder, closeFrame, ends, healthyWsExec, stack, wsFrame, wsRequest, ws101 } from '../events.js';

describe('frame-too-large', () => {
  it('fires for a close 1009 from the server side', () => {
    const log = new LogBuilder('s', false).add('c1', wsRequest(), ws101(), stack('channel-v5'), wsFrame('c2s', 'binary', { length: 32769 }), closeFrame('s2c', 1009), ...ends());
    const [f] = frameTooLarge.evaluate(log.view());
    expect(f).toMatchObject({ rule: 'frame-too-large', conn: 'c1', severity: 'error', hop: { where: 'kubewire↔upstream' } });
    expect(f!.explanation).toContain('1009');
  });

  it('fires for a client frame above 32 MiB', () => {
    const log = new LogBuilder('s', false).add('c1', wsRequest(), ws101(), wsFrame('c2s', 'binary', { length: 40 * 1024 * 1024 }), ...ends());
    const [f] = frameTooLarge.evaluate(log.view());
    expect(f?.title).toContain('40.0 MiB');
    expect(f?.hop.where).toBe('client↔kubewire');
  });

  it('is silent for kubectl\'s 32 KiB frames and a normal close', () => {
    expect(frameTooLarge.evaluate(healthyWsExec(new LogBuilder()).view())).toEqual([]);
    const cp = new LogBuilder('s', false).add('c1', wsRequest(), ws101(), wsFrame('c2s', 'binary', { length: 32769 }), closeFrame('s2c', 1000), ...ends());
    expect(frameTooLarge.evaluate(cp.view())).toEqual([]);
  });
});
