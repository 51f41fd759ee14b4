// `ferry doctor`'s Kubernetes checks: the API server, each task namespace, and in each the RBAC Ferry
// uses (executor/permissions.ts), asked of the server as the identity doctor runs as.
import * as k8s from "@kubernetes/client-node";
import { FERRY_VERSION, type FerryConfig } from "../config/config.ts";
import { connectKube, kubeFailure, type Kube } from "../executor/kube.ts";
import { guardedHttpLibrary } from "../executor/kube-http.ts";
import { describePermission, FERRY_PERMISSIONS, splitResource } from "../executor/permissions.ts";
import { silentLogger } from "../lib/logger.ts";
import { TokenBucket } from "../lib/token-bucket.ts";
import { errorText, Failed, runCheck, skipped, type CheckResult, type Passed } from "./doctor-check.ts";

// --- Kubernetes ----------------------------------------------------------------------------------

type ApiClass<T> = new (configuration: ReturnType<typeof k8s.createConfiguration>) => T;

/**
 * Another API of the same client (version, authorization), built as executor/kube.ts builds CoreV1Api:
 * the same KubeConfig (credentials, TLS, connection setup deadline) and the same guarded HTTP layer.
 */
function apiOf<T>(kube: Kube, Api: ApiClass<T>): T {
  return new Api(
    k8s.createConfiguration({
      baseServer: new k8s.ServerConfiguration(kube.config.getCurrentCluster()!.server, {}),
      authMethods: { default: kube.config },
      httpApi: guardedHttpLibrary({ writeLimiter: new TokenBucket(50, 100), requestTimeoutMs: kube.limits.requestTimeoutMs, log: silentLogger }),
      middleware: [k8s.setHeaderMiddleware("User-Agent", `ferry/${FERRY_VERSION}`)],
    }),
  );
}

function connect(c: FerryConfig, timeoutMs: number): Kube {
  const source = c.kube === "in-cluster" ? ({ kind: "in-cluster" } as const) : ({ kind: "kubeconfig-file", path: c.kubeconfigPath } as const);
  try {
    return connectKube(source, c.taskNamespace, { requestTimeoutMs: timeoutMs });
  } catch (err) {
    throw new Failed(
      c.kube === "in-cluster" ? `cannot load the in-cluster configuration: ${errorText(err)}` : `cannot load the kubeconfig ${c.kubeconfigPath ?? "(the default: ~/.kube/config)"}: ${errorText(err)}`,
      c.kube === "in-cluster" ? "FERRY_KUBE=in-cluster works inside a Pod only; elsewhere use FERRY_KUBE=kubeconfig" : "set KUBECONFIG to a readable kubeconfig whose current context is the cluster Ferry should use",
    );
  }
}

function kubeHint(code: number, server: string): string | null {
  if (code === 0) return `is ${server} reachable from here? (the kubeconfig's current cluster)`;
  if (code === 401) return "the credentials were refused: check the kubeconfig's user (token, certificate, exec plugin)";
  if (code === 403) return "the identity Ferry uses is not allowed to do this";
  return null;
}

async function checkApiServer(kube: Kube): Promise<Passed> {
  const server = kube.config.getCurrentCluster()!.server;
  try {
    const v = await apiOf(kube, k8s.VersionApi).getCode();
    return { detail: `Kubernetes ${v.gitVersion} at ${server}` };
  } catch (err) {
    const f = kubeFailure(err);
    throw new Failed(`${server}: ${f.code ? `HTTP ${f.code}: ` : ""}${f.message}`, kubeHint(f.code, server));
  }
}

