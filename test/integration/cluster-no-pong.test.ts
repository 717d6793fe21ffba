/**
 * The no-pong profile on its own file, so its minute of waiting runs beside the other tests:
 * kubectl's read deadline is extended only by pongs (client-go websocket.go heartbeat).
 */
import { describe, expect, it } from 'vitest';
import { availableKubectls, runKubectl, WEBSOCKET_ENV as WS } from '../support/kubectl.js';
import { startTestCluster } from '../support/demo-cluster.js';

const [v] = availableKubectls(['1.33']);

describe.skipIf(!v)('no-pong with real kubectl', () => {
  it('kubectl gives up after 61 s when pongs never come', async () => {
    const own = await startTestCluster({ gateway: ['no-pong'] });
    try {
      const r = await runKubectl(v!, ['exec', 'web', '--', 'sh', '-c', 'sleep 75; echo done'], { kubeconfig: own.kubeconfig, home: own.home, env: WS, timeoutMs: 90_000 });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/i\/o timeout/);
      expect(r.stdout).not.toContain('done');
    } finally {
      await own.stop();
    }
  }, 100_000);
});
