// The Pod's field schema, as far as localkube checks it: enough to find unknown fields at the levels
// clients actually write (Pod, ObjectMeta, PodSpec, Container, EnvVar, resources). Deeper structures
// (volumes, probes, affinity, securityContext, ...) are "any": their contents are kept unchecked.
// Used for `fieldValidation` (Strict -> 400, Warn -> Warning header), for dropping unknown fields as
// the API server's decoder does, and to generate the OpenAPI v3 document kubectl reads.

export type Schema =
  | "string"
  | "integer"
  | "boolean"
  | "any"
  | { object: Record<string, Schema> }
  | { array: Schema }
  | { map: Schema };

const obj = (object: Record<string, Schema>): Schema => ({ object });
const arr = (array: Schema): Schema => ({ array });
const map = (m: Schema): Schema => ({ map: m });
const anyList = arr("any");

export const OBJECT_META = obj({
  name: "string",
  generateName: "string",
  namespace: "string",
  selfLink: "string",
  uid: "string",
  resourceVersion: "string",
  generation: "integer",
  creationTimestamp: "string",
  deletionTimestamp: "string",
  deletionGracePeriodSeconds: "integer",
  labels: map("string"),
  annotations: map("string"),
  ownerReferences: anyList,
  finalizers: arr("string"),
  managedFields: anyList,
});

const ENV_VAR = obj({ name: "string", value: "string", valueFrom: "any" });

export const CONTAINER = obj({
  name: "string",
  image: "string",
  command: arr("string"),
  args: arr("string"),
  workingDir: "string",
  ports: anyList,
  envFrom: anyList,
  env: arr(ENV_VAR),
  resources: obj({ limits: map("any"), requests: map("any"), claims: anyList }),
  resizePolicy: anyList,
  restartPolicy: "string",
  volumeMounts: anyList,
  volumeDevices: anyList,
  livenessProbe: "any",
  readinessProbe: "any",
  startupProbe: "any",
  lifecycle: "any",
  terminationMessagePath: "string",
  terminationMessagePolicy: "string",
  imagePullPolicy: "string",
  securityContext: "any",
  stdin: "boolean",
  stdinOnce: "boolean",
  tty: "boolean",
});

export const POD_SPEC = obj({
  volumes: anyList,
  initContainers: arr(CONTAINER),
  containers: arr(CONTAINER),
  ephemeralContainers: anyList,
  restartPolicy: "string",
  terminationGracePeriodSeconds: "integer",
  activeDeadlineSeconds: "integer",
  dnsPolicy: "string",
  nodeSelector: map("string"),
  serviceAccountName: "string",
  serviceAccount: "string",
  automountServiceAccountToken: "boolean",
  nodeName: "string",
  hostNetwork: "boolean",
  hostPID: "boolean",
  hostIPC: "boolean",
  shareProcessNamespace: "boolean",
  securityContext: "any",
  imagePullSecrets: anyList,
  hostname: "string",
  subdomain: "string",
  affinity: "any",
  schedulerName: "string",
  tolerations: anyList,
  hostAliases: anyList,
  priorityClassName: "string",
  priority: "integer",
  dnsConfig: "any",
  readinessGates: anyList,
  runtimeClassName: "string",
  enableServiceLinks: "boolean",
  preemptionPolicy: "string",
  overhead: map("any"),
  topologySpreadConstraints: anyList,
  setHostnameAsFQDN: "boolean",
  os: "any",
  hostUsers: "boolean",
  schedulingGates: anyList,
  resourceClaims: anyList,
  resources: "any",
});

export const POD = obj({ apiVersion: "string", kind: "string", metadata: OBJECT_META, spec: POD_SPEC, status: "any" });

/**
 * Paths of fields the schema does not know, in the API server's notation (`spec.containers[0].foo`);
 * with `prune`, they are also deleted from `value`.
 */
export function unknownFields(value: unknown, schema: Schema, prune: boolean, path = ""): string[] {
  if (value === null || typeof value !== "object" || typeof schema === "string") return [];
  const out: string[] = [];
  if ("array" in schema) {
    if (Array.isArray(value)) value.forEach((v, i) => out.push(...unknownFields(v, schema.array, prune, `${path}[${i}]`)));
  } else if ("map" in schema) {
    if (!Array.isArray(value)) for (const [k, v] of Object.entries(value)) out.push(...unknownFields(v, schema.map, prune, `${path}[${k}]`));
  } else if (!Array.isArray(value)) {
    const rec = value as Record<string, unknown>;
    for (const k of Object.keys(rec)) {
      const child = path ? `${path}.${k}` : k;
      const s = schema.object[k];
      if (s === undefined) {
        out.push(child);
        if (prune) delete rec[k];
      } else out.push(...unknownFields(rec[k], s, prune, child));
    }
  }
  return out;
}
