/**
 * What `helm test` checks on a live cluster, for one release: each enabled plugin's DaemonSet has every pod
 * ready and its resources show in some node's allocatable (skipped where no node matches the plugin) or, for a
 * family in DRA mode, its driver has published a ResourceSlice with devices; and the CXI networks
 * MutatingAdmissionPolicy is in force (a server-side dry-run CXI pod gets the annotation).
 *
 * The last one catches a silent failure: on 1.34/1.35 a cluster can serve admissionregistration.k8s.io/v1beta1
 * without the MutatingAdmissionPolicy feature gate; the policy installs but nothing ever runs it.
 */
import { ApiConfig, apiRequest } from './kube-api';

/** A plugin's values, as much as the checks need (the chart passes them in KDP_PLUGINS). */
export interface PluginSettings {
  readonly enabled: boolean;
  readonly resourceName?: string;
  readonly udsResourceName?: string;
  readonly config?: { readonly resources: ReadonlyArray<{ readonly name: string }> };
  readonly configSets?: ReadonlyArray<{ readonly setname: string }>;
}

export interface TestSettings {
  /** The release namespace. */
  readonly namespace: string;
  /** The release's app.kubernetes.io/instance label. */
  readonly instance: string;
  readonly plugins: Readonly<Record<string, PluginSettings>>;
  /** The families in DRA mode and their driver names (the chart's KDP_DRA_DRIVERS); none when absent. */
  readonly draDrivers?: Readonly<Record<string, string>>;
  /** The annotation the CXI policy adds; undefined when the chart did not install the policy. */
  readonly cxiNetworks?: string;
  /** The ServiceAccount the dry-run pod names (it must exist; the test's own does). */
  readonly serviceAccount: string;
  /** Image of the dry-run pod (never pulled: the pod is not stored). */
  readonly image: string;
  /** How long to wait for pods and allocatable resources. */
  readonly timeoutSeconds: number;
  /** Poll period (tests shorten it). Default 2000 ms. */
  readonly pollMs?: number;
}

export type Outcome = 'pass' | 'fail' | 'skip';

export interface CheckResult {
  readonly check: string;
  readonly outcome: Outcome;
  readonly detail: string;
}

export const NETWORKS_ANNOTATION = 'k8s.v1.cni.cncf.io/networks';
const CEX_RESOURCE_PREFIX = 'cex.s390.ibm.com/';

/** The extended resources a plugin advertises, from its values. */
export function resourcesOf(plugin: string, settings: PluginSettings): string[] {
  switch (plugin) {
    case 'tdx':
      return [settings.resourceName, settings.udsResourceName].filter((r): r is string => !!r);
    case 'devnode':
      return (settings.config?.resources ?? []).map((r) => r.name);
    case 'cex':
      return (settings.configSets ?? []).map((set) => `${CEX_RESOURCE_PREFIX}${set.setname}`);
    default:
      return settings.resourceName ? [settings.resourceName] : [];
  }
}

