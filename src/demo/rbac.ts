/**
 * The demo cluster's users and their roles, and an authorizer that answers as RBAC does: the
 * same verbs and resources, and the same refusal text, which kubectl prints verbatim
 * (`Error from server (Forbidden): pods "web" is forbidden: User "jane" cannot create resource
 * "pods/exec" in API group "" in the namespace "default"`).
 *
 * A request may do what any binding of its subject allows (RBAC rules only add up,
 * plugin/pkg/auth/authorizer/rbac/rbac.go): the user's own role (a ClusterRoleBinding to the
 * User) and the role of each of its groups that is bound (a ClusterRoleBinding to the Group).
 * The groups are the request's: its token's user's, or the Impersonate-Group lines
 * (impersonation.ts). `system:masters` is the API server's privileged group, allowed everything
 * before RBAC is asked (pkg/controlplane/apiserver/options authorization: NewPrivilegedGroups).
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
  none: 'nothing of its own: only what its groups are bound to (--user-groups, --group)',
} as const;

export type DemoRole = keyof typeof DEMO_ROLES;

export interface DemoUser {
  name: string;
  uid: string;
  groups: string[];
  /** The role bound to the user's name; `none` also for a name no user of the cluster has (impersonation.ts). */
  role: DemoRole;
}

/** ClusterRoleBindings to groups: group name → the role bound to it. */
export type GroupBindings = ReadonlyMap<string, DemoRole>;

export const NO_GROUP_BINDINGS: GroupBindings = new Map();

/** The superuser group: allowed every request, whatever is bound (user.SystemPrivilegedGroup). */
export const PRIVILEGED_GROUP = 'system:masters';

/** One binding that applies to a request's subject. */
interface Grant {
  role: DemoRole;
  /** `ClusterRoleBinding "…" of ClusterRole "…" to User "…"`, as RBAC describes it. */
  source: string;
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
  return Object.hasOwn(DEMO_ROLES, role);
}

/** The bindings whose subject is `user` or one of its groups: its own first, then its groups' in order. */
function grantsOf(user: DemoUser, groups: GroupBindings): Grant[] {
  const out: Grant[] = [];
  if (user.role !== 'none') out.push({ role: user.role, source: bindingText(`kubewire-demo-${user.name}`, user.role, `User "${user.name}"`) });
  for (const g of new Set(user.groups)) {
    const role = groups.get(g);
    if (role && role !== 'none') out.push({ role, source: bindingText(groupBindingName(g), role, `Group "${g}"`) });
  }
  return out;
}

/** The ClusterRoleBinding name the demo imagines for a group's role. */
export function groupBindingName(group: string): string {
  return `kubewire-demo-group-${group}`;
}

function bindingText(binding: string, role: DemoRole, subject: string): string {
  return `ClusterRoleBinding "${binding}" of ClusterRole "kubewire-demo-${role}" to ${subject}`;
}

/** Whether the request's subject is a cluster admin: in the privileged group, or bound to `admin`. */
export function isAdmin(user: DemoUser, groups: GroupBindings = NO_GROUP_BINDINGS): boolean {
  return user.groups.includes(PRIVILEGED_GROUP) || grantsOf(user, groups).some((g) => g.role === 'admin');
}

/** Whether `user`'s role, or a role bound to one of its groups, allows the request. */
export function allowed(user: DemoUser, a: AccessAttributes, groups: GroupBindings = NO_GROUP_BINDINGS): boolean {
  return user.groups.includes(PRIVILEGED_GROUP) || grantsOf(user, groups).some((g) => roleAllows(g.role, a));
}

function roleAllows(role: DemoRole, a: AccessAttributes): boolean {
  if (role === 'admin') return true;
  if (role === 'none') return false;
  const sub = a.subresource ?? '';
  if (a.resource === 'namespaces' && !sub) return READ.has(a.verb);
  if (a.resource !== 'pods') return false;
  if (sub === '' || sub === 'log') return READ.has(a.verb) && (sub === '' || a.verb === 'get');
  if (!STREAMS.has(sub)) return false;
  if (role === 'exec-get-only') return a.verb === 'get';
  if (role === 'exec-create-only') return a.verb === 'create';
  return false;
}

/**
 * RBAC's reason for a refusal: `User "jane" cannot get resource "pods/exec" in API group "" in
 * the namespace "default"`. It names the user only, never its groups, as the API server's
 * forbidden message does (apiserver pkg/endpoints/handlers/responsewriters/errors.go).
 */
export function deniedReason(user: DemoUser, a: AccessAttributes): string {
  const resource = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
  const scope = a.namespace === null ? 'at the cluster scope' : `in the namespace "${a.namespace}"`;
  return `User "${user.name}" cannot ${a.verb} resource "${resource}" in API group "" ${scope}`;
}

/**
 * RBAC's reason for an allowed request (a SelfSubjectAccessReview's `status.reason`): the first
 * binding that allows it (rbac.go authorizingVisitor), `RBAC: allowed by ClusterRoleBinding
 * "kubewire-demo-group-ops" of ClusterRole "kubewire-demo-admin" to Group "ops"`; empty for the
 * privileged group, whose authorizer gives none, and for a refused request.
 */
export function allowedReason(user: DemoUser, a: AccessAttributes, groups: GroupBindings = NO_GROUP_BINDINGS): string {
  if (user.groups.includes(PRIVILEGED_GROUP)) return '';
  const grant = grantsOf(user, groups).find((g) => roleAllows(g.role, a));
  return grant ? `RBAC: allowed by ${grant.source}` : '';
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
