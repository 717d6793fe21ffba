/**
 * The seams of the demo cluster: the pod model, a running command, and a pod port. The
 * transports (WebSocket channels, SPDY streams, the port-forward tunnel) are written against
 * these, so the same command and the same port serve every protocol kubectl speaks.
 */
import type { Duplex } from 'node:stream';

export type PodPhase = 'Running' | 'Succeeded' | 'Pending';

export interface DemoContainer {
  name: string;
  image: string;
}

export interface DemoPod {
  namespace: string;
  name: string;
  uid: string;
  phase: PodPhase;
  containers: DemoContainer[];
  /** Ports a local service answers on: port number -> what it is. */
  ports: { port: number; protocol: 'http' | 'echo'; name: string }[];
  labels: Record<string, string>;
  createdAt: Date;
  nodeName: string;
  podIP: string;
}

/** A Kubernetes `metav1.Status` object as the API server writes it. */
export interface K8sStatus {
  kind?: 'Status';
  apiVersion?: 'v1';
  metadata: Record<string, never>;
  status: 'Success' | 'Failure';
  message?: string;
  reason?: string;
  details?: { name?: string; kind?: string; causes?: { reason: string; message: string }[] };
  code?: number;
}

/** What kubectl asked to run, from the exec/attach query. */
export interface CommandRequest {
  pod: DemoPod;
  container: string;
  command: string[];
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  tty: boolean;
  /** attach joins the container's long-running process instead of starting one. */
  attach: boolean;
  /** First terminal size, when the transport knows it before the start. */
  size?: { width: number; height: number };
}

/** Where a running command's output goes; implemented by each transport. */
export interface CommandOutput {
  /** Returns false when the transport is full; the command then waits for `drain`. */
  stdout(data: Buffer): boolean;
  stderr(data: Buffer): boolean;
  /**
   * Registers a listener called every time the transport can take more after a false return
   * (not once: a command registers it at its start and may be paused many times).
   */
  onDrain(listener: () => void): void;
  /** The command ended (or could not start): the transport writes the status and closes. */
  finish(status: K8sStatus): void;
}

/** A running command, driven by the transport. */
export interface RunningCommand {
  stdin(data: Buffer): void;
  /** The client ended stdin (v5 close signal, SPDY FIN). */
  stdinEnd(): void;
  resize(width: number, height: number): void;
  /** The client went away: stop the command (attach: just detach). */
  abort(): void;
}

export type StartCommand = (req: CommandRequest, out: CommandOutput) => RunningCommand;

/** Connects to a pod port; rejects with the text a kubelet writes on the error stream. */
export type DialPodPort = (pod: DemoPod, port: number) => Promise<Duplex>;
