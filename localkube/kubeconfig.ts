// kubeconfig text for a localkube server. client-node refuses plain http unless the cluster entry
// says insecure-skip-tls-verify, so it does; the token is a placeholder (localkube checks no auth).

export function kubeconfigYaml(url: string, namespace = "default"): string {
  const q = (s: string) => JSON.stringify(s); // JSON strings are valid YAML scalars
  return [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    "- name: localkube",
    "  cluster:",
    `    server: ${q(url)}`,
    "    insecure-skip-tls-verify: true",
    "users:",
    "- name: localkube",
    "  user:",
    `    token: ${q("localkube")}`,
    "contexts:",
    "- name: localkube",
    "  context:",
    "    cluster: localkube",
    "    user: localkube",
    `    namespace: ${q(namespace)}`,
    "current-context: localkube",
    "preferences: {}",
    "",
  ].join("\n");
}
