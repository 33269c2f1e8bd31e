/**
 * The production ClaimReader (dra/claims.ts) and ResourceSlice publisher (dra/slices.ts), both through
 * `@kubernetes/client-node`, against a REAL kube-apiserver
 * + etcd built from the Go module proxy (test/e2e/apiserver/build.sh, cached): a ResourceClaim is
 * created and allocated through the API (status subresource, as the scheduler writes it), and a
 * DraDriver in a child process (client-node is ESM, which jest cannot load) prepares it.
 *
 * Ports 24790/24800/17443, so this may run beside the e2e API-server tier (23790/23800/16443).
 * Under CI=true it always runs (building the binaries if need be); elsewhere it is skipped, with the
 * reason, when the binaries are not cached yet.
 */
import { execFileSync, spawn } from 'child_process';
import * as readline from 'readline';
import * as path from 'path';
import { readCdiSpec } from '../../plugins/framework';
import { Cluster } from '../e2e/apiserver/cluster';
import { apiserverBinaries, missingApiserverBinaries } from '../helpers/apiserver-binaries';
import { cdiSchemaErrors } from '../helpers/cdi-schema';
import { REPO_ROOT, requireBuild } from '../helpers/process';
import { describeUnless } from '../helpers/root';
import { removeDir, tempDir } from '../helpers/tmp';

const PORTS = { etcdClient: 24790, etcdPeer: 24800, apiserver: 17443 };
const DRIVER = 'kvm.kdp.example';
const NODE = 'node-a';
const NS = 'dra-test';

/** Runs a DraDriver with the production ClaimReader in a child node (from dist/), returns its answer. */
function prepareInChild(kubeconfig: string, dir: string, claims: object[]): Record<string, unknown> {
  const script = `
    const { DraDriver } = require(${JSON.stringify(path.join(REPO_ROOT, 'dist/plugins/framework/dra/driver.js'))});
    const { kubeClaimReader } = require(${JSON.stringify(path.join(REPO_ROOT, 'dist/plugins/framework/dra/claims.js'))});
    const { silentLogger } = require(${JSON.stringify(path.join(REPO_ROOT, 'dist/plugins/framework/log.js'))});
    (async () => {
      const driver = new DraDriver({
        driverName: ${JSON.stringify(DRIVER)}, nodeName: ${JSON.stringify(NODE)},
        claims: kubeClaimReader({ kubeconfig: process.env.KUBECONFIG }),
        cdiDir: process.env.CDI_DIR, checkpointFile: process.env.CHECKPOINT, log: silentLogger,
      });
      // A family as small as can be: one shared device node.
      await driver.addResource({
        resourceName: 'kdp.example/kvm',
        start: (publish) => publish([{ id: 'kvm-0', health: 'Healthy' }, { id: 'kvm-1', health: 'Healthy' }]),
        stop: () => undefined,
        allocate: () => ({ devices: [{ containerPath: '/dev/kvm', hostPath: '/dev/kvm', permissions: 'rw' }] }),
      });
      const out = await driver.prepare(JSON.parse(process.env.CLAIMS));
      process.stdout.write(JSON.stringify(out));
    })().catch((err) => { console.error(err); process.exit(1); });`;
  const out = execFileSync(process.execPath, ['-e', script], {
    encoding: 'utf8',
    env: {
      ...process.env,
      KUBECONFIG: kubeconfig,
      CDI_DIR: path.join(dir, 'cdi'),
      CHECKPOINT: path.join(dir, 'checkpoint.json'),
      CLAIMS: JSON.stringify(claims),
    },
    timeout: 60_000,
  });
  return JSON.parse(out) as Record<string, unknown>;
}

/**
 * A SlicePublisher with the production SliceApi in a child node, driven by JSON lines on stdin
 * (`{op: 'update', devices}`, `{op: 'flush'}`, `{op: 'stop', remove}`), answering each with its status.
 */
