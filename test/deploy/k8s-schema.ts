// Checks Kubernetes objects against the Kubernetes API's OpenAPI schemas, as the API server would on
// `kubectl apply` with strict field validation (kubectl's default since 1.27):
// - types, required fields, enums and formats: the validators that `kubernetes-models` (4.5.1, generated
//   from the Kubernetes 1.33 OpenAPI document) ships for each kind;
// - unknown fields (a typo such as `livenesProbe` that the API server would refuse): those validators do
//   not check them, so every field is looked up in the model metadata of `@kubernetes/client-node` (the
//   client Ferry itself uses, generated from the same OpenAPI document), recursively.
// A kind that is not in KINDS below is refused: add it (one import) rather than let it through unchecked.
import * as k8s from "@kubernetes/client-node";
import { Namespace, Secret, Service, ServiceAccount } from "kubernetes-models/v1";
import { Deployment } from "kubernetes-models/apps/v1";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1";
import { Role, RoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1";

interface Validatable {
  validate(): void;
}
type ModelCtor = new (data: never) => Validatable;

/** apiVersion/kind → the kubernetes-models class (its schema validator) and the client-node model name. */
const KINDS: Record<string, { model: ModelCtor; clientModel: string }> = {
  "v1/Namespace": { model: Namespace as unknown as ModelCtor, clientModel: "V1Namespace" },
  "v1/ServiceAccount": { model: ServiceAccount as unknown as ModelCtor, clientModel: "V1ServiceAccount" },
  "v1/Service": { model: Service as unknown as ModelCtor, clientModel: "V1Service" },
  "v1/Secret": { model: Secret as unknown as ModelCtor, clientModel: "V1Secret" },
  "apps/v1/Deployment": { model: Deployment as unknown as ModelCtor, clientModel: "V1Deployment" },
  "rbac.authorization.k8s.io/v1/Role": { model: Role as unknown as ModelCtor, clientModel: "V1Role" },
  "rbac.authorization.k8s.io/v1/RoleBinding": { model: RoleBinding as unknown as ModelCtor, clientModel: "V1RoleBinding" },
  "policy/v1/PodDisruptionBudget": { model: PodDisruptionBudget as unknown as ModelCtor, clientModel: "V1PodDisruptionBudget" },
  "networking.k8s.io/v1/NetworkPolicy": { model: NetworkPolicy as unknown as ModelCtor, clientModel: "V1NetworkPolicy" },
};

interface Attribute {
  name: string;
  baseName: string;
  type: string;
}
type ClientModel = { getAttributeTypeMap(): Attribute[] };

function clientModel(name: string): ClientModel | null {
  const candidate = (k8s as unknown as Record<string, unknown>)[name];
  if (typeof candidate === "function" && typeof (candidate as Partial<ClientModel>).getAttributeTypeMap === "function") return candidate as unknown as ClientModel;
  return null;
}

/** client-node's primitive and opaque types: their content has no fields to check. */
const LEAF_TYPES = new Set(["string", "number", "boolean", "Date", "any", "object", "IntOrString", "RuntimeRawExtension"]);

/** Lists the fields of `value` that the model `typeName` does not have, at any depth. */
export function unknownFields(value: unknown, typeName: string, at: string): string[] {
  if (value === null || value === undefined) return [];
  const array = /^Array<(.+)>$/.exec(typeName);
  if (array) return Array.isArray(value) ? value.flatMap((item, i) => unknownFields(item, array[1], `${at}[${i}]`)) : [];
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(typeName);
  if (map) {
    return typeof value === "object" ? Object.entries(value as Record<string, unknown>).flatMap(([k, v]) => unknownFields(v, map[1], `${at}.${k}`)) : [];
  }
  if (LEAF_TYPES.has(typeName)) return [];
  const model = clientModel(typeName);
  if (!model) return [`${at}: no client-node model named ${typeName} (cannot check its fields)`];
  if (typeof value !== "object" || Array.isArray(value)) return []; // a wrong type is the schema's error
  const attributes = new Map(model.getAttributeTypeMap().map((a) => [a.baseName, a]));
  const found: string[] = [];
  for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
    const attribute = attributes.get(key);
    if (!attribute) found.push(`${at}.${key}: unknown field (not in ${typeName})`);
    else found.push(...unknownFields(v, attribute.type, `${at}.${key}`));
  }
  return found;
}

/** Every problem the API server's schema validation would report for `obj` (empty when it is valid). */
export function schemaProblems(obj: unknown): string[] {
  if (typeof obj !== "object" || obj === null) return ["not an object"];
  const { apiVersion, kind } = obj as { apiVersion?: unknown; kind?: unknown };
  const key = `${String(apiVersion)}/${String(kind)}`;
  const entry = KINDS[key];
  if (!entry) return [`${key}: no schema known to test/deploy/k8s-schema.ts (add the kind there)`];
  const problems: string[] = [];
  try {
    new entry.model(structuredClone(obj) as never).validate();
  } catch (err) {
    problems.push(`${key}: ${(err as Error).message}`);
  }
  problems.push(...unknownFields(obj, entry.clientModel, key));
  return problems;
}
