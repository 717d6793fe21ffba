/**
 * The demo cluster's API server: HTTPS on loopback, HTTP/1.1 only (ALPN), bearer-token auth,
 * just enough of `/api/v1` for kubectl's discovery, `get`, `logs` and the pod GETs it makes
 * before exec, attach and port-forward (protocol.md B §1-§2), and the SelfSubjectReview behind
 * `kubectl auth whoami` and kubewire's audit identity. Upgrades (WebSocket GET and
 * SPDY POST alike) for exec/attach/portforward are checked here, then handed to `onUpgrade`.
 *
 * Each bearer token is one user with one role and its groups (rbac.ts): the demo's own token is
 * a cluster admin, `kubewire cluster --user NAME=ROLE` adds more, `--group GROUP=ROLE` binds
 * roles to groups. Requests are authorized as RBAC does, by the user's role and its groups',
 * SelfSubjectReview and SelfSubjectAccessReview answer for the token's user, and the version
 * (`--server-version`) decides how stream upgrades are authorized.
 *
 * Replies copy a real API server's: Status bodies (k8s-errors.ts), Table when the Accept header
 * asks `as=Table`, PodList items without kind/apiVersion, watch events as newline-separated
 * JSON objects on a chunked response.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { ServerResponse, type IncomingMessage } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex, Readable } from 'node:stream';
import type { DemoPod, K8sStatus } from './contracts.js';
import { humanDuration, podJson, podListJson, podTableJson, type IncludeObject, type PodMeta } from './demo-pods.js';
import { badRequest, forbidden, internalError, methodNotAllowed, notFound, pathNotFound, requestEntityTooLarge, unauthorized, writeStatus } from './k8s-errors.js';
import { decodeReview, isProtobufBody } from './protobuf-body.js';
import { allowed, allowedReason, deniedReason, isAdmin, NO_GROUP_BINDINGS, upgradeVerbs, type AccessAttributes, type DemoUser, type GroupBindings } from './rbac.js';
import { impersonate } from './impersonation.js';
import { refuseUpgrade } from '../http/raw-response.js';
import { isTrue } from '../codec/k8s-request.js';

export interface UpgradeRoute {
  kind: 'exec' | 'attach' | 'portforward';
  pod: DemoPod;
  query: URLSearchParams;
  path: string;
}

export type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer, route: UpgradeRoute) => void;

export interface LogOptions {
  follow: boolean;
  tailLines?: number;
  timestamps: boolean;
}

export type LogSource = (pod: DemoPod, container: string, opts: LogOptions) => Readable;

export interface ServerVersion {
  major: string;
  minor: string;
  gitVersion: string;
}

/** A user of the demo cluster and the bearer token that authenticates it. */
export interface DemoCredential {
  user: DemoUser;
  token: string;
}

export interface DemoApiServerOptions {
  tls: { certPem: string; keyPem: string };
  /** The token of the demo's cluster admin (DEMO_USER_INFO). */
  token: string;
  /** More users, each with its own token, role and groups. */
  users?: DemoCredential[];
  /** The roles bound to groups; read on every request, so a change applies to the next one. */
  groups?: GroupBindings;
  pods: DemoPod[];
  logs: LogSource;
  onUpgrade: UpgradeHandler;
  /**
   * A gateway in front of the API server: it sees every upgrade first, before authentication
   * and the pod lookup, and returns true when it answered the request itself.
   */
  gateway?: (req: IncomingMessage, socket: Duplex) => boolean;
  version?: ServerVersion;
  /** How often a watch sees `worker` modified. Default 2000 ms. */
  watchIntervalMs?: number;
}

