/**
 * `npm run e2e:dra`: the DRA-mode families on real components. etcd + kube-apiserver + kube-scheduler +
 * kube-controller-manager (resourceclaim-controller) v1.37 built from the Go module proxy
 * (test/e2e/apiserver/build.sh, cached), and the kubelet's real DRA manager and plugin manager
 * (k8s.io/kubernetes/pkg/kubelet/cm/dra, pkg/kubelet/pluginmanager) in the Go harness ./kubelet, which
 * is the kubelet of one Node. For kvm, tdx and devnode, each as a real process
 * (`node dist/plugins/cli/main.js <family> --mode dra …`) on its fixture tree:
 *   - it registers with the kubelet side and publishes its ResourceSlice (one pool, owned by the Node);
 *   - a pod whose ResourceClaimTemplate selects a device by CEL is scheduled by the real scheduler, its
 *     claim allocated, and the kubelet side's NodePrepareResources returns CDI IDs whose spec files are
 *     valid by the upstream CDI schema (and a selector no device matches leaves its pod unschedulable);
 *   - a driver killed and started again keeps its prepared claims (it unprepares them afterwards);
 *   - a held device going unhealthy reaches the kubelet's DRA manager through the health stream;
 *   - deleting a pod unprepares it and removes its spec; the controller clears the reservation;
 *   - a device going unhealthy, or vanishing, updates the slice (and coming back too);
 *   - SIGTERM exits 0 and keeps the slice; `--dra-uninstall` deletes it.
 * Then it measures (kvm): device change → slice updated on the API server, and NodePrepareResources as the
 * kubelet times it, into dist/e2e/dra-results.json (bench/scenarios/real-dra.ts reports them).
 * Prints a table (scenario, result, seconds) and exits 1 when a scenario failed. Every process is stopped by
 * its PID and the temp dirs removed, on failure and on SIGINT/SIGTERM too (KDP_E2E_KEEP=1 keeps them).
 * Ports 25790/25800/18443 (etcd client/peer, kube-apiserver).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as yaml from 'js-yaml';
import { Cluster, buildBinary } from '../apiserver/cluster';
import { REPO_ROOT } from '../plugin-process';
import { report, rows, scenario } from '../scenario-table';
import type { DraResults } from '../../../bench/scenarios/real-dra';
import { cdiSchemaErrors } from '../../helpers/cdi-schema';
import { UPSTREAM_DIR } from '../../helpers/upstream';
import { DriverProcess } from './driver-process';
import { FAMILIES, attr, notADevice, setUpFamily, type DeviceFault, type DraFamily } from './families';
import { KubeletDra, ensureDraHarness, type HarnessEvent } from './kubelet-dra';
import { SliceWatch, attribute, poolGeneration, sliceDevices, type SliceDeviceView } from './slice-watch';

const PORTS = { etcdClient: 25790, etcdPeer: 25800, apiserver: 18443 };
const VERSION = 'v1.37';
const NODE = 'dra-node-1';
const NS = 'dra-e2e';
const BENCH_SLICE_CYCLES = Number(process.env.KDP_DRA_BENCH_CYCLES ?? 50);
const BENCH_PODS = Number(process.env.KDP_DRA_BENCH_PODS ?? 100);

function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

// ------------------------------------------------------------------------------------------ what runs

/** Everything started, so that a failure or a signal stops it all (by PID) and removes the state. */
const live = {
  cluster: undefined as Cluster | undefined,
  kubelet: undefined as KubeletDra | undefined,
  drivers: new Set<DriverProcess>(),
  watches: new Set<SliceWatch>(),
  root: undefined as string | undefined,
  /** Set by SIGINT/SIGTERM: no further family is started. */
  stopping: false,
};

async function stopEverything(): Promise<void> {
  for (const watch of live.watches) watch.stop();
  await Promise.all([...live.drivers].map((d) => d.stop('SIGKILL')));
  live.drivers.clear();
  await live.kubelet?.stop();
  live.kubelet = undefined;
  await live.cluster?.stop();
  live.cluster = undefined;
  if (live.root && !process.env.KDP_E2E_KEEP) fs.rmSync(live.root, { recursive: true, force: true });
  else if (live.root) console.log(`kept ${live.root}`);
  live.root = undefined;
}