interface DaemonSetStatus {
  desiredNumberScheduled?: number;
  numberReady?: number;
  observedGeneration?: number;
}
interface Item {
  metadata: { name: string; generation?: number };
  status?: DaemonSetStatus & { allocatable?: Record<string, string> };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `attempt` until it returns a result or the deadline passes; then `late()` says why it failed. */
async function until<T>(
  settings: TestSettings,
  attempt: () => Promise<T | undefined>,
  late: () => T,
): Promise<T> {
  const deadline = Date.now() + settings.timeoutSeconds * 1000;
  for (;;) {
    const result = await attempt();
    if (result !== undefined) return result;
    if (Date.now() >= deadline) return late();
    await sleep(settings.pollMs ?? 2000);
  }
}

async function list(api: ApiConfig, path: string): Promise<Item[]> {
  const response = await apiRequest(api, 'GET', path);
  if (response.status !== 200)
    throw new Error(`GET ${path}: HTTP ${response.status}: ${String(response.body.message ?? '')}`);
  return (response.body.items as Item[]) ?? [];
}

/** One plugin: its DaemonSet's pods ready, then its resources allocatable on some node. */
async function checkPlugin(
  api: ApiConfig,
  settings: TestSettings,
  plugin: string,
  values: PluginSettings,
): Promise<CheckResult[]> {
  const check = `${plugin}: DaemonSet ready`;
  const selector = encodeURIComponent(
    `app.kubernetes.io/instance=${settings.instance},app.kubernetes.io/component=${plugin}`,
  );
  const path = `/apis/apps/v1/namespaces/${settings.namespace}/daemonsets?labelSelector=${selector}`;
  let last = 'no status yet';
  const ready = await until<CheckResult>(
    settings,
    async () => {
      const items = await list(api, path);
      if (items.length !== 1) {
        last = `${items.length} DaemonSets carry labels ${decodeURIComponent(selector)}, expected 1`;
        return undefined;
      }
      const [daemonSet] = items;
      const status = daemonSet.status ?? {};
      if ((status.observedGeneration ?? 0) < (daemonSet.metadata.generation ?? 1)) {
        last = `the DaemonSet controller has not reported on ${daemonSet.metadata.name} generation ${daemonSet.metadata.generation}`;
        return undefined;
      }
      const desired = status.desiredNumberScheduled ?? 0;
      if (desired === 0)
        return {
          check,
          outcome: 'skip',
          detail: `no node matches ${daemonSet.metadata.name}'s nodeSelector`,
        };
      if ((status.numberReady ?? 0) === desired)
        return { check, outcome: 'pass', detail: `${desired}/${desired} pods ready` };
      last = `${status.numberReady ?? 0}/${desired} pods of ${daemonSet.metadata.name} ready`;
      return undefined;
    },
    () => ({ check, outcome: 'fail', detail: `after ${settings.timeoutSeconds} s: ${last}` }),
  );
  if (ready.outcome !== 'pass') return [ready];
  const driver = settings.draDrivers?.[plugin];
  if (driver) return [ready, await checkSlices(api, settings, plugin, driver)];

  const resources = resourcesOf(plugin, values);
  if (resources.length === 0)
    return [ready, { check: `${plugin}: allocatable`, outcome: 'skip', detail: 'no resource configured' }];
  const results = [ready];
  for (const resource of resources) {
    const allocatableCheck = `${plugin}: ${resource} allocatable`;
    results.push(
      await until<CheckResult>(
        settings,
        async () => {
          const nodes = (await list(api, '/api/v1/nodes')).filter(
            (node) => node.status?.allocatable?.[resource] !== undefined,
          );
          if (nodes.length === 0) return undefined;
          const where = nodes.map((n) => `${n.metadata.name}=${n.status!.allocatable![resource]}`).join(', ');
          return { check: allocatableCheck, outcome: 'pass', detail: where };
        },
        () => ({
          check: allocatableCheck,
          outcome: 'fail',
          detail: `after ${settings.timeoutSeconds} s no node has ${resource} in its allocatable: the plugin runs but never registered with the kubelet (see its logs and /readyz)`,
        }),
      ),
    );
  }
  return results;
}

/** DRA mode: the driver has published its devices (a ResourceSlice with at least one device). */
async function checkSlices(
  api: ApiConfig,
  settings: TestSettings,
  plugin: string,
  driver: string,
): Promise<CheckResult> {
  const check = `${plugin}: ResourceSlices of ${driver}`;
  const path = `/apis/resource.k8s.io/v1/resourceslices?fieldSelector=${encodeURIComponent(`spec.driver=${driver}`)}`;
  return until<CheckResult>(
    settings,
    async () => {
      const slices = ((await list(api, path)) as unknown as SliceItem[]).filter(
        (slice) => (slice.spec?.devices ?? []).length > 0,
      );
      if (slices.length === 0) return undefined;
      const where = slices.map((s) => `${s.spec?.nodeName ?? s.metadata.name}=${s.spec!.devices!.length}`);
      return { check, outcome: 'pass', detail: `devices per node: ${where.join(', ')}` };
    },
    () => ({
      check,
      outcome: 'fail',
      detail: `after ${settings.timeoutSeconds} s no ResourceSlice of ${driver} has a device: the driver runs but never published its devices (see its logs and /readyz)`,
    }),
  );
}

interface SliceItem {
  metadata: { name: string };
  spec?: { nodeName?: string; devices?: unknown[] };
}

/** The CXI networks policy: a dry-run pod requesting a NIC must come back annotated. */
async function checkCxiPolicy(api: ApiConfig, settings: TestSettings): Promise<CheckResult> {
  const check = 'cxi: networks MutatingAdmissionPolicy in force';
  const resource = settings.plugins.cxi?.resourceName;
  if (!settings.plugins.cxi?.enabled || !resource)
    return { check, outcome: 'skip', detail: 'the CXI plugin is not enabled' };
  if (settings.cxiNetworks === undefined)
    return {
      check,
      outcome: 'skip',
      detail:
        'the chart installed no networks policy (policies disabled, no cxi.nics, or MutatingAdmissionPolicy not served)',
    };
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { generateName: `${settings.instance}-cxi-policy-check-`, namespace: settings.namespace },
    spec: {
      serviceAccountName: settings.serviceAccount,
      automountServiceAccountToken: false,
      restartPolicy: 'Never',
      securityContext: { runAsNonRoot: true, runAsUser: 65534, seccompProfile: { type: 'RuntimeDefault' } },
      containers: [
        {
          name: 'probe',
          image: settings.image,
          resources: { limits: { [resource]: '1' } },
          securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
        },
      ],
    },
  };
  const response = await apiRequest(
    api,
    'POST',
    `/api/v1/namespaces/${settings.namespace}/pods?dryRun=All`,
    pod,
  );
  if (response.status !== 201)
    return {
      check,
      outcome: 'fail',
      detail: `dry-run create of a CXI pod: HTTP ${response.status}: ${String(response.body.message ?? '')}`,
    };
  const metadata = response.body.metadata as { annotations?: Record<string, string> };
  const annotation = metadata.annotations?.[NETWORKS_ANNOTATION];
  if (annotation === settings.cxiNetworks)
    return { check, outcome: 'pass', detail: `annotated ${annotation}` };
  return {
    check,
    outcome: 'fail',
    detail:
      annotation === undefined
        ? `the policy is installed but not in force: a CXI pod got no ${NETWORKS_ANNOTATION} annotation. On Kubernetes 1.34/1.35 the API server needs the MutatingAdmissionPolicy feature gate as well as admissionregistration.k8s.io/v1beta1 served`
        : `a CXI pod got ${NETWORKS_ANNOTATION}=${annotation}, expected ${settings.cxiNetworks}`,
  };
}

/** Every check, in order: plugins (in parallel), then the CXI policy. */
export async function runChecks(api: ApiConfig, settings: TestSettings): Promise<CheckResult[]> {
  const plugins = Object.entries(settings.plugins).filter(([, values]) => values.enabled);
  const results = await Promise.all(
    plugins.map(([plugin, values]) =>
      checkPlugin(api, settings, plugin, values).catch((err: Error) => [
        { check: `${plugin}: DaemonSet ready`, outcome: 'fail' as const, detail: err.message },
      ]),
    ),
  );
  const policy = await checkCxiPolicy(api, settings).catch((err: Error) => ({
    check: 'cxi: networks MutatingAdmissionPolicy in force',
    outcome: 'fail' as const,
    detail: err.message,
  }));
  return [...results.flat(), policy];
}