const JSON_HEADERS = { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private' };
const DEFAULT_VERSION: ServerVersion = { major: '1', minor: '33', gitVersion: 'v1.33.1' };
const SYSTEM_NAMESPACES = ['default', 'kube-node-lease', 'kube-public', 'kube-system'];
const HEARTBEAT_POD = 'worker';
const HEARTBEAT_ANNOTATION = 'kubewire.dev/heartbeat';
/** An answered upgrade socket whose client never closes is cut after this long. */
const REFUSAL_LINGER_MS = 5000;
/** A SelfSubjectReview body is a few dozen bytes; the apiserver's own limit is 3 MiB. */
const MAX_REVIEW_BODY = 64 * 1024;
const AUTHENTICATION_V1 = 'authentication.k8s.io/v1';
const AUTHORIZATION_V1 = 'authorization.k8s.io/v1';

/** Who the demo's bearer token authenticates as: a cluster admin, as with a kubeadm admin.conf. */
export const DEMO_USER_INFO = {
  username: 'kubewire-demo-admin',
  uid: '856f4895-e030-4e7c-9eb7-8a6b9b3fd43d',
  groups: ['system:masters', 'system:authenticated'],
} as const;

const DEMO_ADMIN: DemoUser = { name: DEMO_USER_INFO.username, uid: DEMO_USER_INFO.uid, groups: [...DEMO_USER_INFO.groups], role: 'admin' };

type Route =
  | { t: 'version' | 'api' | 'apis' | 'apiv1' | 'namespaces' | 'health' | 'selfsubjectreview' | 'selfsubjectaccessreview' | 'tokenreview' }
  | { t: 'namespace'; ns: string }
  | { t: 'pods'; ns: string | null }
  | { t: 'pod' | 'log'; ns: string; name: string }
  | { t: 'stream'; kind: UpgradeRoute['kind']; ns: string; name: string };

interface TableRequest {
  apiVersion: 'meta.k8s.io/v1' | 'meta.k8s.io/v1beta1';
  includeObject: IncludeObject;
}

interface Watcher {
  ns: string | null;
  match: (pod: DemoPod) => boolean;
  table: TableRequest | null;
  res: ServerResponse;
  sentColumns: boolean;
}

export class DemoApiServer {
  private readonly server: Server;
  private readonly sockets = new Set<Duplex>();
  private readonly watchers = new Set<Watcher>();
  private readonly meta = new Map<DemoPod, { resourceVersion: string; annotations: Record<string, string> }>();
  private readonly credentials: { digest: Buffer; user: DemoUser }[];
  private resourceVersion = 41200;
  private ticker: NodeJS.Timeout | null = null;
  private address = '';

  constructor(private readonly opts: DemoApiServerOptions) {
    this.credentials = [{ token: opts.token, user: DEMO_ADMIN }, ...(opts.users ?? [])].map((c) => ({ digest: sha256(`Bearer ${c.token}`), user: c.user }));
    for (const pod of opts.pods) this.meta.set(pod, { resourceVersion: String(++this.resourceVersion), annotations: {} });
    this.server = createServer({ cert: opts.tls.certPem, key: opts.tls.keyPem, ALPNProtocols: ['http/1.1'], noDelay: true });
    this.server.keepAliveTimeout = 65_000;
    const track = (socket: Duplex): void => {
      socket.on('error', () => socket.destroy());
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    };
    this.server.on('connection', track);
    this.server.on('secureConnection', track);
    this.server.on('tlsClientError', (_err, socket) => socket.destroy());
    this.server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      try {
        this.handle(req, res);
      } catch (e) {
        writeStatus(res, internalError(e instanceof Error ? e.message : String(e)));
      }
    });
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      try {
        this.handleUpgrade(req, socket, head);
      } catch {
        socket.destroy();
      }
    });
  }

  listen(host: string, port: number): Promise<{ host: string; port: number; url: string }> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        const a = this.server.address() as AddressInfo;
        const h = a.family === 'IPv6' || a.address.includes(':') ? `[${a.address}]` : a.address;
        this.address = `${h}:${a.port}`;
        resolve({ host: a.address, port: a.port, url: `https://${this.address}` });
      });
    });
  }

  close(): Promise<void> {
    this.stopTicker();
    for (const w of this.watchers) w.res.end();
    this.watchers.clear();
    return new Promise((resolve) => {
      if (!this.server.listening) resolve();
      else this.server.close(() => resolve());
      for (const s of this.sockets) s.destroy();
      this.sockets.clear();
    });
  }

  /** The user the request acts as (its token's, or whom it impersonates), null without a known token, or the Status refusing its impersonation. */
  private authenticate(req: IncomingMessage): DemoUser | K8sStatus | null {
    const user = this.tokenUser(req.headers.authorization);
    return user && impersonate(req, user, (name) => this.credentials.find((c) => c.user.name === name)?.user, this.groups);
  }

  private get groups(): GroupBindings {
    return this.opts.groups ?? NO_GROUP_BINDINGS;
  }

  /** The user a bearer token (an Authorization header) authenticates, or null. */
  private tokenUser(h: string | undefined): DemoUser | null {
    if (typeof h !== 'string') return null;
    // The scheme is case-insensitive (apiserver bearertoken authenticator).
    const digest = sha256(h.replace(/^bearer /i, 'Bearer '));
    let found: DemoUser | null = null;
    // Every token is compared, so the time taken does not say which one matched.
    for (const c of this.credentials) if (timingSafeEqual(digest, c.digest)) found = c.user;
    return found;
  }

  private get minor(): number {
    return Number((this.opts.version ?? DEFAULT_VERSION).minor);
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const user = this.authenticate(req);
    if (!user) return writeStatus(res, unauthorized());
    if (!isUser(user)) return writeStatus(res, user);
    const { path, query } = splitUrl(req.url);
    const route = parseRoute(path);
    if (!route) return writeStatus(res, pathNotFound());
    const method = req.method ?? 'GET';
    const denied = this.denied(user, route, method, query);
    if (denied) return writeStatus(res, denied);
    if (route.t === 'stream') {
      // upgradeaware.go: a streaming request that lost its Connection/Upgrade headers.
      if (method === 'GET' || method === 'POST') return writeStatus(res, badRequest('Upgrade request required'));
      return writeStatus(res, methodNotAllowed());
    }
    if (route.t === 'selfsubjectreview') {
      // A create-only resource: the apiserver installs POST and nothing else for it.
      if (method !== 'POST') return writeStatus(res, methodNotAllowed());
      return void this.selfSubjectReview(req, res, user).catch((e: unknown) => writeStatus(res, internalError(e instanceof Error ? e.message : String(e))));
    }
    if (route.t === 'tokenreview') {
      if (method !== 'POST') return writeStatus(res, methodNotAllowed());
      const a: AccessAttributes = { verb: 'create', resource: 'tokenreviews', namespace: null };
      if (!allowed(user, a, this.groups)) return writeStatus(res, forbidden('tokenreviews.authentication.k8s.io', undefined, deniedReason(user, a)));
      return void this.tokenReview(req, res).catch((e: unknown) => writeStatus(res, internalError(e instanceof Error ? e.message : String(e))));
    }
    if (route.t === 'selfsubjectaccessreview') {
      if (method !== 'POST') return writeStatus(res, methodNotAllowed());
      return void this.selfSubjectAccessReview(req, res, user).catch((e: unknown) => writeStatus(res, internalError(e instanceof Error ? e.message : String(e))));
    }
    if (method !== 'GET' && method !== 'HEAD') return writeStatus(res, methodNotAllowed());
    const table = tableRequest(req.headers.accept, query);
    switch (route.t) {
      case 'version':
        return sendJson(res, this.versionInfo());
      case 'api':
        return sendJson(res, { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: this.address }] });
      case 'apis':
        return sendJson(res, { kind: 'APIGroupList', apiVersion: 'v1', groups: [] });
      case 'apiv1':
        return sendJson(res, API_V1_RESOURCES);
      case 'health':
        res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' });
        return void res.end('ok');
      case 'namespaces':
        return sendJson(res, this.namespaces(this.namespaceNames(), table));
      case 'namespace':
        if (!this.namespaceNames().includes(route.ns)) return writeStatus(res, notFound('namespaces', route.ns));
        return sendJson(res, this.namespaces([route.ns], table, true));
      case 'pods':
        return this.listPods(req, res, route.ns, query, table);
      case 'pod': {
        const pod = this.findPod(route.ns, route.name);
        if (!pod) return writeStatus(res, notFound('pods', route.name));
        if (table) return sendJson(res, podTableJson([pod], { ...table, resourceVersion: this.metaOf(pod).resourceVersion, metaOf: this.metaOf }));
        return sendJson(res, podJson(pod, this.metaOf(pod)));
      }
      case 'log': {
        const pod = this.findPod(route.ns, route.name);
        if (!pod) return writeStatus(res, notFound('pods', route.name));
        return this.serveLogs(req, res, pod, query);
      }
    }
  }

  private handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    if (this.opts.gateway?.(req, socket)) return;
    const user = this.authenticate(req);
    if (!user) return this.refuse(socket, unauthorized());
    if (!isUser(user)) return this.refuse(socket, user);
    const { path, query } = splitUrl(req.url);
    const route = parseRoute(path);
    if (!route) return this.refuse(socket, pathNotFound());
    if (route.t !== 'stream') return this.serveAsRequest(req, socket as Socket, head);
    if (req.method !== 'GET' && req.method !== 'POST') return this.refuse(socket, methodNotAllowed());
    for (const verb of upgradeVerbs(req.method, this.minor)) {
      const a: AccessAttributes = { verb, resource: 'pods', subresource: route.kind, namespace: route.ns };
      if (!allowed(user, a, this.groups)) return this.refuse(socket, forbidden('pods', route.name, deniedReason(user, a)));
    }
    const pod = this.findPod(route.ns, route.name);
    if (!pod) return this.refuse(socket, notFound('pods', route.name));
    if (route.kind !== 'portforward') {
      const container = query.get('container') || pod.containers[0]?.name || '';
      if (!pod.containers.some((c) => c.name === container)) return this.refuse(socket, badRequest(`container ${container} is not valid for pod ${pod.name}`));
      // What a real cluster answers for a pod whose container does not run yet (kubelet text).
      if (pod.phase !== 'Running') return this.refuse(socket, badRequest(`unable to upgrade connection: container not found ("${container}")`));
    }
    this.opts.onUpgrade(req, socket, head, { kind: route.kind, pod, query, path });
  }

  /**
   * An upgrade request for a path that streams nothing (`GET /api/v1/namespaces` with
   * `Upgrade: websocket`) is answered as the API server answers it: as a plain request, since
   * its handler never hijacks the connection, which Go's net/http then keeps for the next
   * request unless this one carried `Connection: close` (net/http server.go, wantsClose).
   */
  private serveAsRequest(req: IncomingMessage, socket: Socket, head: Buffer): void {
    const keepAlive = !/(^|,)\s*close\s*(,|$)/i.test(String(req.headers.connection ?? ''));
    const res = new ServerResponse(req);
    res.shouldKeepAlive = keepAlive;
    res.assignSocket(socket);
    res.once('finish', () => {
      res.detachSocket(socket);
      if (!keepAlive) return void socket.end();
      // The connection goes back to the HTTP server, which reads the next request from it.
      if (head.length) socket.unshift(head);
      this.server.emit('secureConnection', socket);
    });
    try {
      this.handle(req, res);
    } catch (e) {
      writeStatus(res, internalError(e instanceof Error ? e.message : String(e)));
    }
  }

  private refuse(socket: Duplex, status: K8sStatus): void {
    if (!socket.writable) return void socket.destroy();
    refuseUpgrade(socket, status.code ?? 500, status, { 'Cache-Control': 'no-cache, private', Connection: 'close' });
    setTimeout(() => socket.destroy(), REFUSAL_LINGER_MS).unref();
  }

  /**
   * SelfSubjectReview (pkg/registry/authentication/selfsubjectreview): the posted object comes
   * back, 201 Created, with status.userInfo of the token's user. The body is decoded as
   * the create handler decodes it: apiVersion and kind default to the path's and must match it.
   */
  /** The Forbidden Status RBAC gives `user` for a REST request, or null when it is allowed. */
  private denied(user: DemoUser, route: Route, method: string, query: URLSearchParams): ReturnType<typeof forbidden> | null {
    let a: AccessAttributes;
    let name: string | undefined;
    switch (route.t) {
      case 'namespaces':
        a = { verb: 'list', resource: 'namespaces', namespace: null };
        break;
      case 'namespace':
        a = { verb: 'get', resource: 'namespaces', namespace: null };
        name = route.ns;
        break;
      case 'pods':
        a = { verb: isTrue(query.get('watch')) ? 'watch' : 'list', resource: 'pods', namespace: route.ns };
        break;
      case 'pod':
        a = { verb: 'get', resource: 'pods', namespace: route.ns };
        name = route.name;
        break;
      case 'log':
        a = { verb: 'get', resource: 'pods', subresource: 'log', namespace: route.ns };
        name = route.name;
        break;
      default:
        // Discovery, health, version and the self reviews are every authenticated user's.
        return null;
    }
    if (method !== 'GET' && method !== 'HEAD') return null;
    return allowed(user, a, this.groups) ? null : forbidden(a.resource, name, deniedReason(user, a));
  }

  /**
   * SelfSubjectAccessReview (pkg/registry/authorization/selfsubjectaccessreview): may the
   * token's user do `spec.resourceAttributes`? Answered 201 with the spec and `status.allowed`,
   * as `kubectl auth can-i` reads it.
   */
  private async selfSubjectAccessReview(req: IncomingMessage, res: ServerResponse, user: DemoUser): Promise<void> {
    const body = await readBody(req, MAX_REVIEW_BODY);
    if (body === null) return writeStatus(res, requestEntityTooLarge(MAX_REVIEW_BODY));
    let posted: { apiVersion?: unknown; kind?: unknown; spec?: { resourceAttributes?: Record<string, unknown>; nonResourceAttributes?: Record<string, unknown> } };
    try {
      posted = (isProtobufBody(req.headers['content-type']) ? decodeReview(body) : JSON.parse(body.toString('utf8'))) as typeof posted;
    } catch (e) {
      return writeStatus(res, badRequest(`the object provided is unrecognized (must be of type SelfSubjectAccessReview): couldn't get version/kind; json parse error: ${(e as Error).message}`));
    }
    const { apiVersion = AUTHORIZATION_V1, kind = 'SelfSubjectAccessReview' } = posted ?? {};
    if (apiVersion !== AUTHORIZATION_V1 || kind !== 'SelfSubjectAccessReview') {
      return writeStatus(res, badRequest(`the object provided is unrecognized (must be of type SelfSubjectAccessReview): no kind "${String(kind)}" is registered for version "${String(apiVersion)}"`));
    }
    const ra = posted.spec?.resourceAttributes;
    const spec = posted.spec ?? {};
    if (!ra && !spec.nonResourceAttributes) return writeStatus(res, { ...badRequest('SelfSubjectAccessReview.authorization.k8s.io "" is invalid: spec.resourceAttributes: Invalid value: "null": exactly one of nonResourceAttributes or resourceAttributes must be specified'), reason: 'Invalid', code: 422 });
    const str = (v: unknown): string => (typeof v === 'string' ? v : '');
    let ok: boolean;
    let reason = '';
    if (ra) {
      const group = str(ra['group']);
      const verb = str(ra['verb']);
      const a: AccessAttributes = { verb, resource: str(ra['resource']), subresource: str(ra['subresource']) || undefined, namespace: str(ra['namespace']) || null };
      const admin = isAdmin(user, this.groups);
      ok = verb === '*' ? admin : (group === '' || admin) && allowed(user, a, this.groups);
      if (ok) reason = allowedReason(user, a, this.groups);
    } else {
      ok = true;
    }
    const text = JSON.stringify({ kind, apiVersion, metadata: { creationTimestamp: null }, spec, status: { allowed: ok, ...(reason ? { reason } : {}) } }) + '\n';
    res.writeHead(201, { ...JSON_HEADERS, 'Content-Length': Buffer.byteLength(text) });
    res.end(text);
  }

  /**
   * TokenReview (pkg/registry/authentication/tokenreview): whom `spec.token` authenticates,
   * answered 201 with the spec and `status.authenticated` and `status.user`.
   */
  private async tokenReview(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req, MAX_REVIEW_BODY);
    if (body === null) return writeStatus(res, requestEntityTooLarge(MAX_REVIEW_BODY));
    let posted: { spec?: { token?: unknown } };
    try {
      posted = JSON.parse(body.toString('utf8')) as typeof posted;
    } catch (e) {
      return writeStatus(res, badRequest(`the object provided is unrecognized (must be of type TokenReview): couldn't get version/kind; json parse error: ${(e as Error).message}`));
    }
    const token = posted?.spec?.token;
    const user = typeof token === 'string' && token !== '' ? this.tokenUser(`Bearer ${token}`) : null;
    const status = user
      ? { authenticated: true, user: { username: user.name, uid: user.uid, groups: user.groups }, audiences: [] }
      : { user: {}, error: '[invalid bearer token, token lookup failed]' };
    const text = JSON.stringify({ kind: 'TokenReview', apiVersion: AUTHENTICATION_V1, metadata: { creationTimestamp: null }, spec: posted.spec ?? {}, status }) + '\n';
    res.writeHead(201, { ...JSON_HEADERS, 'Content-Length': Buffer.byteLength(text) });
    res.end(text);
  }

  private async selfSubjectReview(req: IncomingMessage, res: ServerResponse, user: DemoUser): Promise<void> {
    const body = await readBody(req, MAX_REVIEW_BODY);
    if (body === null) return writeStatus(res, requestEntityTooLarge(MAX_REVIEW_BODY));
    const unrecognized = (why: string) => badRequest(`the object provided is unrecognized (must be of type SelfSubjectReview): ${why}`);
    let posted: unknown;
    try {
      posted = isProtobufBody(req.headers['content-type']) ? decodeReview(body) : JSON.parse(body.toString('utf8'));
    } catch (e) {
      return writeStatus(res, unrecognized(`couldn't get version/kind; json parse error: ${(e as Error).message}`));
    }
    if (typeof posted !== 'object' || posted === null || Array.isArray(posted)) return writeStatus(res, unrecognized("couldn't get version/kind; json parse error: not an object"));
    const { apiVersion = AUTHENTICATION_V1, kind = 'SelfSubjectReview' } = posted as { apiVersion?: unknown; kind?: unknown };
    if (apiVersion !== AUTHENTICATION_V1) return writeStatus(res, badRequest(`the API version in the data (${String(apiVersion)}) does not match the expected API version (${AUTHENTICATION_V1})`));
    if (kind !== 'SelfSubjectReview') return writeStatus(res, unrecognized(`no kind "${String(kind)}" is registered for version "${AUTHENTICATION_V1}"`));
    // metadata.creationTimestamp is a struct Go's encoding/json does not omit: it is sent as null.
    const text = JSON.stringify({ kind, apiVersion, metadata: { creationTimestamp: null }, status: { userInfo: { username: user.name, uid: user.uid, groups: user.groups } } }) + '\n';
    res.writeHead(201, { ...JSON_HEADERS, 'Content-Length': Buffer.byteLength(text) });
    res.end(text);
  }

  private versionInfo(): Record<string, string> {
    const v = this.opts.version ?? DEFAULT_VERSION;
    return {
      major: v.major,
      minor: v.minor,
      gitVersion: v.gitVersion,
      gitCommit: createHash('sha1').update(v.gitVersion).digest('hex'),
      gitTreeState: 'clean',
      buildDate: '2025-05-15T08:19:22Z',
      goVersion: 'go1.24.2',
      compiler: 'gc',
      platform: 'linux/amd64',
    };
  }

  private readonly metaOf = (pod: DemoPod): PodMeta => {
    const m = this.meta.get(pod);
    return m ? { resourceVersion: m.resourceVersion, annotations: m.annotations } : {};
  };

  private findPod(ns: string, name: string): DemoPod | undefined {
    return this.opts.pods.find((p) => p.namespace === ns && p.name === name);
  }

  private listPods(req: IncomingMessage, res: ServerResponse, ns: string | null, query: URLSearchParams, table: TableRequest | null): void {
    let match: (pod: DemoPod) => boolean;
    try {
      match = podSelector(query);
    } catch (e) {
      return writeStatus(res, badRequest((e as Error).message));
    }
    const selected = (pod: DemoPod): boolean => (ns === null || pod.namespace === ns) && match(pod);
    const rv = String(this.resourceVersion);
    if (isTrue(query.get('watch'))) return this.watch(req, res, { ns, match: selected, table, res, sentColumns: false }, query);
    const pods = this.opts.pods.filter(selected);
    if (table) return sendJson(res, podTableJson(pods, { ...table, resourceVersion: rv, metaOf: this.metaOf }));
    sendJson(res, podListJson(pods, rv, this.metaOf));
  }

  private watch(req: IncomingMessage, res: ServerResponse, w: Watcher, query: URLSearchParams): void {
    res.writeHead(200, { ...JSON_HEADERS, 'Transfer-Encoding': 'chunked' });
    if (req.method === 'HEAD') return void res.end();
    res.flushHeaders();
    res.on('error', () => res.destroy());
    // Like the watch cache: no resourceVersion, or "0", starts with the current state; a
    // newer one (kubectl get -w passes its list's) only sees what changes after it.
    const from = query.get('resourceVersion');
    if (!from || from === '0') for (const pod of this.opts.pods) if (w.match(pod)) this.send(w, 'ADDED', pod);
    this.watchers.add(w);
    this.startTicker();
    const timeout = Number(query.get('timeoutSeconds'));
    const timer = timeout > 0 ? setTimeout(() => res.end(), timeout * 1000) : null;
    res.once('close', () => {
      if (timer) clearTimeout(timer);
      this.watchers.delete(w);
      if (this.watchers.size === 0) this.stopTicker();
    });
  }

  private send(w: Watcher, type: 'ADDED' | 'MODIFIED', pod: DemoPod): void {
    const m = this.metaOf(pod);
    const object = w.table
      ? podTableJson([pod], { ...w.table, resourceVersion: m.resourceVersion, metaOf: this.metaOf, columnDefinitions: !w.sentColumns })
      : podJson(pod, m);
    w.sentColumns = w.table !== null;
    w.res.write(JSON.stringify({ type, object }) + '\n');
  }

  private startTicker(): void {
    if (this.ticker) return;
    this.ticker = setInterval(() => this.heartbeat(), this.opts.watchIntervalMs ?? 2000);
    this.ticker.unref();
  }

  private stopTicker(): void {
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = null;
  }

  /** `worker` changes on a timer so `kubectl get pods -w` has something to print. */
  private heartbeat(): void {
    const pod = this.opts.pods.find((p) => p.name === HEARTBEAT_POD && p.namespace === 'default');
    const m = pod && this.meta.get(pod);
    if (!pod || !m) return;
    m.resourceVersion = String(++this.resourceVersion);
    m.annotations = { ...m.annotations, [HEARTBEAT_ANNOTATION]: new Date().toISOString() };
    for (const w of this.watchers) if (w.match(pod)) this.send(w, 'MODIFIED', pod);
  }

  private serveLogs(req: IncomingMessage, res: ServerResponse, pod: DemoPod, query: URLSearchParams): void {
    const container = query.get('container') || pod.containers[0]?.name || '';
    if (!pod.containers.some((c) => c.name === container)) return writeStatus(res, badRequest(`container ${container} is not valid for pod ${pod.name}`));
    if (pod.phase === 'Pending') return writeStatus(res, badRequest(`container "${container}" in pod "${pod.name}" is waiting to start: ContainerCreating`));
    const tail = query.get('tailLines');
    const opts: LogOptions = { follow: isTrue(query.get('follow')), timestamps: isTrue(query.get('timestamps')) };
    if (tail !== null) {
      const n = Number(tail);
      if (!/^\d+$/.test(tail) || !Number.isSafeInteger(n)) return writeStatus(res, badRequest(`invalid tailLines: ${JSON.stringify(tail)}`));
      opts.tailLines = n;
    }
    const headers = { 'Content-Type': 'text/plain', 'Cache-Control': 'no-cache, private', 'Transfer-Encoding': 'chunked' };
    if (req.method === 'HEAD') return void res.writeHead(200, headers).end();
    const source = this.opts.logs(pod, container, opts);
    res.writeHead(200, headers);
    res.flushHeaders();
    // Each chunk is written (and sent) as it arrives; pipe() keeps the back-pressure.
    source.on('error', () => res.destroy());
    res.once('close', () => source.destroy());
    source.pipe(res);
  }

  private namespaceNames(): string[] {
    return [...new Set([...SYSTEM_NAMESPACES, ...this.opts.pods.map((p) => p.namespace)])].sort();
  }

  private namespaces(names: string[], table: TableRequest | null, single = false): Record<string, unknown> {
    const created = new Date(Math.min(Date.now(), ...this.opts.pods.map((p) => p.createdAt.getTime())) - 3_600_000);
    const ns = (name: string) => ({
      metadata: { name, uid: createHash('sha256').update(name).digest('hex').replace(/^(.{8})(.{4})(.{4})(.{4})(.{12}).*$/, '$1-$2-$3-$4-$5'), resourceVersion: '12', creationTimestamp: created.toISOString().replace(/\.\d{3}Z$/, 'Z'), labels: { 'kubernetes.io/metadata.name': name } },
      spec: { finalizers: ['kubernetes'] },
      status: { phase: 'Active' },
    });
    if (table) {
      return {
        kind: 'Table',
        apiVersion: table.apiVersion,
        metadata: { resourceVersion: String(this.resourceVersion) },
        columnDefinitions: [
          { name: 'Name', type: 'string', format: 'name', description: 'Name must be unique within a namespace.', priority: 0 },
          { name: 'Status', type: 'string', format: '', description: 'The status of the namespace', priority: 0 },
          { name: 'Age', type: 'string', format: '', description: 'CreationTimestamp is a timestamp representing the server time when this object was created.', priority: 0 },
        ],
        rows: names.map((name) => {
          const row: Record<string, unknown> = { cells: [name, 'Active', humanDuration(Date.now() - created.getTime())] };
          if (table.includeObject === 'Metadata') row.object = { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: ns(name).metadata };
          else if (table.includeObject === 'Object') row.object = { kind: 'Namespace', apiVersion: 'v1', ...ns(name) };
          return row;
        }),
      };
    }
    if (single) return { kind: 'Namespace', apiVersion: 'v1', ...ns(names[0]!) };
    return { kind: 'NamespaceList', apiVersion: 'v1', metadata: { resourceVersion: String(this.resourceVersion) }, items: names.map(ns) };
  }
}