// ------------------------------------------------------------------------------------------ API helpers

interface Obj {
  metadata?: { name?: string; uid?: string; deletionTimestamp?: string };
  spec?: Record<string, unknown> & { nodeName?: string };
  status?: Record<string, unknown>;
}

async function get(cluster: Cluster, url: string): Promise<Obj | undefined> {
  const response = await cluster.request('GET', url);
  if (response.status === 404) return undefined;
  if (response.status !== 200)
    throw new Error(`GET ${url}: HTTP ${response.status}: ${String(response.body.message)}`);
  return response.body as Obj;
}

const podUrl = (name = '') => `/api/v1/namespaces/${NS}/pods${name ? `/${name}` : ''}`;
const claimUrl = (name: string) => `/apis/resource.k8s.io/v1/namespaces/${NS}/resourceclaims/${name}`;

interface AllocationResult {
  driver: string;
  pool: string;
  device: string;
  request: string;
}
interface ClaimStatus {
  allocation?: { devices?: { results?: AllocationResult[] } };
  reservedFor?: { resource: string; name: string; uid: string }[];
}

function template(name: string, deviceClass: string, cel: string): object {
  return {
    apiVersion: 'resource.k8s.io/v1',
    kind: 'ResourceClaimTemplate',
    metadata: { name, namespace: NS },
    spec: {
      spec: {
        devices: {
          requests: [
            {
              name: 'dev',
              exactly: { deviceClassName: deviceClass, selectors: [{ cel: { expression: cel } }] },
            },
          ],
        },
      },
    },
  };
}

function pod(name: string, templateName: string): object {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: NS },
    spec: {
      automountServiceAccountToken: false,
      terminationGracePeriodSeconds: 30,
      resourceClaims: [{ name: 'dev', resourceClaimTemplateName: templateName }],
      containers: [
        { name: 'app', image: 'registry.k8s.io/pause:3.10', resources: { claims: [{ name: 'dev' }] } },
      ],
    },
  };
}

/** The pod bound to the node by the scheduler, and its generated claim allocated and reserved for it. */
async function scheduled(
  cluster: Cluster,
  name: string,
): Promise<{ uid: string; claimName: string; claimUid: string; results: AllocationResult[] }> {
  return until(
    `pod ${name} scheduled onto ${NODE} with its claim allocated`,
    async () => {
      const p = await get(cluster, podUrl(name));
      if (p?.spec?.nodeName !== NODE) return undefined;
      const statuses = (p.status?.resourceClaimStatuses ?? []) as {
        name: string;
        resourceClaimName?: string;
      }[];
      const claimName = statuses.find((s) => s.name === 'dev')?.resourceClaimName;
      if (!claimName) return undefined;
      const claim = await get(cluster, claimUrl(claimName));
      const status = claim?.status as ClaimStatus | undefined;
      const results = status?.allocation?.devices?.results ?? [];
      if (!results.length || !status?.reservedFor?.some((r) => r.uid === p.metadata!.uid)) return undefined;
      return { uid: p.metadata!.uid!, claimName, claimUid: claim!.metadata!.uid!, results };
    },
    60_000,
  );
}

// ------------------------------------------------------------------------------------------ CDI specs

interface CdiFile {
  file: string;
  spec: {
    cdiVersion: string;
    kind: string;
    devices: { name: string; containerEdits?: Record<string, unknown> }[];
  };
}

/** Every CDI spec in `dir`, indexed by fully-qualified device name (`vendor/class=name`). */
function cdiSpecs(dir: string): Map<string, CdiFile> {
  const out = new Map<string, CdiFile>();
  if (!fs.existsSync(dir)) return out;
  for (const name of fs.readdirSync(dir)) {
    if (!/\.(json|ya?ml)$/.test(name)) continue;
    const file = path.join(dir, name);
    const spec = yaml.load(fs.readFileSync(file, 'utf8')) as CdiFile['spec'];
    for (const device of spec?.devices ?? []) out.set(`${spec.kind}=${device.name}`, { file, spec });
  }
  return out;
}

