import { describe, expect, it } from 'vitest';
import { diagnoseEvents } from '../../../src/diagnose/engine.js';
import { runtimeStreaming } from '../../../src/diagnose/rules/runtime-streaming.js';
import type { EventBody } from '../../../src/events/types.js';
import { LogBuilder, closeFrame, data, ends, healthySpdyExec, healthyWsExec, stack, wsFrame, wsRequest, ws101 } from '../events.js';

const CRI_DOCKERD = 'Internal error occurred: error sending request: Get "https://[::]:36215/cri/exec/qD3xXnYs": http: server gave HTTP response to HTTPS client';
const CRIO = 'Internal error occurred: error executing command in container: websocket server finished before becoming ready';

function internal(message: string): EventBody {
  return { type: 'k8s.status', dir: 's2c', offset: 0, format: 'json', status: 'Failure', reason: 'InternalError', code: 500, exitCode: null, message, raw: JSON.stringify({ metadata: {}, status: 'Failure', message, reason: 'InternalError', code: 500 }) };
}

const after101 = (message: string): LogBuilder => new LogBuilder()
  .add('c1', wsRequest(), ws101(), stack('channel-v5'), wsFrame('s2c', 'binary', { length: 1 }), data('s2c', 'stdout', 0))
  .after(3).add('c1', wsFrame('s2c', 'binary', { length: 200 }), data('s2c', 'error', 199), internal(message), closeFrame('s2c'), closeFrame('c2s'), ...ends());

describe('runtime-streaming', () => {
  it('fires for cri-dockerd\'s plain-HTTP streaming server dialled over TLS (1.36, ExtendWebSocketsToKubelet)', () => {
    const [f, ...rest] = runtimeStreaming.evaluate(after101(CRI_DOCKERD).view());
    expect(rest).toEqual([]);
    expect(f).toMatchObject({ rule: 'runtime-streaming', conn: 'c1', severity: 'error', title: 'The container runtime\'s streaming server answered plain HTTP to a TLS dial', hop: { answeredBy: 'kubelet' } });
    expect(f!.explanation).toContain('The network and the gateway are fine');
    expect(f!.explanation).toContain('[::]:36215, its /cri/exec endpoint');
    expect(f!.explanation).toContain('ExtendWebSocketsToKubelet');
    expect(f!.fix).toContain('ExtendWebSocketsToKubelet=false');
    expect(f!.fix).toContain('Upgrade the container runtime');
  });

  it('fires for CRI-O\'s "websocket server finished before becoming ready", and is the session\'s only finding', () => {
    expect(runtimeStreaming.evaluate(after101(CRIO).view())[0]?.explanation).toContain('CRI-O');
    expect(diagnoseEvents(after101(CRI_DOCKERD).events).map((f) => f.rule)).toEqual(['runtime-streaming']);
  });

  it('is silent for other InternalErrors, exit codes and healthy sessions', () => {
    expect(runtimeStreaming.evaluate(after101('Internal error occurred: error dialing backend: dial tcp 10.0.0.5:10250: connect: connection refused').view())).toEqual([]);
    expect(runtimeStreaming.evaluate(healthyWsExec(new LogBuilder(), 'c1', 3).view())).toEqual([]);
    expect(runtimeStreaming.evaluate(healthySpdyExec(new LogBuilder()).view())).toEqual([]);
  });
});

