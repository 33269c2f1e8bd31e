/**
 * The production ClaimReader: ResourceClaims from the API server through `@kubernetes/client-node`
 * (resource.k8s.io/v1). The client is required lazily, on first use in DRA mode, so a device-plugin
 * process never loads it (it is large: ~1.5 s and tens of MB at start).
 */
import type { ClaimReader, ResourceClaimView } from './driver';
import { apiErrorText, lazyKubeClients, type KubeOptions } from './kube';

interface ResourceClaimsApi {
  readNamespacedResourceClaim(req: { namespace: string; name: string }): Promise<ResourceClaimView>;
}

export function kubeClaimReader(options: KubeOptions = {}): ClaimReader {
  const clients = lazyKubeClients(options);
  let api: ResourceClaimsApi | undefined;
  return {
    async read(namespace, name) {
      api ??= clients<ResourceClaimsApi>((k8s) => k8s.ResourceV1Api);
      try {
        return await api.readNamespacedResourceClaim({ namespace, name });
      } catch (err) {
        if ((err as { code?: number }).code === 404) return undefined;
        throw new Error(`reading ResourceClaim ${namespace}/${name}: ${apiErrorText(err)}`);
      }
    },
  };
}
