import { describe, expect, it } from 'vitest';
import { diagnoseEvents } from '../../../src/diagnose/engine.js';
import { exitUnknown } from '../../../src/diagnose/rules/exit-unknown.js';
import { statusMissing } from '../../../src/diagnose/rules/status-missing.js';
import { LogBuilder, TUNNEL, closeFrame, connClose, connOpen, data, ends, healthySpdyExec, healthyWsExec, reply, spdy101, spdyFrame, spdyRequest, stack, syn, wsFrame, wsRequest, ws101 } from '../events.js';

const output = [wsFrame('s2c', 'binary', { length: 4 }), data('s2c', 'stdout', 3)];
const spdyExec = (log: LogBuilder): LogBuilder => log.add('c1', connOpen(), spdyRequest(), spdy101(), stack('spdy-v4', 'spdy', 'v4.channel.k8s.io'), syn(1, 'error'), reply(1), syn(3, 'stdout'), reply(3))
  .after(2).add('c1', spdyFrame('s2c', 'DATA', { streamId: 3, streamType: 'stdout', length: 3 }), data('s2c', 'stdout', 3));

describe('exit-unknown', () => {
  it('fires for a close frame with no status before it: kubectl reports success, the exit status is unknown', () => {
    const log = new LogBuilder('s', false).add('c1', wsRequest(), ws101(), stack('channel-v5'), ...output, closeFrame('s2c'), closeFrame('c2s'), ...ends());
    const [f, ...rest] = exitUnknown.evaluate(log.view());
    expect(rest).toEqual([]);
    expect(f).toMatchObject({ rule: 'exit-unknown', conn: 'c1', severity: 'error', hop: { where: 'kubewire↔upstream' } });
    expect(f!.title).toMatch(/exit status is unknown/);
    expect(f!.explanation).toContain('rc 0');
    expect(f!.explanation).toContain('unknown, not 0');
    expect(f!.explanation).toMatch(/kubelet or container runtime that restarts mid-exec/);
    expect(f!.evidence.facts.at(-1)).toBe('c1: close 1000 from the server');
  });

  it('fires when the SPDY error stream closed with nothing on it', () => {
    const log = spdyExec(new LogBuilder())
      .after(5).add('c1', spdyFrame('s2c', 'DATA', { streamId: 1, streamType: 'error', fin: true }), spdyFrame('s2c', 'GOAWAY', { lastGoodStreamId: 3 }), spdyFrame('c2s', 'GOAWAY', { lastGoodStreamId: 0 }), ...ends(), connClose('upstream', 9));
    const [f] = exitUnknown.evaluate(log.view());
    expect(f?.explanation).toContain('FIN on the error stream 1');
    expect(f?.explanation).toContain('nothing on the error stream');
  });

  it('fires for a TCP close under SPDY (a kubelet gone mid-exec): kubectl reports success', () => {
    const log = spdyExec(new LogBuilder()).after(5).add('c1', ...ends(), connClose('upstream', 9));
    expect(exitUnknown.evaluate(log.view())[0]?.evidence.facts.at(-1)).toBe('c1: the server side closed TCP');
  });

  it('and status-missing are one story: each ending without a status gives exactly one of the two', () => {
    const endings = [
      new LogBuilder('s', false).add('c1', wsRequest(), ws101(), stack('channel-v5'), ...output, closeFrame('s2c'), closeFrame('c2s'), ...ends()),
      new LogBuilder('s', false).add('c1', wsRequest(), ws101(), stack('channel-v5'), ...output, ...ends()),
      spdyExec(new LogBuilder()).after(5).add('c1', spdyFrame('s2c', 'GOAWAY', { lastGoodStreamId: 3 }), ...ends(), connClose('upstream', 9)),
      spdyExec(new LogBuilder()).after(5).add('c1', ...ends(), connClose('upstream', 9)),
    ];
    const rules = endings.map((log) => diagnoseEvents(log.events).map((f) => f.rule));
    expect(rules).toEqual([['exit-unknown'], ['status-missing'], ['exit-unknown'], ['exit-unknown']]);
    for (const log of endings) expect(exitUnknown.evaluate(log.view()).length + statusMissing.evaluate(log.view()).length).toBe(1);
  });

  it('is silent with a status, when the client ended the stream or left, after a silent cut, for v1 protocols and for port-forward', () => {
    expect(exitUnknown.evaluate(healthyWsExec(new LogBuilder()).view())).toEqual([]);
    expect(exitUnknown.evaluate(healthySpdyExec(new LogBuilder()).view())).toEqual([]);
    expect(exitUnknown.evaluate(healthyWsExec(new LogBuilder(), 'c1', 3).view())).toEqual([]);
    const clientFirst = new LogBuilder().add('c1', connOpen(), wsRequest(), ws101(), stack('channel-v5'), ...output)
      .after(5).add('c1', closeFrame('c2s')).after(1).add('c1', closeFrame('s2c'), ...ends(), connClose('upstream', 7));
    expect(exitUnknown.evaluate(clientFirst.view())).toEqual([]);
    const left = spdyExec(new LogBuilder()).after(9_000).add('c1', ...ends(), connClose('client', 9_000));
    expect(exitUnknown.evaluate(left.view())).toEqual([]);
    const cut = spdyExec(new LogBuilder()).after(30_000).add('c1', ...ends(), connClose('upstream', 30_000));
    expect(exitUnknown.evaluate(cut.view())).toEqual([]);
    const v1 = new LogBuilder('s', false).add('c1', wsRequest({ offered: ['channel.k8s.io'] }), ws101('channel.k8s.io'), stack('channel-v1', 'websocket', 'channel.k8s.io'), ...output, closeFrame('s2c'), ...ends());
    expect(exitUnknown.evaluate(v1.view())).toEqual([]);
    const pf = new LogBuilder('s', false).add('c1', wsRequest({ op: 'portforward', offered: [TUNNEL] }), ws101(TUNNEL), stack('portforward-tunnel', 'websocket+spdy', TUNNEL), closeFrame('s2c'), ...ends());
    expect(exitUnknown.evaluate(pf.view())).toEqual([]);
  });
});
