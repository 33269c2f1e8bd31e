/** The shared engine through the kubelet simulator: full lists, shared IDs, health flips, watches, CDI. */
import * as fs from 'fs';
import * as path from 'path';
import * as grpc from '@grpc/grpc-js';
import { DeviceNodeResource, type NodeSet } from '../../../plugins/device-nodes';
import { makeNode } from '../../../simulator/devices/device-nodes';
import { devnodeNodeSet } from '../../../plugins/devnode/plugin';
import {
  cdiSpecErrors,
  createLogger,
  PluginManager,
  readCdiSpec,
  type Logger,
} from '../../../plugins/framework';
import { cdiSchemaErrors } from '../../helpers/cdi-schema';
import { sleep } from '../../helpers/tmp';
import { describeAsRoot, sandbox, type Sandbox } from './helpers';

const RES = 'example.com/node';

/** A glob-based node set (the devnode one, unshared, at /dev/<path>) with engine options overridden. */
function globSet(glob: string, overrides: Partial<NodeSet> = {}): NodeSet {
  const spec = { name: RES, glob, containerPath: '/dev/{path}', permissions: 'rw', shareCount: 1 };
  return { ...devnodeNodeSet(spec), ...overrides };
}

function boom(): never {
  throw new Error('EIO reading the devfs root');
}

