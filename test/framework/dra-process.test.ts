/**
 * `kube-device-plugins <family> --mode dra` as real processes (`node bin/kube-device-plugins.js`, from
 * dist/), for kvm, tdx and devnode on mknod'ed device nodes: registered by a fake kubelet plugin
 * watcher (protobufjs clients, real unix sockets), the ResourceSlice and ResourceClaims on a REAL
 * kube-apiserver + etcd (v1.37, test/e2e/apiserver/build.sh, cached). Each family: the slice holds its
 * devices with their attributes, /readyz turns 200, a claim allocated through the status subresource
 * (as the scheduler writes it) is prepared (CDI IDs, a schema-valid spec) and unprepared, SIGTERM
 * exits 0 and keeps the slice. `--dra-uninstall` removes the driver's slices on every node. Bad modes
 * and a missing --node-name exit 2.
 *
 * Ports 27790/27800/20443, distinct from the other API-server suites (the node e2e tier took
 * 26790/26800/19443). Under CI=true it always runs;
 * elsewhere it is skipped, with the reason, when the binaries are not cached (or not root: mknod).
 */
import * as fs from 'fs';
import * as path from 'path';
import * as yaml from 'js-yaml';
import { buildFixture, makeNode } from '../../plugins/device-nodes/fixture';
import { readCdiSpec } from '../../plugins/framework';
import { UDS_CONTAINER_PATH } from '../../plugins/tdx/ccnp';
import { Cluster } from '../e2e/apiserver/cluster';
import { apiserverBinaries, missingApiserverBinaries } from '../helpers/apiserver-binaries';
import { cdiSchemaErrors } from '../helpers/cdi-schema';
import { httpGet } from '../helpers/http';
import { CLI, REPO_ROOT, requireBuild, run, type Proc } from '../helpers/process';
import { describeUnless, isRoot } from '../helpers/root';
import { eventually, removeDir, tempDir } from '../helpers/tmp';
import { FakePluginWatcher } from './dra-fake-kubelet';

const PORTS = { etcdClient: 27790, etcdPeer: 27800, apiserver: 20443 };
const NODE = 'node-a';
const NS = 'dra-process';

function missingPrerequisite(): string | undefined {
  if (!isRoot()) return 'the device-node fixtures need root to mknod';
  return missingApiserverBinaries();
}

interface Family {
  name: 'kvm' | 'tdx' | 'devnode';
  resource: string;
  /** Extra flags, given the fixture root. */
  args(root: string): string[];
  /** The slice's devices as the API server holds them. */
  devices: object[];
  /** The device a claim is allocated. */
  device: string;
}

const FAMILIES: Family[] = [
  {
    name: 'kvm',
    resource: 'github.com.ihcsim/kvm',
    args: () => [],
    device: 'kvm',
    devices: [
      {
        name: 'kvm',
        attributes: {
          path: { string: '/dev/kvm' },
          resource: { string: 'github.com.ihcsim/kvm' },
          major: { int: 1 },
          minor: { int: 3 },
        },
        allowMultipleAllocations: true,
      },
    ],
  },
  {
    name: 'tdx',
    resource: 'tdx.intel.com/tdx-guest',
    args: (root) => [`--uds-dir=${path.join(root, 'ccnp')}`],
    device: 'tdx-guest',
    devices: [
      {
        name: 'tdx-guest',
        attributes: {
          path: { string: '/dev/tdx_guest' },
          resource: { string: 'tdx.intel.com/tdx-guest' },
          major: { int: 1 },
          minor: { int: 3 },
          interface: { string: 'tdx_guest' },
          version: { version: '1.5.0' },
        },
        allowMultipleAllocations: true,
      },
    ],
  },
  {
    name: 'devnode',
    resource: 'github.com.ihcsim/crand',
    args: (root) => [`--config=${path.join(root, 'devnode.yaml')}`],
    device: 'crand1',
    devices: ['crand0', 'crand1', 'crand2'].map((name) => ({
      name,
      attributes: {
        path: { string: `/dev/${name}` },
        resource: { string: 'github.com.ihcsim/crand' },
        major: { int: 1 },
        minor: { int: 8 },
        glob: { string: 'crand*' },
      },
    })),
  },
];