async function checkNamespace(kube: Kube, name: string, c: FerryConfig): Promise<Passed> {
  const role = name === c.taskNamespace ? "FERRY_TASK_NAMESPACE" : "FERRY_ALLOWED_NAMESPACES";
  let ns: k8s.V1Namespace;
  try {
    ns = await kube.core.readNamespace({ name });
  } catch (err) {
    const f = kubeFailure(err);
    if (f.code === 404) throw new Failed(`namespace ${name} (${role}) does not exist`, `create it (kubectl create namespace ${name}), or name an existing one in ${role}`);
    // Ferry's Role does not grant reading namespaces (it does not need to); the RBAC check still runs.
    if (f.code === 403) {
      return {
        status: "warn",
        detail: `cannot tell whether namespace ${name} exists: reading namespaces is forbidden to this identity (Ferry does not need it)`,
        hint: `check it with an account that may: kubectl get namespace ${name}`,
      };
    }
    throw new Failed(`${f.code ? `HTTP ${f.code}: ` : ""}${f.message}`, kubeHint(f.code, kube.config.getCurrentCluster()!.server));
  }
  const phase = ns.status?.phase ?? "Active";
  if (phase !== "Active") throw new Failed(`namespace ${name} is ${phase}`, "it is being deleted: wait for it to go, then create it again");
  return { detail: `namespace ${name} exists` };
}

/** Asks the server, for each permission of executor/permissions.ts, whether the current identity has it there. */
async function checkRbac(kube: Kube, namespace: string): Promise<Passed> {
  const auth = apiOf(kube, k8s.AuthorizationV1Api);
  const answers = await Promise.all(
    FERRY_PERMISSIONS.map(async (p) => {
      const review = await auth
        .createSelfSubjectAccessReview({ body: { spec: { resourceAttributes: { namespace, group: p.group, verb: p.verb, ...splitResource(p.resource) } } } })
        .catch((err: unknown) => {
          const f = kubeFailure(err);
          throw new Failed(`cannot ask the server (SelfSubjectAccessReview): ${f.code ? `HTTP ${f.code}: ` : ""}${f.message}`, kubeHint(f.code, kube.config.getCurrentCluster()!.server));
        });
      return { p, allowed: review.status?.allowed === true };
    }),
  );
  const refused = answers.filter((a) => !a.allowed);
  if (refused.length > 0) {
    throw new Failed(
      `not allowed in ${namespace}: ${refused.map((a) => `${describePermission(a.p)} (to ${a.p.why})`).join("; ")}`,
      `apply deploy/kubernetes/rbac.yaml's Role and RoleBinding in namespace ${namespace}, bound to the identity Ferry runs as`,
    );
  }
  const byResource = new Map<string, string[]>();
  for (const p of FERRY_PERMISSIONS) byResource.set(p.resource, [...(byResource.get(p.resource) ?? []), p.verb]);
  return { detail: `allowed in ${namespace}: ${[...byResource].map(([r, verbs]) => `${r} ${verbs.join(", ")}`).join("; ")}` };
}

export async function kubeChecks(c: FerryConfig, timeoutMs: number): Promise<CheckResult[]> {
  const namespaces = [c.taskNamespace, ...c.allowedNamespaces.filter((n) => n !== c.taskNamespace)];
  if (c.kube === "local") {
    // Nothing here can be wrong: ferry start runs localkube itself, with these namespaces, and localkube
    // allows every request. Starting one only to ask it would check localkube, not the setup.
    return [
      skipped(
        "kubernetes",
        "Kubernetes API",
        `FERRY_KUBE=local: ferry start runs localkube, which creates namespace(s) ${namespaces.join(", ")} and allows every request`,
      ),
    ];
  }
  let kube: Kube | undefined;
  const api = await runCheck("kubernetes", "Kubernetes API", timeoutMs, async () => {
    kube = connect(c, timeoutMs);
    return checkApiServer(kube);
  });
  const results = [api];
  const nsResults = await Promise.all(
    namespaces.map(async (name) => {
      if (api.status === "fail") {
        return [skipped(`namespace:${name}`, `namespace ${name}`, "the Kubernetes API check failed"), skipped(`rbac:${name}`, `RBAC in ${name}`, "the Kubernetes API check failed")];
      }
      const ns = await runCheck(`namespace:${name}`, `namespace ${name}`, timeoutMs, () => checkNamespace(kube!, name, c));
      const rbac =
        ns.status === "fail" ? skipped(`rbac:${name}`, `RBAC in ${name}`, `namespace ${name} check failed`) : await runCheck(`rbac:${name}`, `RBAC in ${name}`, timeoutMs, () => checkRbac(kube!, name));
      return [ns, rbac];
    }),
  );
  return results.concat(nsResults.flat());
}