describeAsRoot('DeviceNodeResource', () => {
  let box: Sandbox;
  let manager: PluginManager;
  let logs: Record<string, unknown>[];
  let log: Logger;
  const char = (rel: string, minor = 3) =>
    makeNode(path.join(box.devfsRoot, rel), { type: 'char', major: 1, minor });
  const ids = () => (box.kubelet.resource(RES)?.devices ?? []).map((d) => `${d.id}:${d.health}`);

  beforeEach(async () => {
    box = await sandbox();
    manager = new PluginManager({
      devicePluginDir: box.devicePluginDir,
      log: createLogger({ write: () => undefined }),
    });
    logs = [];
    log = createLogger({ level: 'debug', write: (line) => logs.push(JSON.parse(line)) });
  });
  afterEach(async () => {
    await manager.stop();
    await box.close();
  });

  async function serve(set: NodeSet, cdi = false): Promise<DeviceNodeResource> {
    const resource = new DeviceNodeResource(
      {
        resourceName: RES,
        devfsRoot: box.devfsRoot,
        log,
        ...(cdi ? { cdi: { dir: box.cdiDir, kind: RES } } : {}),
      },
      set,
    );
    await manager.addResource(resource);
    await box.kubelet.waitForRegistration(RES);
    return resource;
  }

  test('one device per node, full lists on every hot-plug, sorted', async () => {
    char('n1');
    char('n0');
    await serve(globSet('n*'));
    expect(ids()).toEqual(['n0:Healthy', 'n1:Healthy']);
    char('n2');
    await box.kubelet.waitFor(() => ids().length === 3, 1000, 'n2 to appear');
    fs.rmSync(path.join(box.devfsRoot, 'n0'));
    await box.kubelet.waitFor(() => ids().join() === 'n1:Healthy,n2:Healthy', 1000, 'n0 to leave');
  });

  test('shared nodes: <key>-<i> IDs; several IDs of one node give the container one device', async () => {
    char('n0');
    char('n1');
    await serve(globSet('n*', { shareCount: 3 }));
    expect(ids()).toEqual(['n0-0', 'n0-1', 'n0-2', 'n1-0', 'n1-1', 'n1-2'].map((id) => `${id}:Healthy`));
    const [res] = await box.kubelet.allocate(RES, [['n0-0', 'n0-2', 'n1-1']]);
    expect(res.devices).toEqual([
      { container_path: '/dev/n0', host_path: path.join(box.devfsRoot, 'n0'), permissions: 'rw' },
      { container_path: '/dev/n1', host_path: path.join(box.devfsRoot, 'n1'), permissions: 'rw' },
    ]);
  });

  test('indexIds "always" indexes even an unshared node', async () => {
    char('n0');
    await serve(globSet('n*', { indexIds: 'always' }));
    expect(ids()).toEqual(['n0-0:Healthy']);
  });

  test('vanished "unhealthy": a node that goes stays listed as Unhealthy, and is Healthy when back', async () => {
    char('n0');
    await serve(globSet('n*', { vanished: 'unhealthy', shareCount: 2 }));
    fs.rmSync(path.join(box.devfsRoot, 'n0'));
    await box.kubelet.waitFor(() => ids().join() === 'n0-0:Unhealthy,n0-1:Unhealthy', 1000, 'Unhealthy');
    expect(logs).toContainEqual(
      expect.objectContaining({
        level: 'warn',
        msg: 'device node unhealthy',
        device: 'n0',
        reason: 'is gone',
      }),
    );
    await expect(box.kubelet.allocate(RES, [['n0-0']])).rejects.toMatchObject({
      code: grpc.status.FAILED_PRECONDITION,
    });
    char('n0');
    await box.kubelet.waitFor(() => ids().join() === 'n0-0:Healthy,n0-1:Healthy', 1000, 'Healthy again');
    expect(logs).toContainEqual(
      expect.objectContaining({ msg: 'device node healthy again', device: 'n0', devno: '1:3' }),
    );
  });

  test('a matching entry that is not a device node is listed Unhealthy, with the reason logged', async () => {
    fs.writeFileSync(path.join(box.devfsRoot, 'n9'), '');
    await serve(globSet('n*'));
    expect(ids()).toEqual(['n9:Unhealthy']);
    expect(logs).toContainEqual(
      expect.objectContaining({
        msg: 'device node found but unusable',
        reason: 'is a regular file, not a char or block device node',
      }),
    );
  });

  test('a symlink loop is listed Unhealthy; a scan that throws is logged and the last list kept', async () => {
    char('n0');
    fs.symlinkSync('n1', path.join(box.devfsRoot, 'n1'));
    let fail = false;
    const set = globSet('n*');
    const resource = await serve({ ...set, scan: (root) => (fail ? boom() : set.scan(root)) });
    expect(ids()).toEqual(['n0:Healthy', 'n1:Unhealthy']);
    fail = true;
    resource.refresh();
    expect(logs).toContainEqual(
      expect.objectContaining({ level: 'error', msg: 'device scan failed; keeping the last list' }),
    );
    expect(ids()).toEqual(['n0:Healthy', 'n1:Unhealthy']);
  });

  test('working out the directories to watch that throws is logged like a failed scan, never thrown', async () => {
    char('n0');
    let fail = false;
    const set = globSet('n*');
    const resource = await serve({ ...set, watchDirs: () => (fail ? boom() : ['']) });
    fail = true;
    expect(() => resource.refresh()).not.toThrow(); // what a watch callback or the poll calls
    expect(logs).toContainEqual(
      expect.objectContaining({
        level: 'error',
        msg: 'device scan failed; keeping the last list',
        error: 'EIO reading the devfs root',
      }),
    );
    expect(ids()).toEqual(['n0:Healthy']);
  });

  test('nodes in a directory created after start are picked up by inotify, not by the poll', async () => {
    await serve(globSet('dri/renderD*'));
    expect(ids()).toEqual([]);
    fs.mkdirSync(path.join(box.devfsRoot, 'dri'));
    char('dri/renderD128');
    await box.kubelet.waitFor(() => ids().join() === 'renderD128:Healthy', 1000, 'renderD128');
    char('dri/renderD129');
    await box.kubelet.waitFor(() => ids().length === 2, 1000, 'renderD129');
    fs.rmSync(path.join(box.devfsRoot, 'dri'), { recursive: true });
    await box.kubelet.waitFor(() => ids().length === 0, 1000, 'dri to go');
  });

  test('a watched directory removed and made again between two scans is watched again (not left to the poll)', async () => {
    fs.mkdirSync(path.join(box.devfsRoot, 'dri'));
    await serve(globSet('dri/renderD*'));
    // Gone and back before any scan can see it missing: the old inotify watch died with the old inode.
    fs.rmSync(path.join(box.devfsRoot, 'dri'), { recursive: true });
    fs.mkdirSync(path.join(box.devfsRoot, 'dri'));
    await sleep(100); // the root's events have been handled
    char('dri/renderD128');
    await box.kubelet.waitFor(() => ids().join() === 'renderD128:Healthy', 1000, 'renderD128');
  });

  test('names that cannot be device IDs are skipped with one warning', async () => {
    char('n0');
    char('n+bad');
    char(`n${'x'.repeat(70)}`);
    const resource = await serve(globSet('n*'));
    expect(ids()).toEqual(['n0:Healthy']);
    resource.refresh();
    expect(logs.filter((l) => l.msg === 'device node skipped: its name cannot be a device ID')).toHaveLength(
      2,
    );
  });

  test('two nodes at one container path are refused, naming both', async () => {
    char('n0');
    char('n1');
    await serve(globSet('n*', { containerPath: () => '/dev/same' }));
    await expect(box.kubelet.allocate(RES, [['n0', 'n1']])).rejects.toMatchObject({
      code: grpc.status.INVALID_ARGUMENT,
      details: expect.stringMatching(/n0 and n1 would both appear at \/dev\/same/),
    });
  });

  test('unknown IDs are refused by name', async () => {
    char('n0');
    await serve(globSet('n*'));
    await expect(box.kubelet.allocate(RES, [['n7']])).rejects.toMatchObject({
      code: grpc.status.INVALID_ARGUMENT,
      details: expect.stringContaining('"n7"'),
    });
  });

  test('CDI: a valid spec (0644) follows the nodes, allocations name devices fully qualified', async () => {
    char('n0');
    await serve(globSet('n*'), true);
    const file = path.join(box.cdiDir, 'example.com-node.yaml');
    const spec = readCdiSpec(file);
    expect(cdiSchemaErrors(spec)).toEqual([]);
    expect(cdiSpecErrors(spec!)).toEqual([]);
    expect(fs.statSync(file).mode & 0o777).toBe(0o644);
    expect(spec!.devices).toEqual([
      {
        name: 'n0',
        containerEdits: {
          deviceNodes: [{ path: '/dev/n0', hostPath: path.join(box.devfsRoot, 'n0'), permissions: 'rw' }],
        },
      },
    ]);
    char('n1');
    await box.kubelet.waitFor(() => ids().length === 2, 1000, 'n1');
    expect(readCdiSpec(file)!.devices.map((d) => d.name)).toEqual(['n0', 'n1']);
    const [res] = await box.kubelet.allocate(RES, [['n1']]);
    expect(res.cdi_devices).toEqual([{ name: 'example.com/node=n1' }]);

    fs.rmSync(file); // e.g. a cleaned /var/run/cdi: the next allocation writes it again
    await box.kubelet.allocate(RES, [['n0']]);
    expect(readCdiSpec(file)!.devices).toHaveLength(2);

    for (const n of ['n0', 'n1']) fs.rmSync(path.join(box.devfsRoot, n));
    await box.kubelet.waitFor(() => ids().length === 0, 1000, 'no nodes');
    expect(fs.existsSync(file)).toBe(false); // a spec needs at least one device
  });

  test('a CDI dir that cannot be written: served, but Allocate refused naming the spec and why', async () => {
    char('n0');
    fs.writeFileSync(box.cdiDir, 'not a directory');
    const resource = new DeviceNodeResource(
      { resourceName: RES, devfsRoot: box.devfsRoot, log, cdi: { dir: box.cdiDir, kind: RES } },
      globSet('n*'),
    );
    await manager.addResource(resource);
    await box.kubelet.waitForRegistration(RES);
    expect(resource.unreadyReason()).toMatch(/EEXIST|ENOTDIR/);
    await expect(box.kubelet.allocate(RES, [['n0']])).rejects.toMatchObject({
      code: 9,
      details: expect.stringMatching(/CDI spec .*\.yaml cannot be written \(.*(EEXIST|ENOTDIR)/),
    });
  });

  test('reconfigure switches the node set in place, without re-registering', async () => {
    char('n0');
    char('m0');
    const resource = await serve(globSet('n*'));
    resource.reconfigure(globSet('m*', { shareCount: 2 }));
    await box.kubelet.waitFor(() => ids().join() === 'm0-0:Healthy,m0-1:Healthy', 1000, 'm0 shared');
    expect(box.kubelet.resource(RES)?.registrations).toBe(1);
  });

  test('after a kubelet restart the plugin registers again with the same list', async () => {
    char('n0');
    await serve(globSet('n*'));
    await box.kubelet.restart();
    await box.kubelet.waitForRegistration(RES);
    expect(ids()).toEqual(['n0:Healthy']);
    expect(box.kubelet.resource(RES)?.registrations).toBe(2);
  });
});