/** The claim's spec files: exist, schema-valid, hold only the claim's devices, name the fixture's node. */
function checkCdi(cdiDir: string, ids: string[], hostPath: string | undefined): string[] {
  check(ids.length > 0, 'NodePrepareResources returned no CDI IDs');
  check(
    fs.existsSync(path.join(UPSTREAM_DIR, 'cdi', 'schema.json')),
    `the upstream CDI schema is needed: no ${UPSTREAM_DIR}/cdi/schema.json (KDP_UPSTREAM_DIR points elsewhere)`,
  );
  const specs = cdiSpecs(cdiDir);
  const files = new Set<string>();
  for (const id of ids) {
    const found = specs.get(id);
    check(
      found,
      `CDI ID ${id}: no spec in ${cdiDir} has that device (${[...specs.keys()].join(', ') || 'no specs'})`,
    );
    const errors = cdiSchemaErrors(found.spec);
    check(errors.length === 0, `${found.file} is not a valid CDI spec: ${errors.join('; ')}`);
    files.add(found.file);
  }
  for (const file of files) {
    const spec = [...specs.values()].find((s) => s.file === file)!.spec;
    const extra = spec.devices.filter((d) => !ids.includes(`${spec.kind}=${d.name}`));
    check(
      extra.length === 0,
      `${file} holds devices of another claim: ${extra.map((d) => d.name).join(', ')}`,
    );
    if (hostPath) {
      const nodes = spec.devices.flatMap(
        (d) => (d.containerEdits?.deviceNodes ?? []) as { hostPath?: string; path: string }[],
      );
      check(
        nodes.some((n) => (n.hostPath ?? n.path) === hostPath),
        `${file} does not hand over ${hostPath}: ${JSON.stringify(nodes)}`,
      );
    }
  }
  return [...files];
}

// ------------------------------------------------------------------------------------------ the tier

interface Context {
  cluster: Cluster;
  kubelet: KubeletDra;
  root: string;
  kubeletRoot: string;
}

interface FamilyRun {
  f: DraFamily;
  driver?: DriverProcess;
  watch: SliceWatch;
  cdiDir: string;
  httpAddr: string;
  log: string;
}

function startDriver(ctx: Context, run: FamilyRun): DriverProcess {
  const driver = new DriverProcess(
    {
      family: run.f.family,
      driverName: run.f.driverName,
      nodeName: NODE,
      kubeconfig: ctx.cluster.kubeconfig,
      kubeletRootDir: ctx.kubeletRoot,
      cdiDir: run.cdiDir,
      httpAddr: run.httpAddr,
      args: run.f.args,
    },
    run.log,
  );
  live.drivers.add(driver);
  run.driver = driver;
  return driver;
}

async function stopDriver(run: FamilyRun, signal: NodeJS.Signals): Promise<number | null> {
  const driver = run.driver!;
  const code = await driver.stop(signal);
  live.drivers.delete(driver);
  return code;
}

function deviceWithPath(devices: SliceDeviceView[], family: DraFamily, containerPath: string) {
  return devices.find((d) => attribute(d, family.driverName, 'path')?.string === containerPath);
}

const usable = (d: SliceDeviceView | undefined) => !!d && !(d.taints ?? []).some((t) => t.effect !== '');