const driverOf = (family: string) => `${family}.kube-device-plugins.io`;

/** The port of the process's HTTP listener, from its "HTTP listener up" log line. */
async function httpPort(proc: Proc): Promise<number> {
  let port = 0;
  await eventually(
    () => {
      const match = /"msg":"HTTP listener up".*?"addr":"[^"]*:(\d+)"/.exec(proc.stderr());
      port = match ? Number(match[1]) : 0;
      return port > 0 || proc.child.exitCode !== null;
    },
    30_000,
    'the HTTP listener',
  );
  if (!port) throw new Error(`the plugin exited (${proc.child.exitCode}):\n${proc.stderr()}`);
  return port;
}

test('--mode dra: a family without a DRA mode, and a DRA mode without --node-name, exit 2 with the reason', async () => {
  requireBuild();
  const cex = run([CLI, 'cex', '--mode', 'dra']);
  expect(await cex.exited).toBe(2);
  expect(cex.stderr()).toMatch(/--mode dra: the cex plugin has no DRA mode \(kvm, tdx and devnode have\)/);
  const noNode = run([CLI, 'kvm', '--mode=dra'], { env: { NODE_NAME: '' } });
  expect(await noNode.exited).toBe(2);
  expect(noNode.stderr()).toMatch(/--node-name \(or NODE_NAME\) is required with --mode dra/);
  const badDriver = run([CLI, 'tdx', '--mode=dra', '--node-name=n', '--dra-driver-name=Not_A_Name']);
  expect(await badDriver.exited).toBe(2);
  expect(badDriver.stderr()).toMatch(/invalid value for --dra-driver-name: "Not_A_Name"/);
  const badConfig = run([
    CLI,
    'devnode',
    '--mode=dra',
    '--node-name=n',
    '--config=/nonexistent/devnode.yaml',
  ]);
  expect(await badConfig.exited).toBe(2);
  expect(badConfig.stderr()).toMatch(/invalid --config: .*nonexistent/);
  const badMode = run([CLI, 'devnode', '--mode=csi', '--config=/x']);
  expect(await badMode.exited).toBe(2);
  expect(badMode.stderr()).toMatch(/"csi" is not one of device-plugin, dra/);
});

