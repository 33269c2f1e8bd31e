/** Pods, plugins and logs on the real node: the small helpers the scenarios share. */
import * as fs from 'fs';
import * as path from 'path';
import { PluginProcess } from '../plugin-process';
import { BUSYBOX_IMAGE } from './images';
import { DEVICE_PLUGIN_DIR, NODE_NAME, RealNode } from './node';

export interface Row {
  readonly scenario: string;
  readonly ok: boolean;
  readonly seconds: number;
  readonly detail: string;
}

export function printTable(rows: Row[]): void {
  const width = Math.max(...rows.map((r) => r.scenario.length), 8);
  console.log(`\n${'scenario'.padEnd(width)}  result  seconds  detail`);
  for (const r of rows)
    console.log(
      `${r.scenario.padEnd(width)}  ${(r.ok ? 'pass' : 'FAIL').padEnd(6)}  ${r.seconds.toFixed(1).padStart(7)}  ${r.detail.split('\n')[0]}`,
    );
}

export interface Context {
  readonly node: RealNode;
  readonly plugins: Set<PluginProcess>;
}

export interface Scenario {
  readonly name: string;
  readonly needsControllerManager?: boolean;
  run(ctx: Context): Promise<string | void>;
  cleanup?(ctx: Context): Promise<void>;
}

export function check(condition: boolean, message: string): void {
  if (!condition) throw new Error(message);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Starts `kube-device-plugins <plugin>` on the host against the node's kubelet (its log in the state dir). */
export function startPlugin(
  ctx: Context,
  plugin: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
  label = plugin,
): PluginProcess {
  const p = new PluginProcess(
    plugin,
    [
      `--device-plugin-dir=${DEVICE_PLUGIN_DIR}`,
      `--cdi-dir=${ctx.node.cdiDir}`,
      `--pod-resources-socket=${path.join(ctx.node.kubeletRoot, 'pod-resources', 'kubelet.sock')}`,
      '--log-format=text',
      ...args,
    ],
    env,
    path.join(ctx.node.logDir, `plugin-${label}.log`),
  );
  ctx.plugins.add(p);
  return p;
}

export interface PodStatus {
  phase?: string;
  reason?: string;
  message?: string;
  conditions?: Array<{ type: string; status: string; reason?: string; message?: string }>;
  containerStatuses?: Array<{
    name: string;
    containerID?: string;
    ready: boolean;
    state?: Record<string, unknown>;
  }>;
}

export interface PodObject {
  metadata: { name: string; namespace: string; uid: string };
  spec: { nodeName?: string };
  status?: PodStatus;
}

/** The node's allocatable count of `resource` (0 when absent). */
export async function allocatable(node: RealNode, resource: string): Promise<number> {
  const r = await node.cluster!.request('GET', `/api/v1/nodes/${NODE_NAME}`);
  const value = (r.body.status as { allocatable?: Record<string, string> })?.allocatable?.[resource];
  return value === undefined ? 0 : Number(value);
}

export async function waitAllocatable(
  node: RealNode,
  resource: string,
  want: number,
  timeoutMs = 60_000,
): Promise<void> {
  let last: number | string = 'no answer';
  await node
    .waitFor(
      `${resource} allocatable ${want}`,
      async () => {
        try {
          last = await allocatable(node, resource);
        } catch (err) {
          last = (err as Error).message;
          return false;
        }
        return last === want;
      },
      timeoutMs,
    )
    .catch((err: Error) => {
      throw new Error(`${err.message} (last ${last})`);
    });
}

export async function ensureNamespace(node: RealNode, namespace: string): Promise<void> {
  const cluster = node.cluster!;
  await cluster.create(
    '/api/v1/namespaces',
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } },
    true,
  );
  // No ServiceAccount controller unless the chart scenario runs the controller-manager: make `default`.
  await cluster.create(
    `/api/v1/namespaces/${namespace}/serviceaccounts`,
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default' } },
    true,
  );
}

export interface PodOptions {
  readonly namespace: string;
  readonly name: string;
  /** A busybox shell script; it should end in `exec sleep …` to keep the pod running. */
  readonly script: string;
  readonly limits?: Record<string, string>;
  /** Bypass the scheduler (the kubelet's own admission then decides). */
  readonly nodeName?: string;
  readonly containerName?: string;
  readonly extraContainers?: object[];
  /** emptyDir volumes mounted in the main container: name → mount path. */
  readonly emptyDirs?: Record<string, string>;
  readonly runtimeClassName?: string;
}

export function busyboxContainer(name: string, script: string, limits?: Record<string, string>): object {
  return {
    name,
    image: BUSYBOX_IMAGE,
    imagePullPolicy: 'Never',
    command: ['sh', '-c', script],
    ...(limits && { resources: { limits } }),
  };
}

export async function createPod(node: RealNode, o: PodOptions): Promise<PodObject> {
  const body = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: o.name, namespace: o.namespace },
    spec: {
      automountServiceAccountToken: false,
      terminationGracePeriodSeconds: 1,
      restartPolicy: 'Never',
      ...(o.nodeName && { nodeName: o.nodeName }),
      ...(o.runtimeClassName && { runtimeClassName: o.runtimeClassName }),
      containers: [
        {
          ...busyboxContainer(o.containerName ?? 'main', o.script, o.limits),
          volumeMounts: Object.entries(o.emptyDirs ?? {}).map(([name, mountPath]) => ({ name, mountPath })),
        },
        ...(o.extraContainers ?? []),
      ],
      volumes: Object.keys(o.emptyDirs ?? {}).map((name) => ({ name, emptyDir: {} })),
    },
  };
  const r = await node.cluster!.create(`/api/v1/namespaces/${o.namespace}/pods`, body);
  return r.body as unknown as PodObject;
}