const subresource = (name: string, kind: string, verbs: string[]) => ({ name, singularName: '', namespaced: true, kind, verbs });

const API_V1_RESOURCES = {
  kind: 'APIResourceList',
  groupVersion: 'v1',
  resources: [
    { name: 'namespaces', singularName: 'namespace', namespaced: false, kind: 'Namespace', verbs: ['get', 'list'], shortNames: ['ns'] },
    { name: 'pods', singularName: 'pod', namespaced: true, kind: 'Pod', verbs: ['get', 'list', 'watch'], shortNames: ['po'], categories: ['all'] },
    subresource('pods/attach', 'PodAttachOptions', ['create', 'get']),
    subresource('pods/exec', 'PodExecOptions', ['create', 'get']),
    subresource('pods/log', 'Pod', ['get']),
    subresource('pods/portforward', 'PodPortForwardOptions', ['create', 'get']),
  ],
};

function isUser(u: DemoUser | K8sStatus): u is DemoUser {
  return 'role' in u;
}

function sha256(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/** The whole request body, or null when it is longer than `limit` bytes. */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size <= limit) return void chunks.push(chunk);
      // Stop keeping bytes; the server discards the rest before reusing the connection.
      req.off('data', onData);
      req.resume();
      resolve(null);
    };
    req.on('data', onData);
    req.once('end', () => resolve(Buffer.concat(chunks, size)));
    req.once('error', reject);
  });
}

