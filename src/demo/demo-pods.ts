/**
 * The demo pods and the JSON an API server returns for them: the v1 Pod, the PodList and the
 * server-side printed `meta.k8s.io/v1` Table that `kubectl get` asks for with
 * `Accept: application/json;as=Table;v=v1;g=meta.k8s.io` (the pod printer in
 * `pkg/printers/internalversion/printers.go`). Statuses match the phase: containers running,
 * terminated with `Completed`, or waiting in `ContainerCreating`.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { DemoContainer, DemoPod } from './contracts.js';

export const DEMO_NAMESPACE = 'default';
export const DEMO_NODE = 'kubewire-node';
const HOST_IP = '172.18.0.2';
const MINUTE_MS = 60_000;

export function demoPods(now: Date = new Date()): DemoPod[] {
  const ago = (minutes: number): Date => new Date(Math.floor((now.getTime() - minutes * MINUTE_MS) / 1000) * 1000);
  const pod = (name: string, phase: DemoPod['phase'], containers: DemoContainer[], ports: DemoPod['ports'], minutes: number, ip: string): DemoPod => ({
    namespace: DEMO_NAMESPACE,
    name,
    uid: randomUUID(),
    phase,
    containers,
    ports,
    labels: { app: name },
    createdAt: ago(minutes),
    nodeName: DEMO_NODE,
    podIP: ip,
  });
  return [
    pod('web', 'Running', [{ name: 'app', image: 'nginx:1.27-alpine' }, { name: 'sidecar', image: 'busybox:1.36' }], [{ port: 80, protocol: 'http', name: 'http' }], 42, '10.244.0.11'),
    pod('worker', 'Running', [{ name: 'worker', image: 'busybox:1.36' }], [{ port: 7, protocol: 'echo', name: 'echo' }], 137, '10.244.0.12'),
    pod('done', 'Succeeded', [{ name: 'job', image: 'busybox:1.36' }], [], 300, '10.244.0.13'),
    pod('pending', 'Pending', [{ name: 'app', image: 'nginx:1.27-alpine' }], [], 1.5, '10.244.0.14'),
  ];
}

/** What the server tracks per pod beyond the model: its resourceVersion and annotations. */
export interface PodMeta {
  resourceVersion?: string;
  annotations?: Record<string, string>;
}

export type MetaOf = (pod: DemoPod) => PodMeta;
const NO_META: MetaOf = () => ({});

type Json = Record<string, unknown>;

const iso = (d: Date): string => d.toISOString().replace(/\.\d{3}Z$/, 'Z');
const later = (d: Date, seconds: number): Date => new Date(d.getTime() + seconds * 1000);
const digest = (s: string): string => createHash('sha256').update(s).digest('hex');

function metadata(pod: DemoPod, meta: PodMeta): Json {
  const m: Json = {
    name: pod.name,
    namespace: pod.namespace,
    uid: pod.uid,
    resourceVersion: meta.resourceVersion ?? '1',
    creationTimestamp: iso(pod.createdAt),
    labels: { ...pod.labels },
  };
  if (meta.annotations && Object.keys(meta.annotations).length) m.annotations = { ...meta.annotations };
  return m;
}

function containerSpec(c: DemoContainer, i: number, pod: DemoPod): Json {
  const spec: Json = {
    name: c.name,
    image: c.image,
    resources: {},
    terminationMessagePath: '/dev/termination-log',
    terminationMessagePolicy: 'File',
    imagePullPolicy: 'IfNotPresent',
  };
  // The pod's ports belong to its first container.
  if (i === 0 && pod.ports.length) spec.ports = pod.ports.map((p) => ({ name: p.name, containerPort: p.port, protocol: 'TCP' }));
  return spec;
}

function containerStatus(c: DemoContainer, pod: DemoPod): Json {
  const containerID = `containerd://${digest(pod.uid + '/' + c.name)}`;
  const imageID = `docker.io/library/${c.image.split(':')[0]}@sha256:${digest(c.image)}`;
  const base = { name: c.name, image: `docker.io/library/${c.image}`, lastState: {}, restartCount: 0 };
  const startedAt = iso(later(pod.createdAt, 3));
  switch (pod.phase) {
    case 'Running':
      return { ...base, containerID, imageID, ready: true, started: true, state: { running: { startedAt } } };
    case 'Succeeded':
      return {
        ...base,
        containerID,
        imageID,
        ready: false,
        started: false,
        state: { terminated: { containerID, exitCode: 0, reason: 'Completed', startedAt, finishedAt: iso(later(pod.createdAt, 8)) } },
      };
    case 'Pending':
      return { ...base, imageID: '', ready: false, started: false, state: { waiting: { reason: 'ContainerCreating' } } };
  }
}