async function familyScenarios(
  ctx: Context,
  family: string,
  port: number,
  results: DraResults,
): Promise<void> {
  const familyRoot = path.join(ctx.root, family);
  const f = setUpFamily(family, familyRoot);
  const run: FamilyRun = {
    f,
    watch: new SliceWatch(ctx.cluster.api, f.driverName),
    cdiDir: path.join(familyRoot, 'cdi'),
    httpAddr: `127.0.0.1:${port}`,
    log: path.join(ctx.root, `${family}-driver.log`),
  };
  live.watches.add(run.watch);
  const { cluster, kubelet } = ctx;
  const checkpoint = path.join(ctx.kubeletRoot, 'plugins', f.driverName, 'checkpoint.json');
  const checkpointed = () =>
    fs.existsSync(checkpoint)
      ? Object.keys((JSON.parse(fs.readFileSync(checkpoint, 'utf8')) as { claims?: object }).claims ?? {})
      : [];
  const deviceName: { name?: string } = {};
  const podA = `${family}-a`;
  const podB = `${family}-b`;
  let claimA: Awaited<ReturnType<typeof scheduled>> | undefined;
  let specsA: string[] = [];
  let claimB: Awaited<ReturnType<typeof scheduled>> | undefined;
  let specsB: string[] = [];

  try {
    const registered = await scenario(
      `${family}: registers with the kubelet, publishes its slice`,
      async () => {
        const from = kubelet.events.length;
        const driver = startDriver(ctx, run);
        await kubelet.registered(f.driverName, from);
        const registeredMs = Date.now() - driver.startedAt;
        await run.watch.waitFor(
          'a slice with the fixture device',
          NODE,
          (s) => !!deviceWithPath(sliceDevices(s), f, f.path),
        );
        const slices = run.watch.of(NODE);
        check(slices.length === 1, `one slice expected, ${slices.length} published`);
        const slice = slices[0];
        check(slice.spec.pool.name === NODE, `pool ${slice.spec.pool.name}, expected the node's name`);
        check(
          slice.metadata.ownerReferences?.some((o) => o.kind === 'Node' && o.name === NODE),
          `the slice is not owned by Node ${NODE}: ${JSON.stringify(slice.metadata.ownerReferences)}`,
        );
        const device = deviceWithPath(sliceDevices(slices), f, f.path)!;
        deviceName.name = device.name;
        if (f.shared)
          check(
            device.allowMultipleAllocations === true,
            `${device.name}: allowMultipleAllocations is not set`,
          );
        await driver.waitReady();
        const n = sliceDevices(slices).length;
        return `registered ${registeredMs} ms after spawn; ${n} device(s), ${device.name} at ${f.path}`;
      },
    );
    if (!registered) return;

    const prepared = await scenario(
      `${family}: pod scheduled, claim allocated by CEL, NodePrepareResources gives schema-valid CDI`,
      async () => {
        await cluster.create('/apis/resource.k8s.io/v1/deviceclasses', {
          apiVersion: 'resource.k8s.io/v1',
          kind: 'DeviceClass',
          metadata: { name: f.driverName },
          spec: { selectors: [{ cel: { expression: `device.driver == "${f.driverName}"` } }] },
        });
        await cluster.create(
          `/apis/resource.k8s.io/v1/namespaces/${NS}/resourceclaimtemplates`,
          template(`${family}-one`, f.driverName, f.cel),
        );
        await cluster.create(
          `/apis/resource.k8s.io/v1/namespaces/${NS}/resourceclaimtemplates`,
          template(`${family}-two`, f.driverName, f.celSecond),
        );
        const from = kubelet.events.length;
        await cluster.create(podUrl(), pod(podA, `${family}-one`));
        claimA = await scheduled(cluster, podA);
        const result = claimA.results[0];
        check(
          result.driver === f.driverName && result.pool === NODE && result.device === deviceName.name,
          `allocated ${JSON.stringify(result)}, expected ${deviceName.name} of pool ${NODE}`,
        );
        const event = await kubelet.waitFor(
          `NodePrepareResources for ${podA}`,
          (e) => e.event === 'prepared' && e.pod === `${NS}/${podA}`,
          60_000,
          from,
        );
        const ids = event.cdi?.app ?? [];
        specsA = checkCdi(run.cdiDir, ids, path.join(familyRoot, 'dev', path.basename(f.path)));
        check(checkpointed().includes(claimA.claimUid), `claim ${claimA.claimUid} is not in ${checkpoint}`);
        return `${claimA.claimName} → ${result.device}; CDI ${ids.join(', ')}; rpc ${event.rpcMs?.[f.driverName] ?? '?'} ms`;
      },
    );

    await scenario(`${family}: a CEL selector no device matches leaves the pod unschedulable`, async () => {
      // The negative control of the one above: the scheduler evaluates the selector on the attributes.
      const name = `${family}-none`;
      await cluster.create(
        `/apis/resource.k8s.io/v1/namespaces/${NS}/resourceclaimtemplates`,
        template(name, f.driverName, `${attr(family, 'path')} == "/dev/none"`),
      );
      await cluster.create(podUrl(), pod(name, name));
      const message = await until(`${name} reported unschedulable`, async () => {
        const p = await get(cluster, podUrl(name));
        const conditions = (p?.status?.conditions ?? []) as {
          type: string;
          reason?: string;
          message?: string;
        }[];
        const c = conditions.find((c) => c.type === 'PodScheduled' && c.reason === 'Unschedulable');
        return c ? (c.message ?? '') : undefined;
      });
      check(!(await get(cluster, podUrl(name)))?.spec?.nodeName, `${name} was bound to a node`);
      check((await cluster.request('DELETE', podUrl(name))).status === 200, `DELETE ${name} failed`);
      return message;
    });

    if (prepared && claimA) {
      const a = claimA;
      await scenario(`${family}: driver killed and started again keeps its prepared claim`, async () => {
        const code = await stopDriver(run, 'SIGKILL');
        check(code === null, `SIGKILL: exit ${code}`);
        for (const file of specsA) check(fs.existsSync(file), `${file} is gone after the kill`);
        const from = kubelet.events.length;
        const driver = startDriver(ctx, run);
        await kubelet.registered(f.driverName, from);
        await driver.waitReady();
        check(checkpointed().includes(a.claimUid), `the restarted driver lost claim ${a.claimUid}`);
        for (const file of specsA) check(fs.existsSync(file), `${file} is gone after the restart`);
        // A second pod: prepared by the restarted driver (the same device when shared).
        const fromB = kubelet.events.length;
        await cluster.create(podUrl(), pod(podB, `${family}-two`));
        const b = await scheduled(cluster, podB);
        claimB = b;
        const eventB = await kubelet.waitFor(
          `NodePrepareResources for ${podB}`,
          (e) => e.event === 'prepared' && e.pod === `${NS}/${podB}`,
          60_000,
          fromB,
        );
        specsB = checkCdi(run.cdiDir, eventB.cdi?.app ?? [], undefined);
        if (f.shared)
          check(
            b.results[0].device === a.results[0].device,
            `shared: ${podB} got ${b.results[0].device}, ${podA} holds ${a.results[0].device}`,
          );
        else
          check(
            b.results[0].device !== a.results[0].device,
            `exclusive: both pods got ${a.results[0].device}`,
          );
        check(
          specsB.every((s) => !specsA.includes(s)),
          'the two claims share a spec file',
        );
        // The restarted driver still knows claim A: unpreparing it removes its spec.
        const fromDel = kubelet.events.length;
        check((await cluster.request('DELETE', podUrl(podA))).status === 200, `DELETE ${podA} failed`);
        await kubelet.waitFor(
          `NodeUnprepareResources for ${podA}`,
          (e) => e.event === 'unprepared' && e.pod === `${NS}/${podA}`,
          60_000,
          fromDel,
        );
        for (const file of specsA) check(!fs.existsSync(file), `${file} is left after unprepare`);
        check(!checkpointed().includes(a.claimUid), `claim ${a.claimUid} still checkpointed after unprepare`);
        return `${b.results[0].device} for ${podB}${f.shared ? ' (shared with ' + podA + ')' : ''}; ${podA} unprepared by the new process`;
      });

      await scenario(
        `${family}: a held device going unhealthy reaches the kubelet (health stream)`,
        async () => {
          // The kubelet's DRA manager watches the driver's DRAResourceHealth stream (ResourceHealthStatus,
          // beta and on in 1.37) and names the pods whose devices changed health.
          const b = claimB;
          check(b, `${podB} was not prepared`);
          const held = sliceDevices(run.watch.of(NODE)).find((d) => d.name === b.results[0].device);
          check(held, `${b.results[0].device} (held by ${podB}) is not in the slice`);
          const containerPath = attribute(held, f.driverName, 'path')?.string ?? '';
          const major = attribute(held, f.driverName, 'major')?.int;
          const minor = attribute(held, f.driverName, 'minor')?.int;
          check(
            containerPath && major !== undefined && minor !== undefined,
            `${held.name}: no path/major/minor`,
          );
          const fault = notADevice(
            path.join(familyRoot, 'dev', path.basename(containerPath)),
            containerPath,
            {
              major,
              minor,
            },
          );
          const from = kubelet.events.length;
          const at = Date.now();
          fault.apply();
          let seen: HarnessEvent;
          try {
            seen = await kubelet.waitFor(
              `the DRA manager's health update naming ${podB}`,
              (e) =>
                e.msg === 'Sending health update notification for pods' && String(e.kv?.pods).includes(b.uid),
              30_000,
              from,
            );
          } finally {
            fault.undo();
          }
          await run.watch.waitFor(`${held.name} back`, NODE, (s) =>
            usable(sliceDevices(s).find((d) => d.name === held.name)),
          );
          return `${held.name} unhealthy → the kubelet named ${podB} after ${seen.at - at} ms`;
        },
      );

      await scenario(`${family}: pod deleted → unprepared, spec removed, reservation cleared`, async () => {
        const b = claimB;
        check(b && specsB.length > 0, `${podB} was not prepared`);
        const from = kubelet.events.length;
        check((await cluster.request('DELETE', podUrl(podB))).status === 200, `DELETE ${podB} failed`);
        await kubelet.waitFor(
          `NodeUnprepareResources for ${podB}`,
          (e) => e.event === 'unprepared' && e.pod === `${NS}/${podB}`,
          60_000,
          from,
        );
        for (const file of specsB) check(!fs.existsSync(file), `${file} is left after unprepare`);
        await until(`${podA} and ${podB} gone`, async () =>
          (await get(cluster, podUrl(podA))) || (await get(cluster, podUrl(podB))) ? undefined : true,
        );
        // resourceclaim-controller: a generated claim whose pod is gone is released and deleted.
        for (const claim of [a.claimName, b.claimName])
          await until(`claim ${claim} released`, async () => {
            const c = await get(cluster, claimUrl(claim));
            return !c || !((c.status as ClaimStatus | undefined)?.reservedFor ?? []).length
              ? true
              : undefined;
          });
        check(
          fs
            .readdirSync(run.cdiDir)
            .filter((n) => /\.(json|ya?ml)$/.test(n))
            .every((n) => !n.includes(a.claimUid) && !n.includes(b.claimUid)),
          'a claim spec file is left',
        );
        return `${specsB.length} spec file(s) removed; both claims released by the controller`;
      });
    }

    for (const [what, fault] of [
      ['goes unhealthy', f.unhealthy],
      ['vanishes', f.vanish],
    ] as [string, DeviceFault][]) {
      await scenario(`${family}: a device ${what} → slice updated; back → slice updated`, async () => {
        // The previous scenarios' changes may still be on their way through the watch: start from a slice
        // that offers the device (waitFor fails, naming it, when it never does).
        await run.watch.waitFor(`${fault.path} in the slice to begin with`, NODE, (s) =>
          usable(deviceWithPath(sliceDevices(s), f, fault.path)),
        );
        const before = run.watch.of(NODE);
        const name = deviceWithPath(sliceDevices(before), f, fault.path)?.name;
        check(name, `${fault.path} is not in the slice to begin with`);
        const generation = poolGeneration(before);
        const changed = Date.now();
        fault.apply();
        const gone = await run.watch.waitFor(
          `${fault.path} (${name}) withdrawn or tainted`,
          NODE,
          (s) => poolGeneration(s) > generation && !usable(sliceDevices(s).find((d) => d.name === name)),
        );
        const generation2 = poolGeneration(run.watch.of(NODE));
        const restored = Date.now();
        fault.undo();
        const back = await run.watch.waitFor(
          `${fault.path} (${name}) back`,
          NODE,
          (s) => poolGeneration(s) > generation2 && usable(sliceDevices(s).find((d) => d.name === name)),
        );
        return `${name}: out after ${gone - changed} ms, back after ${back - restored} ms (generation ${generation} → ${poolGeneration(run.watch.of(NODE))})`;
      });
    }

    if (family === 'kvm') await benchmark(ctx, run, results);

    await scenario(`${family}: SIGTERM exits 0 and keeps the slice`, async () => {
      const code = await stopDriver(run, 'SIGTERM');
      check(code === 0, `exit ${code}`);
      await new Promise((r) => setTimeout(r, 1000));
      const slices = await cluster.request(
        'GET',
        `/apis/resource.k8s.io/v1/resourceslices?fieldSelector=spec.driver=${f.driverName}`,
      );
      const items = (slices.body.items ?? []) as unknown[];
      check(items.length === 1, `${items.length} slices after SIGTERM, expected the one kept`);
    });

    await scenario(`${family}: --dra-uninstall deletes the driver's slices`, async () => {
      const driver = new DriverProcess(
        {
          family,
          driverName: f.driverName,
          nodeName: NODE,
          kubeconfig: cluster.kubeconfig,
          kubeletRootDir: ctx.kubeletRoot,
          cdiDir: run.cdiDir,
          httpAddr: '',
          args: [...f.args, '--dra-uninstall'],
        },
        run.log,
      );
      live.drivers.add(driver);
      const code = await until(
        'the uninstall run to exit',
        async () => (driver.running ? undefined : driver.stop()),
        60_000,
      );
      live.drivers.delete(driver);
      check(code === 0, `exit ${code}`);
      await run.watch.waitFor('no slice left', NODE, (s) => s.length === 0);
    });
  } finally {
    run.watch.stop();
    live.watches.delete(run.watch);
    if (run.driver?.running) await stopDriver(run, 'SIGKILL');
  }
}