function sendJson(res: ServerResponse, body: unknown): void {
  const text = JSON.stringify(body) + '\n';
  res.writeHead(200, { ...JSON_HEADERS, 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

/** Splits by hand: `new URL('//x', base)` would read a host out of the path. */
function splitUrl(raw: string | undefined): { path: string; query: URLSearchParams } {
  const url = raw ?? '/';
  const q = url.indexOf('?');
  return { path: q < 0 ? url : url.slice(0, q), query: new URLSearchParams(q < 0 ? '' : url.slice(q + 1)) };
}

export function parseRoute(path: string): Route | null {
  let segs: string[];
  try {
    segs = path.split('/').filter((s, i) => i > 0 || s !== '').map(decodeURIComponent);
  } catch {
    return null;
  }
  if (segs.length > 1 && segs[segs.length - 1] === '') segs.pop();
  if (segs.some((s) => s === '')) return null;
  const [a, b, c, d, e, f, g] = segs;
  switch (segs.length) {
    case 1:
      if (a === 'version') return { t: 'version' };
      if (a === 'api') return { t: 'api' };
      if (a === 'apis') return { t: 'apis' };
      if (a === 'healthz' || a === 'livez' || a === 'readyz') return { t: 'health' };
      return null;
    case 2:
      return a === 'api' && b === 'v1' ? { t: 'apiv1' } : null;
    case 3:
      if (a !== 'api' || b !== 'v1') return null;
      if (c === 'pods') return { t: 'pods', ns: null };
      if (c === 'namespaces') return { t: 'namespaces' };
      return null;
  }
  if (segs.length === 4 && a === 'apis' && b === 'authentication.k8s.io' && c === 'v1' && d === 'selfsubjectreviews') return { t: 'selfsubjectreview' };
  if (segs.length === 4 && a === 'apis' && b === 'authorization.k8s.io' && c === 'v1' && d === 'selfsubjectaccessreviews') return { t: 'selfsubjectaccessreview' };
  if (segs.length === 4 && a === 'apis' && b === 'authentication.k8s.io' && c === 'v1' && d === 'tokenreviews') return { t: 'tokenreview' };
  if (a !== 'api' || b !== 'v1' || c !== 'namespaces' || d === undefined) return null;
  if (segs.length === 4) return { t: 'namespace', ns: d };
  if (e !== 'pods') return null;
  if (segs.length === 5) return { t: 'pods', ns: d };
  if (f === undefined) return null;
  if (segs.length === 6) return { t: 'pod', ns: d, name: f };
  if (segs.length !== 7) return null;
  if (g === 'log') return { t: 'log', ns: d, name: f };
  if (g === 'exec' || g === 'attach' || g === 'portforward') return { t: 'stream', kind: g, ns: d, name: f };
  return null;
}

/** `application/json;as=Table;v=v1;g=meta.k8s.io`: the first Table media type offered wins. */
function tableRequest(accept: string | undefined, query: URLSearchParams): TableRequest | null {
  if (!accept) return null;
  for (const mediaType of accept.split(',')) {
    const [type, ...params] = mediaType.split(';').map((s) => s.trim());
    const p = new Map(params.map((kv) => kv.split('=', 2).map((s) => s.trim()) as [string, string]));
    if (type !== 'application/json' || p.get('as') !== 'Table' || p.get('g') !== 'meta.k8s.io') continue;
    const v = p.get('v');
    if (v !== 'v1' && v !== 'v1beta1') continue;
    const inc = query.get('includeObject');
    return { apiVersion: `meta.k8s.io/${v}`, includeObject: inc === 'None' || inc === 'Object' ? inc : 'Metadata' };
  }
  return null;
}

/** labelSelector (equality and set based) and the pod fieldSelectors kubectl uses. */
function podSelector(query: URLSearchParams): (pod: DemoPod) => boolean {
  const tests: ((pod: DemoPod) => boolean)[] = [];
  for (const term of splitTerms(query.get('labelSelector') ?? '')) {
    let m: RegExpMatchArray | null;
    if ((m = term.match(/^!\s*([\w./-]+)$/))) {
      const k = m[1]!;
      tests.push((p) => !(k in p.labels));
    } else if ((m = term.match(/^([\w./-]+)$/))) {
      const k = m[1]!;
      tests.push((p) => k in p.labels);
    } else if ((m = term.match(/^([\w./-]+)\s*(==|=|!=)\s*([\w.-]*)$/))) {
      const [, k, op, v] = m as unknown as [string, string, string, string];
      tests.push(op === '!=' ? (p) => p.labels[k] !== v : (p) => p.labels[k] === v);
    } else if ((m = term.match(/^([\w./-]+)\s+(in|notin)\s*\(([^)]*)\)$/))) {
      const [, k, op, list] = m as unknown as [string, string, string, string];
      const values = list.split(',').map((s) => s.trim());
      tests.push(op === 'in' ? (p) => values.includes(p.labels[k] ?? '\0') : (p) => !values.includes(p.labels[k] ?? '\0'));
    } else {
      throw new Error(`unable to parse requirement: ${term}`);
    }
  }
  const fields: Record<string, (p: DemoPod) => string> = {
    'metadata.name': (p) => p.name,
    'metadata.namespace': (p) => p.namespace,
    'spec.nodeName': (p) => p.nodeName,
    'status.phase': (p) => p.phase,
    'status.podIP': (p) => (p.phase === 'Pending' ? '' : p.podIP),
  };
  for (const term of splitTerms(query.get('fieldSelector') ?? '')) {
    const m = term.match(/^([\w.]+)\s*(==|=|!=)\s*(.*)$/);
    if (!m) throw new Error(`invalid selector: '${term}'; can't understand '${term}'`);
    const [, field, op, v] = m as unknown as [string, string, string, string];
    const get = fields[field];
    if (!get) throw new Error(`field label not supported: ${field}`);
    tests.push(op === '!=' ? (p) => get(p) !== v : (p) => get(p) === v);
  }
  return (pod) => tests.every((t) => t(pod));
}

/** Splits on commas outside parentheses: `a=b,c in (x,y)`. */
function splitTerms(selector: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of selector) {
    if (ch === '(') depth++;
    else if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out.map((s) => s.trim()).filter(Boolean);
}
