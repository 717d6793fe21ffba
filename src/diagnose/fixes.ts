/**
 * Configuration snippets the findings recommend, written once so every rule says them alike.
 */
import type { ConnView } from './types.js';
import { operationOf } from './answer.js';

export const NGINX_UPGRADE = 'nginx: `proxy_http_version 1.1; proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection "upgrade";` in the location that proxies to the API server';
export const ENVOY_UPGRADE = 'Envoy/Istio: `upgrade_configs: [{upgrade_type: websocket}, {upgrade_type: spdy/3.1}]` on the route, HTTP/1.1 to the API server';
export const ALB_TO_NLB = 'AWS: an ALB terminates HTTP and cannot carry SPDY; put the API server behind an NLB (TCP/TLS passthrough) instead';
export const HAPROXY_TUNNEL = 'HAProxy: `timeout tunnel 1h` (it governs upgraded connections; `timeout client`/`timeout server` stop applying once the 101 passed)';
export const NGINX_TIMEOUTS = 'nginx: `proxy_read_timeout 3600s; proxy_send_timeout 3600s;`';
export const ENV_EXEC = 'KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false';
export const ENV_PORT_FORWARD = 'KUBECTL_PORT_FORWARD_WEBSOCKETS=false';

/** The environment variable that makes kubectl skip the WebSocket attempt for this operation. */
export function webSocketSwitch(c: ConnView): string {
  return operationOf(c) === 'portforward' ? ENV_PORT_FORWARD : ENV_EXEC;
}

export function kubectlCommandFor(c: ConnView): string {
  const op = operationOf(c);
  return op === 'portforward' ? 'kubectl port-forward' : op === 'attach' ? 'kubectl attach' : 'kubectl exec/cp';
}

/**
 * The `--translate` fix (src/translate). `spdy-to-ws`: for a refused SPDY upgrade on a path that
 * may carry WebSocket, kubewire speaks WebSocket for a client that only speaks SPDY.
 * `ws-to-spdy`: for a control plane that refuses WebSocket streaming, kubewire placed after the
 * hops that refuse SPDY (on a bastion, or in the cluster) speaks SPDY for a WebSocket client.
 */
export function translateFix(c: ConnView, direction: 'spdy-to-ws' | 'ws-to-spdy' = 'spdy-to-ws'): string {
  const cmd = c.request?.kubectlCommand ?? kubectlCommandFor(c);
  if (direction === 'ws-to-spdy') {
    return 'Where SPDY cannot reach the API server either (a hop in front refuses it), or the client has no SPDY fallback, '
      + `kubewire placed after that hop (on a bastion, or in the cluster) speaks SPDY for it: kubewire proxy --translate ws-to-spdy (or kubewire run --translate ws-to-spdy -- ${cmd} …).`;
  }
  return `With a client that only speaks SPDY, kubewire can speak WebSocket for it where the path carries WebSocket: kubewire run --translate spdy-to-ws -- ${cmd} … (or kubewire proxy --translate spdy-to-ws).`;
}
