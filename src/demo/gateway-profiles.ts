/**
 * Gateway profiles: each makes the demo cluster fail the way one real gateway, load balancer
 * or old API server does, so users and tests can watch what kubectl does about it. The names
 * are part of the interface (`kubewire cluster --gateway NAME`). They can be changed while the
 * cluster runs; every handler reads them at the moment it decides.
 */
export const GATEWAY_PROFILES = {
  'no-websocket': 'WebSocket exec/attach upgrades get 403 with no body, like an API server of 1.29 or older; kubectl falls back to SPDY',
  'no-pf-websocket': 'the port-forward tunnel gets 400 `query parameter "port" is required`, like an API server without PortForwardWebsockets',
  'no-spdy': 'SPDY upgrades get 400 `Upgrade request required`, as behind an AWS ALB',
  'strip-upgrade': 'every upgrade is answered as if a proxy had removed the Upgrade header (400 `Upgrade request required`)',
  'no-pong': 'WebSocket pings are never answered (kubectl gives up after 61 s)',
  'idle-timeout': 'idle-timeout=N: the connection is cut after N seconds without frames, with no close frame',
  'drop-status': 'the exit status is never sent; the connection closes normally (kubectl reports success)',
  'no-close-frame': 'after the status the TCP connection ends with no WebSocket close frame (kubectl exits 1, close 1006)',
  'no-stream-version': 'the SPDY 101 lacks X-Stream-Protocol-Version (kubectl falls back to v1: exit codes are lost)',
  'runtime-http': 'WebSocket exec/attach get a 101, then an InternalError status from a runtime streaming server that answers plain HTTP (1.36 with cri-dockerd)',
} as const;

export type GatewayProfileName = keyof typeof GATEWAY_PROFILES;

/** The profiles as `kubewire cluster --help` lists them. */
export function gatewayHelp(): string {
  return Object.entries(GATEWAY_PROFILES).map(([name, what]) => `  ${name.padEnd(18)} ${what}`).join('\n');
}

export class GatewayProfiles {
  private active = new Set<GatewayProfileName>();
  private idleSeconds: number | null = null;

  constructor(specs: string[] = []) {
    this.set(specs);
  }

  /** Replaces the active profiles; throws with a clear message on an unknown name. */
  set(specs: string[]): void {
    const next = new Set<GatewayProfileName>();
    let idle: number | null = null;
    for (const spec of specs.flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean)) {
      const [name, value] = spec.split('=', 2) as [string, string | undefined];
      if (!(name in GATEWAY_PROFILES)) {
        throw new Error(`unknown gateway profile "${name}"; known: ${Object.keys(GATEWAY_PROFILES).join(', ')}`);
      }
      if (name === 'idle-timeout') {
        const n = Number(value);
        if (value === undefined || !Number.isFinite(n) || n <= 0) throw new Error('idle-timeout needs a number of seconds: idle-timeout=30');
        idle = n;
      } else if (value !== undefined) {
        throw new Error(`gateway profile "${name}" takes no value`);
      }
      next.add(name as GatewayProfileName);
    }
    this.active = next;
    this.idleSeconds = idle;
  }

  has(name: GatewayProfileName): boolean {
    return this.active.has(name);
  }

  /** Seconds without frames after which connections are cut, or null. */
  get idleTimeoutSeconds(): number | null {
    return this.idleSeconds;
  }

  list(): string[] {
    return [...this.active].map((n) => (n === 'idle-timeout' ? `idle-timeout=${this.idleSeconds}` : n));
  }
}
