/**
 * The demo cluster's users and their roles, and an authorizer that answers as RBAC does: the
 * same verbs and resources, and the same refusal text, which kubectl prints verbatim
 * (`Error from server (Forbidden): pods "web" is forbidden: User "jane" cannot create resource
 * "pods/exec" in API group "" in the namespace "default"`).
 *
 * Stream upgrades are authorized by their HTTP method (protocol.md A §4, §5): a SPDY upgrade is
 * a POST, checked as `create`; a WebSocket upgrade is a GET, checked as `get`, and from 1.35
 * (AuthorizePodWebsocketUpgradeCreatePermission, on by default) also as `create`.
 */

export const DEMO_ROLES = {
  admin: 'every verb on every resource (system:masters)',
  view: 'get, list and watch pods, their logs and namespaces; no exec, attach or port-forward',
  'exec-get-only': 'view, and get (not create) on pods/exec, pods/attach and pods/portforward',
  'exec-create-only': 'view, and create (not get) on pods/exec, pods/attach and pods/portforward',
} as const;

export type DemoRole = keyof typeof DEMO_ROLES;

export interface DemoUser {
  name: string;
  uid: string;
  groups: string[];
  /** `none`: an impersonated name that no user of the cluster has (impersonation.ts). */
  role: DemoRole | 'none';
}

/** One request as the authorizer sees it (authorizer.Attributes). */
export interface AccessAttributes {
  verb: string;
  /** `pods`, `namespaces`, … */
  resource: string;
  subresource?: string;
  /** null: cluster scope. */
  namespace: string | null;
}

const READ = new Set(['get', 'list', 'watch']);
const STREAMS = new Set(['exec', 'attach', 'portforward']);

/** First minor version whose WebSocket upgrades need `create` as well as `get`. */
export const WEBSOCKET_CREATE_FROM_MINOR = 35;

export function isDemoRole(role: string): role is DemoRole {
  return role in DEMO_ROLES;
}

/** Whether `user`'s role allows the request. */
export function allowed(user: DemoUser, a: AccessAttributes): boolean {
  if (user.role === 'admin') return true;
  if (user.role === 'none') return false;
  const sub = a.subresource ?? '';
  if (a.resource === 'namespaces' && !sub) return READ.has(a.verb);
  if (a.resource !== 'pods') return false;
  if (sub === '' || sub === 'log') return READ.has(a.verb) && (sub === '' || a.verb === 'get');
  if (!STREAMS.has(sub)) return false;
  if (user.role === 'exec-get-only') return a.verb === 'get';
  if (user.role === 'exec-create-only') return a.verb === 'create';
  return false;
}

/** RBAC's reason for a refusal: `User "jane" cannot get resource "pods/exec" in API group "" in the namespace "default"`. */
export function deniedReason(user: DemoUser, a: AccessAttributes): string {
  const resource = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
  const scope = a.namespace === null ? 'at the cluster scope' : `in the namespace "${a.namespace}"`;
  return `User "${user.name}" cannot ${a.verb} resource "${resource}" in API group "" ${scope}`;
}

/** RBAC's reason for an allowed SelfSubjectAccessReview (the binding kubewire imagines for the role). */
export function allowedReason(user: DemoUser): string {
  if (user.role === 'admin') return '';
  return `RBAC: allowed by ClusterRoleBinding "kubewire-demo-${user.name}" of ClusterRole "kubewire-demo-${user.role}" to User "${user.name}"`;
}

/**
 * The verbs a stream upgrade is checked for, in the API server's order: the GET of a WebSocket
 * upgrade is `get` (the authorization filter), then on `minor` ≥ 35 `create` too (the pod's
 * REST handler); the POST of a SPDY upgrade is `create`.
 */
export function upgradeVerbs(method: string, minor: number): string[] {
  if (method === 'POST') return ['create'];
  return minor >= WEBSOCKET_CREATE_FROM_MINOR ? ['get', 'create'] : ['get'];
}

/** The roles as `kubewire cluster --help` lists them. */
export function roleHelp(): string {
  return Object.entries(DEMO_ROLES).map(([name, what]) => `  ${name.padEnd(18)} ${what}`).join('\n');
}
