/**
 * The WebSocket subprotocols of the Kubernetes channel protocols a streaming server speaks
 * (protocol.md A §1.1): the API server's translator (v5) and the kubelet (v4, v1 and their
 * base64 variants) for exec and attach, the kubelet for the legacy WebSocket port-forward. Both
 * the demo cluster and `--translate ws-to-spdy` serve these, from one list.
 */
export const REMOTE_COMMAND_WS_PROTOCOLS = ['v5.channel.k8s.io', 'v4.channel.k8s.io', 'v4.base64.channel.k8s.io', 'channel.k8s.io', 'base64.channel.k8s.io'] as const;

export const PORTFORWARD_WS_PROTOCOLS = ['v4.channel.k8s.io', 'v4.base64.channel.k8s.io', 'channel.k8s.io', 'base64.channel.k8s.io'] as const;

/** Whether a channel protocol sends its messages as base64 text, `'0'+channel` first (A §1.3). */
export function isBase64ChannelProtocol(protocol: string): boolean {
  return protocol === 'base64.channel.k8s.io' || protocol === 'v4.base64.channel.k8s.io';
}