function conditions(pod: DemoPod): Json[] {
  const t0 = iso(pod.createdAt);
  const tStart = iso(later(pod.createdAt, 4));
  const cond = (type: string, status: boolean, at: string, reason?: string, message?: string): Json => {
    const c: Json = { type, status: status ? 'True' : 'False', lastProbeTime: null, lastTransitionTime: at };
    if (reason) c.reason = reason;
    if (message) c.message = message;
    return c;
  };
  const names = pod.containers.map((c) => c.name).join(' ');
  switch (pod.phase) {
    case 'Running':
      return [cond('PodReadyToStartContainers', true, tStart), cond('Initialized', true, t0), cond('Ready', true, tStart), cond('ContainersReady', true, tStart), cond('PodScheduled', true, t0)];
    case 'Succeeded': {
      const tEnd = iso(later(pod.createdAt, 9));
      return [
        cond('PodReadyToStartContainers', false, tEnd),
        cond('Initialized', true, t0, 'PodCompleted'),
        cond('Ready', false, tEnd, 'PodCompleted'),
        cond('ContainersReady', false, tEnd, 'PodCompleted'),
        cond('PodScheduled', true, t0),
      ];
    }
    case 'Pending':
      return [
        cond('PodReadyToStartContainers', false, t0),
        cond('Initialized', true, t0),
        cond('Ready', false, t0, 'ContainersNotReady', `containers with unready status: [${names}]`),
        cond('ContainersReady', false, t0, 'ContainersNotReady', `containers with unready status: [${names}]`),
        cond('PodScheduled', true, t0),
      ];
  }
}

