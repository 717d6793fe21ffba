/**
 * The demo API server's impersonation filter (k8s.io/apiserver pkg/endpoints/filters
 * impersonation.go): `Impersonate-User`, `Impersonate-Group` (one line per group),
 * `Impersonate-Uid` and `Impersonate-Extra-<key>` make the request act as another user, if the
 * authenticated one may `impersonate` users (and groups, uids, userextras); RBAC then follows
 * the impersonated user and groups. Here only the admin role has that verb (it has every verb),
 * whether the user's own or a group's, so the default context can impersonate and a `view` user
 * cannot. A known user name takes that
 * user's role; an unknown one has no role at all.
 *
 * The request's groups become the Impersonate-Group lines, replacing the authenticated user's
 * and never looked up from the impersonated name (a known user's own groups are its token's,
 * not its name's), plus `system:authenticated`, which the filter adds for every user but
 * `system:anonymous` unless `system:authenticated` or `system:unauthenticated` was asked.
 * RBAC then follows the role of each of those groups (rbac.ts): impersonating a group the
 * gateway should never pass on, like `system:masters`, would be granted its power.
 */
import type { IncomingMessage } from 'node:http';
import type { K8sStatus } from './contracts.js';
import { badRequest, forbidden } from './k8s-errors.js';
import { allowed, deniedReason, NO_GROUP_BINDINGS, type DemoUser, type GroupBindings } from './rbac.js';

export interface ImpersonationRequest {
  user: string | null;
  groups: string[];
  uid: string | null;
  extra: Record<string, string[]>;
}

/** The impersonation headers of a request, every line of each (Node joins repeated unknown headers). */
export function impersonationOf(req: IncomingMessage): ImpersonationRequest | null {
  const found: ImpersonationRequest = { user: null, groups: [], uid: null, extra: {} };
  let any = false;
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    const value = raw[i + 1]!;
    if (!name.startsWith('impersonate-')) continue;
    any = true;
    if (name === 'impersonate-user') found.user = value;
    else if (name === 'impersonate-group') found.groups.push(value);
    else if (name === 'impersonate-uid') found.uid = value;
    else if (name.startsWith('impersonate-extra-')) (found.extra[decodeURIComponent(name.slice('impersonate-extra-'.length))] ??= []).push(value);
  }
  return any ? found : null;
}

/** The user the request acts as, or the Status that refuses it; `groups` is what RBAC binds to groups. */
export function impersonate(req: IncomingMessage, user: DemoUser, known: (name: string) => DemoUser | undefined, groups: GroupBindings = NO_GROUP_BINDINGS): DemoUser | K8sStatus {
  const asked = impersonationOf(req);
  if (!asked) return user;
  if (asked.user === null) return badRequest(`requested ${[...asked.groups.map((g) => `group ${g}`), ...(asked.uid ? [`uid ${asked.uid}`] : [])].join(', ') || 'extra'} without impersonating a user`);
  const checks: [string, string][] = [['users', asked.user], ...asked.groups.map((g): [string, string] => ['groups', g]), ...(asked.uid ? [['uids', asked.uid] as [string, string]] : [])];
  if (Object.keys(asked.extra).length) checks.push(['userextras', Object.keys(asked.extra)[0]!]);
  for (const [resource, name] of checks) {
    const a = { verb: 'impersonate', resource, namespace: null };
    if (!allowed(user, a, groups)) return forbidden(resource, name, deniedReason(user, a));
  }
  const target = known(asked.user);
  const addAuthenticated = asked.user !== 'system:anonymous' && !asked.groups.some((g) => g === 'system:authenticated' || g === 'system:unauthenticated');
  return { name: asked.user, uid: asked.uid ?? '', groups: addAuthenticated ? [...asked.groups, 'system:authenticated'] : asked.groups, role: target?.role ?? 'none' };
}