function publisherInChild(kubeconfig: string) {
  const script = `
    const { SlicePublisher, kubeSliceApi } = require(${JSON.stringify(path.join(REPO_ROOT, 'dist/plugins/framework/dra/slices.js'))});
    const { silentLogger } = require(${JSON.stringify(path.join(REPO_ROOT, 'dist/plugins/framework/log.js'))});
    const publisher = new SlicePublisher({
      driverName: ${JSON.stringify(DRIVER)}, nodeName: ${JSON.stringify(NODE)},
      api: kubeSliceApi({ kubeconfig: process.env.KUBECONFIG }), log: silentLogger,
      initialBackoffMs: 50, maxBackoffMs: 500,
    });
    const lines = require('readline').createInterface({ input: process.stdin });
    lines.on('line', async (line) => {
      const cmd = JSON.parse(line);
      if (cmd.op === 'update') publisher.update(cmd.devices);
      if (cmd.op === 'flush') await publisher.flush();
      if (cmd.op === 'stop') await publisher.stop(cmd.remove);
      process.stdout.write(JSON.stringify(publisher.status()) + '\\n');
      if (cmd.op === 'stop') process.exit(0);
    });`;
  const child = spawn(process.execPath, ['-e', script], {
    env: { ...process.env, KUBECONFIG: kubeconfig },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const replies = readline.createInterface({ input: child.stdout! });
  const pending: ((line: string) => void)[] = [];
  replies.on('line', (line) => pending.shift()?.(line));
  // A child that dies answers every waiting command with its exit, instead of a test timeout.
  child.on('exit', (code) => pending.splice(0).forEach((answer) => answer(JSON.stringify({ exited: code }))));
  return {
    send(cmd: object): Promise<{ inSync: boolean; generation?: number; lastError?: string }> {
      return new Promise((resolve) => {
        pending.push((line) => resolve(JSON.parse(line)));
        child.stdin!.write(JSON.stringify(cmd) + '\n');
      });
    },
    kill: () => child.kill(),
  };
}

describeUnless(
  missingApiserverBinaries(),
  'DRA ClaimReader and ResourceSlices against a real kube-apiserver',
  () => {
    let cluster: Cluster;
    let dir: string;

    beforeAll(async () => {
      requireBuild();
      cluster = await Cluster.start({ version: 'v1.37', ports: PORTS }, apiserverBinaries());
      await cluster.create('/api/v1/namespaces', { metadata: { name: NS } });
      await cluster.create('/apis/resource.k8s.io/v1/deviceclasses', {
        metadata: { name: DRIVER },
        spec: { selectors: [{ cel: { expression: `device.driver == "${DRIVER}"` } }] },
      });
    }, 1_500_000);
    afterAll(async () => cluster && (await cluster.stop()));
    beforeEach(() => (dir = tempDir('kdp-draapi-')));
    afterEach(() => removeDir(dir));

    /** A claim for one device, allocated as the scheduler would: results for us and for another pool. */
    async function allocatedClaim(name: string) {
      const created = await cluster.create(`/apis/resource.k8s.io/v1/namespaces/${NS}/resourceclaims`, {
        metadata: { name },
        spec: {
          devices: {
            requests: [
              { name: 'vm', exactly: { deviceClassName: DRIVER, allocationMode: 'ExactCount', count: 2 } },
            ],
          },
        },
      });
      const claim = created.body as { metadata: { uid: string } };
      const status = {
        ...claim,
        status: {
          allocation: {
            devices: {
              results: [
                { request: 'vm', driver: DRIVER, pool: NODE, device: 'kvm-1' },
                { request: 'vm', driver: DRIVER, pool: 'node-b', device: 'kvm-0' },
              ],
            },
          },
        },
      };
      const put = await cluster.request(
        'PUT',
        `/apis/resource.k8s.io/v1/namespaces/${NS}/resourceclaims/${name}/status`,
        status,
      );
      if (put.status !== 200)
        throw new Error(`allocating ${name}: HTTP ${put.status}: ${String(put.body.message)}`);
      return { namespace: NS, name, uid: claim.metadata.uid };
    }

    interface Slice {
      metadata: { name: string; ownerReferences: object[] };
      spec: { pool: { name: string; generation: number; resourceSliceCount: number }; devices: object[] };
    }
    async function ourSlices(): Promise<Slice[]> {
      const res = await cluster.request(
        'GET',
        `/apis/resource.k8s.io/v1/resourceslices?fieldSelector=spec.driver=${DRIVER},spec.nodeName=${NODE}`,
      );
      return (res.body as { items: Slice[] }).items;
    }

    test('ResourceSlice: one pool, typed attributes, owned by the Node, generation bumped, repaired, removed', async () => {
      const node = await cluster.create('/api/v1/nodes', { metadata: { name: NODE } }, true);
      const nodeUid = (node.body as { metadata: { uid: string } }).metadata.uid;
      const publisher = publisherInChild(cluster.kubeconfig);
      try {
        const kvm0 = {
          name: 'kvm-0',
          attributes: {
            path: { string: '/dev/kvm' },
            major: { int: 10 },
            shared: { bool: true },
            api: { version: '1.2.3' },
          },
          capacity: { slots: '1' },
        };
        publisher.send({ op: 'update', devices: [kvm0, { name: 'kvm-1' }] });
        expect(await publisher.send({ op: 'flush' })).toMatchObject({ inSync: true, generation: 1 });
        let slices = await ourSlices();
        expect(slices).toHaveLength(1);
        expect(slices[0].metadata.ownerReferences).toEqual([
          { apiVersion: 'v1', kind: 'Node', name: NODE, uid: nodeUid, controller: true },
        ]);
        expect(slices[0].spec.pool).toEqual({ name: NODE, generation: 1, resourceSliceCount: 1 });
        expect(slices[0].spec.devices).toEqual([
          {
            name: 'kvm-0',
            attributes: kvm0.attributes, // the API's typed form is the one families give
            capacity: { slots: { value: '1' } }, // quantities, as the API stores them
          },
          { name: 'kvm-1' },
        ]);

        // The same list again: nothing is written.
        publisher.send({ op: 'update', devices: [{ name: 'kvm-1' }, kvm0] });
        expect(await publisher.send({ op: 'flush' })).toMatchObject({ inSync: true, generation: 1 });

        // Someone else edits the slice: the next sync re-reads it and writes the whole pool again.
        const edited = { ...slices[0], spec: { ...slices[0].spec, devices: [{ name: 'intruder' }] } };
        const put = await cluster.request(
          'PUT',
          `/apis/resource.k8s.io/v1/resourceslices/${slices[0].metadata.name}`,
          edited,
        );
        expect(put.status).toBe(200);
        publisher.send({ op: 'update', devices: [{ name: 'kvm-1' }] });
        expect(await publisher.send({ op: 'flush' })).toMatchObject({ inSync: true, generation: 2 });
        slices = await ourSlices();
        expect(slices.map((s) => [s.spec.pool.generation, s.spec.devices])).toEqual([
          [2, [{ name: 'kvm-1' }]],
        ]);

        // Deleted behind our back: the next change creates it again, with a higher generation.
        await cluster.request('DELETE', `/apis/resource.k8s.io/v1/resourceslices/${slices[0].metadata.name}`);
        publisher.send({ op: 'update', devices: [{ name: 'kvm-2' }] });
        expect(await publisher.send({ op: 'flush' })).toMatchObject({ inSync: true });
        slices = await ourSlices();
        expect(slices.map((s) => s.spec.devices)).toEqual([[{ name: 'kvm-2' }]]);

        // Uninstall removes it.
        await publisher.send({ op: 'stop', remove: true });
        expect(await ourSlices()).toEqual([]);
      } finally {
        publisher.kill();
      }
    });

    test('prepares a claim the API server allocated; missing and re-created claims fail per claim', async () => {
      const claim = await allocatedClaim('vm-claim');
      const out = prepareInChild(cluster.kubeconfig, dir, [
        claim,
        { namespace: NS, name: 'no-such-claim', uid: 'u-missing' },
        { ...claim, uid: 'stale-uid' },
      ]);
      expect(out[claim.uid]).toEqual({
        devices: [
          {
            request_names: ['vm'],
            pool_name: NODE,
            device_name: 'kvm-1',
            cdi_device_ids: [`kdp.example/kvm=${claim.uid}-kvm-1`],
          },
        ],
        error: '',
      });
      expect(out['u-missing']).toEqual({
        devices: [],
        error: `claim "${NS}"/"no-such-claim" (uid "u-missing"): not found in the API server`,
      });
      expect((out['stale-uid'] as { error: string }).error).toMatch(/has UID ".*", not "stale-uid"/);
      const spec = readCdiSpec(path.join(dir, 'cdi', `kdp.example-kvm_${claim.uid}.yaml`));
      expect(cdiSchemaErrors(spec)).toEqual([]);
      expect(spec?.devices.map((d) => d.name)).toEqual([`${claim.uid}-kvm-1`]);
    });
  },
);
