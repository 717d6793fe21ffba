/**
 * The user extras a TokenReview is known to return, which `--identity impersonate` passes on
 * as `Impersonate-Extra-<key>` (gateway-admission.ts). The API server checks each one as the
 * verb `impersonate` on `userextras/<key>` in authentication.k8s.io, the key lowercased and
 * percent-decoded (k8s.io/apiserver pkg/endpoints/filters/impersonation.go
 * buildImpersonationRequests), and RBAC matches `userextras/<key>` exactly: `userextras` alone
 * covers no key, and `userextras/*` is not a wildcard (RBAC's ResourceMatches takes `*` only
 * alone or in place of the resource, before a subresource). A key the gateway's ClusterRole
 * lacks makes every request of that user a 403, so the chart's rule
 * (deploy/helm/kubewire/templates/rbac.yaml) grants every key here, lowercased, and
 * `impersonation.extraKeys` adds others (test/deploy/helm-chart.test.ts checks both).
 */

/** Service-account tokens (k8s.io/apiserver pkg/authentication/serviceaccount/util.go). */
export const SERVICE_ACCOUNT_EXTRAS = [
  'authentication.kubernetes.io/pod-name',
  'authentication.kubernetes.io/pod-uid',
  // The node of the token's pod, and the token's JTI (ServiceAccountTokenPodNodeInfo and
  // ServiceAccountTokenJTI, on by default since 1.30; credential-id is user.CredentialIDKey).
  'authentication.kubernetes.io/node-name',
  'authentication.kubernetes.io/node-uid',
  'authentication.kubernetes.io/credential-id',
] as const;

/** OpenShift's scoped OAuth tokens, and an authenticating proxy's client address (kube-oidc-proxy). */
export const OTHER_KNOWN_EXTRAS = ['scopes', 'remote-client-ip'] as const;

export const KNOWN_EXTRAS: readonly string[] = [...SERVICE_ACCOUNT_EXTRAS, ...OTHER_KNOWN_EXTRAS];