describeUnless(
  missingPrerequisite(),
  'kvm, tdx and devnode in --mode dra against a real kube-apiserver',
  () => {
    let cluster: Cluster;
    let dir: string;
    let kubelet: FakePluginWatcher;
    const procs: Proc[] = [];

    beforeAll(async () => {
      requireBuild();
      cluster = await Cluster.start({ version: 'v1.37', ports: PORTS }, apiserverBinaries());
      await cluster.create('/api/v1/namespaces', { metadata: { name: NS } });
      await cluster.create('/api/v1/nodes', { metadata: { name: NODE } });
      for (const family of FAMILIES)
        await cluster.create('/apis/resource.k8s.io/v1/deviceclasses', {
          metadata: { name: driverOf(family.name) },
          spec: { selectors: [{ cel: { expression: `device.driver == "${driverOf(family.name)}"` } }] },
        });
    }, 1_500_000);
    afterAll(async () => cluster && (await cluster.stop()));
    beforeEach(() => {
      dir = tempDir('kdp-drap-');
      kubelet = new FakePluginWatcher();
    });
    afterEach(() => {
      kubelet.close();
      for (const p of procs.splice(0)) if (p.child.exitCode === null) p.child.kill('SIGKILL');
      removeDir(dir);
    });

    interface Slice {
      metadata: { name: string; ownerReferences: { kind: string; name: string }[] };
      spec: { nodeName: string; pool: { name: string; generation: number }; devices: object[] };
    }
    async function slices(driver: string, node?: string): Promise<Slice[]> {
      const selector = `spec.driver=${driver}${node ? `,spec.nodeName=${node}` : ''}`;
      const res = await cluster.request(
        'GET',
        `/apis/resource.k8s.io/v1/resourceslices?fieldSelector=${selector}`,
      );
      return (res.body as { items: Slice[] }).items;
    }

    /** A claim for one device, allocated as the scheduler writes it (status subresource). */
    async function allocatedClaim(name: string, driver: string, device: string) {
      const created = await cluster.create(`/apis/resource.k8s.io/v1/namespaces/${NS}/resourceclaims`, {
        metadata: { name },
        spec: { devices: { requests: [{ name: 'dev', exactly: { deviceClassName: driver } }] } },
      });
      const claim = created.body as { metadata: { uid: string } };
      const put = await cluster.request(
        'PUT',
        `/apis/resource.k8s.io/v1/namespaces/${NS}/resourceclaims/${name}/status`,
        {
          ...claim,
          status: { allocation: { devices: { results: [{ request: 'dev', driver, pool: NODE, device }] } } },
        },
      );
      if (put.status !== 200)
        throw new Error(`allocating ${name}: HTTP ${put.status}: ${String(put.body.message)}`);
      return { namespace: NS, name, uid: claim.metadata.uid };
    }

    /** A kubeconfig for an API server that is not there (port 1). */
    function unreachableKubeconfig(): string {
      const file = path.join(dir, 'kubeconfig-unreachable');
      const text = fs.readFileSync(cluster.kubeconfig, 'utf8').replace(`:${PORTS.apiserver}`, ':1');
      fs.writeFileSync(file, text);
      return file;
    }

    function start(family: Family, root: string, kubeconfig = cluster.kubeconfig): Proc {
      const kubeletRoot = path.join(root, 'kubelet');
      const proc = run([
        CLI,
        family.name,
        '--mode=dra',
        `--node-name=${NODE}`,
        `--kubelet-root-dir=${kubeletRoot}`,
        `--kubeconfig=${kubeconfig}`,
        `--devfs-root=${path.join(root, 'dev')}`,
        `--sysfs-root=${path.join(root, 'sys')}`,
        `--cdi-dir=${path.join(root, 'cdi')}`,
        '--http-addr=127.0.0.1:0',
        ...family.args(root),
      ]);
      procs.push(proc);
      return proc;
    }

    test.each(FAMILIES)(
      '$name: registers, publishes its slice with attributes, is ready, prepares and unprepares a claim, keeps the slice on SIGTERM',
      async (family) => {
        const driver = driverOf(family.name);
        const root = path.join(dir, family.name);
        buildFixture(family.name, root);
        if (family.name === 'devnode')
          fs.copyFileSync(
            path.join(REPO_ROOT, 'fixtures', 'devnode', 'crand.yaml'),
            path.join(root, 'devnode.yaml'),
          );
        const proc = start(family, root);
        const port = await httpPort(proc);
        const regSocket = path.join(root, 'kubelet', 'plugins_registry', `${driver}-reg.sock`);
        await eventually(
          () => fs.existsSync(regSocket) || proc.child.exitCode !== null,
          30_000,
          'the registration socket',
        );
        expect(proc.child.exitCode).toBeNull();
        // Not registered yet: /readyz says so.
        const before = await httpGet(port, '/readyz');
        expect(before.status).toBe(503);
        expect(JSON.parse(before.body).reason).toMatch(/not registered with the kubelet yet|starting/);

        const info = await kubelet.register(regSocket);
        expect(info).toMatchObject({
          type: 'DRAPlugin',
          name: driver,
          supported_versions: ['v1.DRAPlugin', 'v1beta1.DRAPlugin', 'v1.DRAResourceHealth'],
        });

        await eventually(async () => (await slices(driver, NODE)).length === 1, 30_000, 'the ResourceSlice');
        const [slice] = await slices(driver, NODE);
        expect(slice.spec.pool.name).toBe(NODE);
        expect(slice.metadata.ownerReferences).toMatchObject([{ kind: 'Node', name: NODE }]);
        expect(slice.spec.devices).toEqual(family.devices);
        await eventually(async () => (await httpGet(port, '/readyz')).status === 200, 30_000, '/readyz 200');
        expect((await httpGet(port, '/healthz')).status).toBe(200);
        expect((await httpGet(port, '/metrics')).body).toMatch(
          new RegExp(`kdp_dra_registered\\{driver="${driver.replace(/\./g, '\\.')}"\\} 1`),
        );

        // A claim the "scheduler" allocated: prepared with CDI IDs and one spec, then unprepared.
        const claim = await allocatedClaim(`${family.name}-claim`, driver, family.device);
        const dra = kubelet.dra('v1', info.endpoint);
        const prepared = await dra.prepare([claim]);
        expect(prepared.claims[claim.uid]).toEqual({
          devices: [
            {
              request_names: ['dev'],
              pool_name: NODE,
              device_name: family.device,
              cdi_device_ids: [`${family.resource}=${claim.uid}-${family.device}`],
            },
          ],
          error: '',
        });
        const cdiDir = path.join(root, 'cdi');
        const specs = fs.readdirSync(cdiDir).filter((f) => f.includes(claim.uid));
        expect(specs).toHaveLength(1);
        const spec = readCdiSpec(path.join(cdiDir, specs[0]));
        expect(cdiSchemaErrors(spec)).toEqual([]);
        expect(spec?.kind).toBe(family.resource);
        const edits = spec?.devices[0].containerEdits;
        const expectedPath = (
          family.devices.find((d) => (d as { name: string }).name === family.device) as {
            attributes: { path: { string: string } };
          }
        ).attributes.path.string;
        expect(edits?.deviceNodes?.map((n) => n.path)).toEqual([expectedPath]);
        if (family.name === 'tdx')
          expect(edits?.mounts?.map((m) => m.containerPath)).toContain(UDS_CONTAINER_PATH);

        expect((await dra.unprepare([claim])).claims).toEqual({ [claim.uid]: { error: '' } });
        expect(fs.readdirSync(cdiDir).filter((f) => f.includes(claim.uid))).toEqual([]);

        if (family.name === 'kvm') {
          // The node goes away: the device leaves the slice (next generation); it comes back with it.
          const kvmNode = path.join(root, 'dev', 'kvm');
          const generation = (await slices(driver, NODE))[0].spec.pool.generation;
          fs.rmSync(kvmNode);
          const devicesNow = async () => (await slices(driver, NODE))[0]?.spec.devices ?? [];
          await eventually(async () => (await devicesNow()).length === 0, 30_000, 'kvm to leave the slice');
          expect((await slices(driver, NODE))[0].spec.pool.generation).toBeGreaterThan(generation);
          makeNode(kvmNode, { type: 'char', major: 1, minor: 3 });
          await eventually(async () => (await devicesNow()).length === 1, 30_000, 'kvm to come back');
          expect(await devicesNow()).toEqual(family.devices);
        }
        if (family.name === 'devnode') {
          // A config reload that renames the resource: the driver withdraws the old one and adds the new.
          fs.writeFileSync(
            path.join(root, 'devnode.yaml'),
            'resources:\n  - name: example.com/rand\n    glob: crand0\n',
          );
          await eventually(
            async () =>
              JSON.stringify((await slices(driver, NODE))[0]?.spec.devices).includes('example.com/rand'),
            30_000,
            'the reloaded config in the slice',
          );
          expect((await slices(driver, NODE))[0].spec.devices).toEqual([
            {
              name: 'crand0',
              attributes: {
                path: { string: '/dev/crand0' },
                resource: { string: 'example.com/rand' },
                major: { int: 1 },
                minor: { int: 8 },
                glob: { string: 'crand0' },
              },
            },
          ]);
        }

        // SIGTERM: exit 0, sockets gone, the slice kept (a restart must not withdraw the pool).
        proc.child.kill('SIGTERM');
        expect(await proc.exited).toBe(0);
        expect(fs.existsSync(regSocket)).toBe(false);
        expect(await slices(driver, NODE)).toHaveLength(1);
      },
      120_000,
    );

    test('the selectors and ResourceClaimTemplates of docs/DRA.md are accepted (their CEL compiles); a broken one is refused', async () => {
      const doc = fs.readFileSync(path.join(REPO_ROOT, 'docs', 'DRA.md'), 'utf8');
      const url = `/apis/resource.k8s.io/v1/namespaces/${NS}/resourceclaimtemplates`;
      const template = (name: string, expression: string) => {
        const driver = /device\.attributes\["([^"]+)"\]/.exec(expression)?.[1] ?? 'unknown';
        const selectors = [{ cel: { expression } }];
        const requests = [{ name: 'dev', exactly: { deviceClassName: driver, selectors } }];
        return { metadata: { name }, spec: { spec: { devices: { requests } } } };
      };
      // The inline selectors of "Selecting devices", one template each.
      const inline = [...doc.matchAll(/^- [^`\n]*: `(device\.attributes\[[^`]+)`$/gm)].map((m) => m[1]);
      expect(inline.length).toBeGreaterThanOrEqual(4);
      expect(inline.join('\n')).toMatch(/semver\("1\.5\.0"\)/);
      const templates: object[] = inline.map((expression, i) => template(`selector-${i}`, expression));
      // And every ResourceClaimTemplate block of the file.
      for (const m of doc.matchAll(/```yaml\n([\s\S]*?)```/g)) {
        const object = yaml.load(m[1]) as { kind?: string } | undefined;
        if (object?.kind === 'ResourceClaimTemplate') templates.push(object);
      }
      for (const object of templates) {
        const created = await cluster.request('POST', url, object);
        expect([created.status, String(created.body.message ?? '')]).toEqual([201, '']);
      }
      const refused = await cluster.request(
        'POST',
        url,
        template('broken', inline[0].replace('semver(', 'semverx(')),
      );
      expect(refused.status).toBe(422);
      expect(String(refused.body.message)).toMatch(/cel\.expression/);
    });

    test('an unreachable API server: the driver keeps serving the kubelet, /readyz is 503 with the reason, no crash', async () => {
      const family = FAMILIES[0];
      const root = path.join(dir, 'outage');
      buildFixture(family.name, root);
      const proc = start(family, root, unreachableKubeconfig());
      const port = await httpPort(proc);
      const regSocket = path.join(root, 'kubelet', 'plugins_registry', `${driverOf(family.name)}-reg.sock`);
      await eventually(() => fs.existsSync(regSocket) || proc.child.exitCode !== null, 30_000, 'the socket');
      await kubelet.register(regSocket);
      let reason = '';
      await eventually(
        async () => {
          const ready = await httpGet(port, '/readyz');
          reason = ready.status === 503 ? String(JSON.parse(ready.body).reason) : '';
          return /the ResourceSlice is not in sync: .+/.test(reason);
        },
        30_000,
        'the slice error in /readyz',
      );
      expect(reason).toMatch(/ECONNREFUSED|connect/);
      expect(proc.child.exitCode).toBeNull();
      proc.child.kill('SIGTERM');
      expect(await proc.exited).toBe(0);
    });

    test("--dra-uninstall deletes the driver's slices on every node, and no other driver's", async () => {
      const driver = driverOf('kvm');
      // The slices this node's driver left (the SIGTERM above keeps them), plus one of another node.
      const node = await cluster.create('/api/v1/nodes', { metadata: { name: 'node-b' } }, true);
      const nodeB = node.body as { metadata: { uid: string } };
      await cluster.create('/apis/resource.k8s.io/v1/resourceslices', {
        metadata: {
          generateName: 'node-b-kvm-',
          ownerReferences: [
            { apiVersion: 'v1', kind: 'Node', name: 'node-b', uid: nodeB.metadata.uid, controller: true },
          ],
        },
        spec: {
          driver,
          nodeName: 'node-b',
          pool: { name: 'node-b', generation: 1, resourceSliceCount: 1 },
          devices: [{ name: 'kvm' }],
        },
      });
      const others = (await slices(driverOf('tdx'))).length;
      const ours = (await slices(driver)).length;
      expect(ours).toBeGreaterThanOrEqual(1);

      const uninstall = run([
        CLI,
        'kvm',
        '--mode=dra',
        '--dra-uninstall',
        `--kubeconfig=${cluster.kubeconfig}`,
      ]);
      expect(await uninstall.exited).toBe(0);
      expect(uninstall.stderr()).toMatch(
        new RegExp(`"msg":"deleted the ResourceSlices of the driver".*"deleted":${ours}`),
      );
      expect(await slices(driver)).toEqual([]);
      expect((await slices(driverOf('tdx'))).length).toBe(others);

      // An API server that cannot be reached: exit 1 with the reason.
      const kubeconfig = unreachableKubeconfig();
      const failed = run([CLI, 'kvm', '--dra-uninstall', `--kubeconfig=${kubeconfig}`]);
      expect(await failed.exited).toBe(1);
      expect(failed.stderr()).toMatch(/deleting the ResourceSlices of kvm\.kube-device-plugins\.io: /);
    });
  },
);