// ------------------------------------------------------------------------------------------ benchmark

async function benchmark(ctx: Context, run: FamilyRun, results: DraResults): Promise<void> {
  const { f } = run;
  await scenario(
    `bench (${f.family}): device change → slice updated, ${BENCH_SLICE_CYCLES} cycles`,
    async () => {
      const name = deviceWithPath(sliceDevices(run.watch.of(NODE)), f, f.path)?.name;
      check(name, `${f.path} not in the slice`);
      for (let i = 0; i < BENCH_SLICE_CYCLES; i++) {
        let at = Date.now();
        f.vanish.apply();
        results.sliceUpdateMs.withdraw.push(
          (await run.watch.waitFor('withdrawn', NODE, (s) => !sliceDevices(s).some((d) => d.name === name))) -
            at,
        );
        at = Date.now();
        f.vanish.undo();
        results.sliceUpdateMs.restore.push(
          (await run.watch.waitFor('restored', NODE, (s) =>
            usable(sliceDevices(s).find((d) => d.name === name)),
          )) - at,
        );
      }
      const all = [...results.sliceUpdateMs.withdraw, ...results.sliceUpdateMs.restore].sort((a, b) => a - b);
      return `p50 ${all[Math.floor(all.length / 2)]} ms, max ${all[all.length - 1]} ms`;
    },
  );
  await scenario(`bench (${f.family}): NodePrepareResources for ${BENCH_PODS} pods`, async () => {
    const from = ctx.kubelet.events.length;
    const names = Array.from({ length: BENCH_PODS }, (_, i) => `bench-${i}`);
    for (const name of names) await ctx.cluster.create(podUrl(), pod(name, `${f.family}-one`));
    const prepared: HarnessEvent[] = [];
    for (const name of names)
      prepared.push(
        await ctx.kubelet.waitFor(
          `prepare ${name}`,
          (e) => e.event === 'prepared' && e.pod === `${NS}/${name}`,
          120_000,
          from,
        ),
      );
    for (const e of prepared) {
      const rpc = e.rpcMs?.[f.driverName];
      check(rpc !== undefined, `no NodePrepareResources timing for ${e.pod}`);
      results.prepareRpcMs.push(rpc);
      results.prepareMs.push(e.prepareMs ?? NaN);
    }
    const fromDel = ctx.kubelet.events.length;
    for (const name of names) await ctx.cluster.request('DELETE', podUrl(name));
    for (const name of names) {
      const e = await ctx.kubelet.waitFor(
        `unprepare ${name}`,
        (e) => e.event === 'unprepared' && e.pod === `${NS}/${name}`,
        120_000,
        fromDel,
      );
      const rpc = e.rpcMs?.[f.driverName];
      if (rpc !== undefined) results.unprepareRpcMs.push(rpc);
    }
    results.pods = names.length;
    const sorted = [...results.prepareRpcMs].sort((a, b) => a - b);
    return `rpc p50 ${sorted[Math.floor(sorted.length / 2)]} ms, max ${sorted[sorted.length - 1]} ms`;
  });
}

