// SelfSubjectAccessReview (authorization.k8s.io/v1): "may I do this?", as `kubectl auth can-i` and
// `ferry doctor` ask it. localkube has no authentication and no RBAC, so the answer is always yes, as
// it is for a cluster-admin on a real cluster; the review is still validated and answered with a real
// server's shape (201, the spec echoed back, a status with `allowed` and a `reason`).

import { badRequest, invalid } from "./status.ts";
import type { KObject } from "./store.ts";

export const AUTHORIZATION_GROUP = "authorization.k8s.io";
export const AUTHORIZATION_VERSION = `${AUTHORIZATION_GROUP}/v1`;

const REASON = "localkube: no RBAC, every request is allowed (as for cluster-admin)";

export function selfSubjectAccessReview(body: any): KObject {
  if (body === null || typeof body !== "object" || Array.isArray(body))
    throw badRequest("the body of the request was not a valid SelfSubjectAccessReview object");
  if (body.kind !== undefined && body.kind !== "SelfSubjectAccessReview")
    throw badRequest(`the object provided is unrecognized (must be of type SelfSubjectAccessReview): couldn't get version/kind; json parse error: kind ${body.kind}`);
  const spec = body.spec ?? {};
  const resource = spec.resourceAttributes ?? null;
  const nonResource = spec.nonResourceAttributes ?? null;
  // The API server's wording (pkg/apis/authorization/validation).
  if ((resource === null) === (nonResource === null)) {
    const detail = resource === null ? "exactly one of nonResourceAttributes or resourceAttributes must be specified" : "cannot be specified in combination with resourceAttributes";
    throw invalid("SelfSubjectAccessReview", "", [
      { field: resource === null ? "spec.resourceAttributes" : "spec.nonResourceAttributes", type: "FieldValueInvalid", body: `Invalid value: ${JSON.stringify(JSON.stringify(resource ?? nonResource))}: ${detail}` },
    ]);
  }
  return {
    kind: "SelfSubjectAccessReview",
    apiVersion: AUTHORIZATION_VERSION,
    metadata: { creationTimestamp: null } as unknown as KObject["metadata"],
    spec,
    status: { allowed: true, reason: REASON },
  };
}

export function authorizationGroup() {
  const version = { groupVersion: AUTHORIZATION_VERSION, version: "v1" };
  return { kind: "APIGroup", apiVersion: "v1", name: AUTHORIZATION_GROUP, versions: [version], preferredVersion: version };
}

export function authorizationResourceList() {
  return {
    kind: "APIResourceList",
    apiVersion: "v1",
    groupVersion: AUTHORIZATION_VERSION,
    resources: [{ name: "selfsubjectaccessreviews", singularName: "selfsubjectaccessreview", namespaced: false, kind: "SelfSubjectAccessReview", verbs: ["create"] }],
  };
}