function podBody(pod: DemoPod, meta: PodMeta): Json {
  const status: Json = { phase: pod.phase, conditions: conditions(pod), hostIP: HOST_IP, hostIPs: [{ ip: HOST_IP }] };
  // A pod still creating its sandbox has no IP yet.
  if (pod.phase !== 'Pending') {
    status.podIP = pod.podIP;
    status.podIPs = [{ ip: pod.podIP }];
  }
  status.startTime = iso(later(pod.createdAt, 1));
  status.containerStatuses = pod.containers.map((c) => containerStatus(c, pod));
  status.qosClass = 'BestEffort';
  return {
    metadata: metadata(pod, meta),
    spec: {
      containers: pod.containers.map((c, i) => containerSpec(c, i, pod)),
      restartPolicy: pod.phase === 'Succeeded' ? 'Never' : 'Always',
      terminationGracePeriodSeconds: 30,
      dnsPolicy: 'ClusterFirst',
      serviceAccountName: 'default',
      serviceAccount: 'default',
      nodeName: pod.nodeName,
      securityContext: {},
      schedulerName: 'default-scheduler',
      tolerations: [
        { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
        { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
      ],
      priority: 0,
      enableServiceLinks: true,
      preemptionPolicy: 'PreemptLowerPriority',
    },
    status,
  };
}

/** A v1 Pod as `GET /api/v1/namespaces/NS/pods/NAME` returns it. */
export function podJson(pod: DemoPod, meta: PodMeta = {}): Json {
  return { kind: 'Pod', apiVersion: 'v1', ...podBody(pod, meta) };
}

/** A PodList; like the real server, its items carry no kind/apiVersion. */
export function podListJson(pods: DemoPod[], resourceVersion: string, metaOf: MetaOf = NO_META): Json {
  return { kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion }, items: pods.map((p) => podBody(p, metaOf(p))) };
}

/** `includeObject` of a Table request: what each row's `object` holds. Default Metadata. */
export type IncludeObject = 'None' | 'Metadata' | 'Object';

export interface PodTableOptions {
  resourceVersion?: string;
  includeObject?: IncludeObject;
  metaOf?: MetaOf;
  /** Watch events after the first omit the column definitions, as the real server does. */
  columnDefinitions?: boolean;
  /** The Table version the client asked for. */
  apiVersion?: 'meta.k8s.io/v1' | 'meta.k8s.io/v1beta1';
  now?: Date;
}

const col = (name: string, priority: 0 | 1, description: string, format = ''): Json => ({ name, type: 'string', format, description, priority });

export const POD_COLUMNS: readonly Json[] = [
  col('Name', 0, 'Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names', 'name'),
  col('Ready', 0, 'The aggregate readiness state of this pod for accepting traffic.'),
  col('Status', 0, 'The aggregate status of the containers in this pod.'),
  col('Restarts', 0, 'The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.'),
  col('Age', 0, 'CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata'),
  col('IP', 1, 'IP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.'),
  col('Node', 1, 'NodeName indicates in which node this pod is scheduled. If empty, this pod is a candidate for preemption by the scheduler.'),
  col('Nominated Node', 1, 'nominatedNodeName is set only when this pod preempts other pods on the node, but it cannot be scheduled right away as preemption victims receive their graceful termination periods. This field does not guarantee that the pod will be scheduled on this node. Scheduler may decide to place the pod elsewhere if other nodes become available sooner. Scheduler may also decide to give the resources on this node to a higher priority pod that is created after preemption. As a result, this field may be different than PodSpec.nodeName when the pod is scheduled.'),
  col('Readiness Gates', 1, 'If specified, all readiness gates will be evaluated for pod readiness. A pod is ready when all its containers are ready AND all conditions specified in the readiness gates have status equal to "True" More info: https://git.k8s.io/enhancements/keps/sig-network/580-pod-readiness-gates'),
];

const STATUS_TEXT: Record<DemoPod['phase'], string> = { Running: 'Running', Succeeded: 'Completed', Pending: 'ContainerCreating' };

function podRow(pod: DemoPod, meta: PodMeta, include: IncludeObject, now: Date): Json {
  const ready = pod.phase === 'Running' ? pod.containers.length : 0;
  const row: Json = {
    cells: [
      pod.name,
      `${ready}/${pod.containers.length}`,
      STATUS_TEXT[pod.phase],
      '0',
      humanDuration(now.getTime() - pod.createdAt.getTime()),
      pod.phase === 'Pending' ? '<none>' : pod.podIP,
      pod.nodeName || '<none>',
      '<none>',
      '<none>',
    ],
  };
  if (pod.phase === 'Succeeded') {
    row.conditions = [{ type: 'Completed', status: 'True', reason: 'Succeeded', message: 'The pod has completed successfully.' }];
  }
  if (include === 'Metadata') row.object = { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: metadata(pod, meta) };
  else if (include === 'Object') row.object = podJson(pod, meta);
  return row;
}

/** The server-side printed Table for pods (`kubectl get pods`, `-o wide` shows priority 1). */
export function podTableJson(pods: DemoPod[], opts: PodTableOptions = {}): Json {
  const metaOf = opts.metaOf ?? NO_META;
  const now = opts.now ?? new Date();
  const table: Json = { kind: 'Table', apiVersion: opts.apiVersion ?? 'meta.k8s.io/v1', metadata: opts.resourceVersion ? { resourceVersion: opts.resourceVersion } : {} };
  if (opts.columnDefinitions !== false) table.columnDefinitions = POD_COLUMNS;
  table.rows = pods.map((p) => podRow(p, metaOf(p), opts.includeObject ?? 'Metadata', now));
  return table;
}

/** apimachinery `duration.HumanDuration`, which the printers use for Age. */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 60 * 2) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) {
    const s = seconds % 60;
    return s === 0 ? `${minutes}m` : `${minutes}m${s}s`;
  }
  if (minutes < 60 * 3) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 8) {
    const m = minutes % 60;
    return m === 0 ? `${hours}h` : `${hours}h${m}m`;
  }
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8) {
    const h = hours % 24;
    return h === 0 ? `${Math.floor(hours / 24)}d` : `${Math.floor(hours / 24)}d${h}h`;
  }
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24)}d`;
  if (hours < 24 * 365 * 8) {
    const d = Math.floor(hours / 24) % 365;
    const y = Math.floor(hours / 24 / 365);
    return d === 0 ? `${y}y` : `${y}y${d}d`;
  }
  return `${Math.floor(hours / 24 / 365)}y`;
}
