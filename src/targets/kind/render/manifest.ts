/** A Kubernetes object as rendered by the CLI: plain data, validated in tests against real schemas. */
export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; [key: string]: unknown };
  [key: string]: unknown;
}

export const MANAGED_BY = { 'app.kubernetes.io/managed-by': 'speedlayer', 'app.kubernetes.io/part-of': 'speedlayer' };

export function manifestId(m: Manifest): string {
  return `${m.kind}/${m.metadata.name}`;
}
