/**
 * `@kubernetes/client-node`, loaded on first use: only DRA mode talks to the API server, and the
 * client costs ~1.5 s and tens of MB at start, which device-plugin processes must not pay.
 */
export interface KubeOptions {
  /** A kubeconfig file; in-cluster config (the pod's ServiceAccount) when undefined. */
  kubeconfig?: string;
}

type ApiClass<T> = new (...args: never[]) => T;

/** Returns a factory of API clients (`make(k8s => k8s.ResourceV1Api)`), all sharing one config. */
export function lazyKubeClients(options: KubeOptions = {}) {
  let loaded: { k8s: Record<string, unknown>; config: { makeApiClient<T>(api: ApiClass<T>): T } } | undefined;
  return <T>(pick: (k8s: Record<string, unknown>) => unknown): T => {
    if (!loaded) {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const k8s = require('@kubernetes/client-node') as Record<string, unknown> & {
        KubeConfig: new () => {
          loadFromFile(file: string): void;
          loadFromCluster(): void;
          makeApiClient<T>(api: ApiClass<T>): T;
        };
      };
      const config = new k8s.KubeConfig();
      if (options.kubeconfig) config.loadFromFile(options.kubeconfig);
      else config.loadFromCluster();
      loaded = { k8s, config };
    }
    return loaded.config.makeApiClient(pick(loaded.k8s) as ApiClass<T>);
  };
}

/** An API error, short: client-node's ApiException carries the HTTP code and the Status body. */
export function apiErrorText(err: unknown): string {
  const e = err as { code?: number; body?: unknown; message?: string };
  if (typeof e.code === 'number' && e.code >= 100) {
    let reason = '';
    try {
      reason = (JSON.parse(String(e.body)) as { message?: string }).message ?? '';
    } catch {
      reason = '';
    }
    return `HTTP ${e.code}${reason ? `: ${reason.slice(0, 300)}` : ''}`;
  }
  return (e.message ?? String(err)).slice(0, 500);
}
