/**
 * The production ClaimReader: ResourceClaims from the API server through `@kubernetes/client-node`
 * (resource.k8s.io/v1). The client is required lazily, on first use in DRA mode, so a device-plugin
 * process never loads it (it is large: ~1.5 s and tens of MB at start).
 */
import type { ClaimReader, ResourceClaimView } from './driver';

export interface KubeClaimReaderOptions {
  /** A kubeconfig file; in-cluster config (the pod's ServiceAccount) when undefined. */
  kubeconfig?: string;
}

interface ClientNode {
  KubeConfig: new () => {
    loadFromFile(file: string): void;
    loadFromCluster(): void;
    makeApiClient<T>(api: new (...args: never[]) => T): T;
  };
  ResourceV1Api: new (...args: never[]) => {
    readNamespacedResourceClaim(req: { namespace: string; name: string }): Promise<ResourceClaimView>;
  };
}

export function kubeClaimReader(options: KubeClaimReaderOptions = {}): ClaimReader {
  let api: InstanceType<ClientNode['ResourceV1Api']> | undefined;
  return {
    async read(namespace, name) {
      if (!api) {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const k8s = require('@kubernetes/client-node') as ClientNode;
        const config = new k8s.KubeConfig();
        if (options.kubeconfig) config.loadFromFile(options.kubeconfig);
        else config.loadFromCluster();
        api = config.makeApiClient(k8s.ResourceV1Api);
      }
      try {
        return await api.readNamespacedResourceClaim({ namespace, name });
      } catch (err) {
        if ((err as { code?: number }).code === 404) return undefined;
        throw new Error(`reading ResourceClaim ${namespace}/${name}: ${errorText(err)}`);
      }
    },
  };
}

/** client-node's ApiException carries the HTTP code and the Status body; keep it short. */
function errorText(err: unknown): string {
  const e = err as { code?: number; body?: unknown; message?: string };
  if (e.code === undefined) return e.message ?? String(err);
  let reason = '';
  try {
    const body = typeof e.body === 'string' ? (JSON.parse(e.body) as { message?: string }) : undefined;
    reason = body?.message ?? '';
  } catch {
    reason = String(e.body).slice(0, 200);
  }
  return `HTTP ${e.code}${reason ? `: ${reason}` : ''}`;
}