export async function getPod(
  node: RealNode,
  namespace: string,
  name: string,
): Promise<PodObject | undefined> {
  const r = await node.cluster!.request('GET', `/api/v1/namespaces/${namespace}/pods/${name}`);
  return r.status === 200 ? (r.body as unknown as PodObject) : undefined;
}

/** Waits until `test` holds for the pod; returns it. The error names the pod's last status. */
export async function waitPod(
  node: RealNode,
  namespace: string,
  name: string,
  what: string,
  test: (pod: PodObject) => boolean,
  timeoutMs = 90_000,
): Promise<PodObject> {
  let last: PodObject | undefined;
  try {
    await node.waitFor(
      `pod ${namespace}/${name} ${what}`,
      async () => {
        last = await getPod(node, namespace, name);
        return !!last && test(last);
      },
      timeoutMs,
    );
  } catch (err) {
    throw new Error(
      `${(err as Error).message}; last status ${JSON.stringify(last?.status ?? null).slice(0, 600)}`,
    );
  }
  return last!;
}

/** What the pod's container printed so far (the kubelet's CRI log file under podLogsDirectory). */
export function podLog(node: RealNode, pod: PodObject, container = 'main'): string {
  const dir = path.join(
    node.podLogs,
    `${pod.metadata.namespace}_${pod.metadata.name}_${pod.metadata.uid}`,
    container,
  );
  if (!fs.existsSync(dir)) return '';
  return fs
    .readdirSync(dir)
    .sort()
    .map((f) => fs.readFileSync(path.join(dir, f), 'utf8'))
    .join('')
    .split('\n')
    .map((line) => line.replace(/^\S+ (stdout|stderr) [FP] /, ''))
    .join('\n');
}

/** Waits for the pod to be Running and its container to print `marker`; returns the pod and its log. */
export async function runningWithLog(
  node: RealNode,
  namespace: string,
  name: string,
  marker = 'KDP-DONE',
  container = 'main',
): Promise<{ pod: PodObject; log: string }> {
  const pod = await waitPod(node, namespace, name, 'Running', (p) =>
    ['Running', 'Failed', 'Succeeded'].includes(p.status?.phase ?? ''),
  );
  if (pod.status?.phase !== 'Running' && process.env.KDP_E2E_DEBUG)
    for (const c of pod.status?.containerStatuses ?? [])
      if (c.containerID)
        console.log(node.ctr(['containers', 'info', c.containerID.replace(/^containerd:\/\//, '')]));
  if (pod.status?.phase !== 'Running')
    throw new Error(
      `pod ${name} ${pod.status?.phase}: ${pod.status?.reason ?? ''} ${pod.status?.message ?? ''} ${JSON.stringify(pod.status?.containerStatuses?.map((c) => c.state))}`,
    );
  let log = '';
  await node
    .waitFor(
      `${name} printing ${marker}`,
      async () => (log = podLog(node, pod, container)).includes(marker),
      60_000,
    )
    .catch((err: Error) => {
      throw new Error(`${err.message}; log so far:\n${log}`);
    });
  return { pod, log };
}

/** Deletes the pod and waits until the kubelet has confirmed it gone (containers stopped, devices released). */
export async function deletePod(
  node: RealNode,
  namespace: string,
  name: string,
  timeoutMs = 60_000,
): Promise<void> {
  const r = await node.cluster!.request('DELETE', `/api/v1/namespaces/${namespace}/pods/${name}`);
  if (r.status !== 200 && r.status !== 202 && r.status !== 404)
    throw new Error(`delete pod ${name}: HTTP ${r.status} ${String(r.body.message)}`);
  await node.waitFor(`pod ${name} gone`, async () => !(await getPod(node, namespace, name)), timeoutMs);
}

/** The host PID of a running container of the pod (from containerd), for nsenter. */
export function containerPid(node: RealNode, pod: PodObject, container = 'main'): number {
  const status = pod.status?.containerStatuses?.find((c) => c.name === container);
  const id = status?.containerID?.replace(/^containerd:\/\//, '');
  if (!id) throw new Error(`no container ID for ${pod.metadata.name}/${container}`);
  const line = node
    .ctr(['tasks', 'ls'])
    .split('\n')
    .find((l) => l.startsWith(id));
  const pid = Number(line?.split(/\s+/)[1]);
  if (!pid) throw new Error(`no task for container ${id}`);
  return pid;
}

/** Lines of the kubelet log since byte `from` that contain `text`. */
export function kubeletLines(node: RealNode, text: string, from = 0): string[] {
  const buf = fs.readFileSync(node.kubeletLog);
  return buf
    .subarray(from)
    .toString('utf8')
    .split('\n')
    .filter((l) => l.includes(text));
}

export function kubeletLogSize(node: RealNode): number {
  return fs.statSync(node.kubeletLog).size;
}