// ------------------------------------------------------------------------------------------ main

async function main(): Promise<number> {
  const only = process.env.KDP_E2E_ONLY?.split(',').filter(Boolean);
  const families = FAMILIES.filter((f) => !only || only.includes(f));
  const binaries: Record<string, string> = {};
  let harness = '';
  const built = await scenario(
    `build etcd, kube-apiserver, kube-scheduler, kube-controller-manager ${VERSION} and the DRA kubelet harness (cached)`,
    async () => {
      const started = Date.now();
      binaries.etcd = buildBinary('etcd');
      for (const name of ['kube-apiserver', 'kube-scheduler', 'kube-controller-manager'])
        binaries[name] = buildBinary(`${name}-${VERSION}`);
      const h = await ensureDraHarness();
      harness = h.binary;
      return `${((Date.now() - started) / 1000).toFixed(0)} s${h.built ? ` (harness built in ${h.seconds.toFixed(0)} s)` : ''}`;
    },
  );
  if (!built) return report();
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'kdp-e2e-dra-'));
  live.root = root;
  const kubeletRoot = path.join(root, 'kubelet');
  const results: DraResults = {
    date: new Date().toISOString(),
    kubernetes: '',
    machine: `${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.cpus().length} cores, Node ${process.version}`,
    driver: 'kvm',
    command: 'node dist/plugins/cli/main.js kvm --mode dra',
    sliceUpdateMs: { withdraw: [], restore: [] },
    prepareRpcMs: [],
    unprepareRpcMs: [],
    prepareMs: [],
    pods: 0,
  };
  try {
    let ctx: Context | undefined;
    const up = await scenario(
      `start etcd, kube-apiserver, kube-scheduler, kube-controller-manager (resourceclaim-controller), the kubelet harness on Node ${NODE}`,
      async () => {
        const cluster = await Cluster.start(
          { version: VERSION, controllers: ['resourceclaim-controller'], scheduler: true, ports: PORTS },
          binaries,
        );
        live.cluster = cluster;
        const version = String((await cluster.request('GET', '/version')).body.gitVersion);
        const kubelet = new KubeletDra(
          harness,
          { kubeconfig: cluster.kubeconfig, node: NODE, root: kubeletRoot },
          path.join(root, 'kubelet-dra.log'),
        );
        live.kubelet = kubelet;
        const ready = await kubelet.waitFor('the harness ready', (e) => e.event === 'ready', 120_000);
        results.kubernetes = String(ready.kubernetes);
        await cluster.create('/api/v1/namespaces', {
          apiVersion: 'v1',
          kind: 'Namespace',
          metadata: { name: NS },
        });
        await cluster.create(`/api/v1/namespaces/${NS}/serviceaccounts`, {
          apiVersion: 'v1',
          kind: 'ServiceAccount',
          metadata: { name: 'default', namespace: NS },
        });
        ctx = { cluster, kubelet, root, kubeletRoot };
        return `kube-apiserver ${version}; kubelet DRA manager ${results.kubernetes}`;
      },
    );
    if (up && ctx) {
      let port = 18480;
      for (const family of families) if (!live.stopping) await familyScenarios(ctx, family, port++, results);
    }
  } finally {
    if (rows.some((r) => !r.ok) && process.env.KDP_E2E_LOGS && live.cluster)
      console.log(live.cluster.logTail());
    await stopEverything();
  }
  if (results.prepareRpcMs.length > 0 && !live.stopping) {
    const file = path.join(REPO_ROOT, 'dist', 'e2e', 'dra-results.json');
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, JSON.stringify(results, null, 2));
    console.log(`wrote ${path.relative(REPO_ROOT, file)} (bench/scenarios/real-dra.ts reports it)`);
  }
  return report();
}

for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.once(signal, () => {
    console.log(`${signal}: stopping every process and removing the state`);
    live.stopping = true;
    void stopEverything().then(() => process.exit(130));
  });

main().then(
  (code) => process.exit(code),
  async (err: Error) => {
    console.error(err);
    await stopEverything();
    process.exit(1);
  },
);
