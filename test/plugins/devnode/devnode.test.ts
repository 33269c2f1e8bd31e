import * as fs from 'fs';
import * as path from 'path';
import * as grpc from '@grpc/grpc-js';
import * as yaml from 'js-yaml';
import { makeNode } from '../../../simulator/devices/device-nodes';
import { command } from '../../../plugins/devnode/command';
import { eventually } from '../../helpers/tmp';
import {
  describeAsRoot,
  describeWithBuild,
  expectCleanSigterm,
  REPO_ROOT,
  sandbox,
  spawnCli,
  useFamilySandbox,
} from '../device-nodes/helpers';

const CRAND = 'github.com.ihcsim/crand';
const CRAND_CONFIG = path.join(REPO_ROOT, 'fixtures/devnode/crand.yaml');

describeAsRoot('devnode plugin (crand fixture)', () => {
  const sb = useFamilySandbox(command, 'devnode');
  let configFile: string;
  const nodePath = (rel: string) => path.join(sb.box.devfsRoot, rel);
  const char = (rel: string, minor = 8) => makeNode(nodePath(rel), { type: 'char', major: 1, minor });
  const ids = (resource = CRAND) =>
    (sb.box.kubelet.resource(resource)?.devices ?? []).map((d) => `${d.id}:${d.health}`);
  const writeConfig = (resources: object[]) => fs.writeFileSync(configFile, yaml.dump({ resources }));
  const start = async (config = configFile) => {
    return sb.start([`--config=${config}`]);
  };
  const logged = (msg: string) => sb.plugin!.logs.filter((l) => l.msg === msg);

  beforeEach(() => {
    configFile = path.join(sb.box.root, 'devnode.yaml');
    fs.copyFileSync(CRAND_CONFIG, configFile);
  });

  test('the crand example: one Healthy device per node, IDs = node names', async () => {
    await start(CRAND_CONFIG);
    await sb.box.kubelet.waitForRegistration(CRAND);
    expect(ids()).toEqual(['crand0:Healthy', 'crand1:Healthy', 'crand2:Healthy']);
  });

  test('Allocate: each node at its real /dev path, rw, host path under the devfs root', async () => {
    await start();
    await sb.box.kubelet.waitForRegistration(CRAND);
    const [one, two] = await sb.box.kubelet.allocate(CRAND, [['crand0', 'crand2'], ['crand1']]);
    expect(one.devices).toEqual([
      { container_path: '/dev/crand0', host_path: nodePath('crand0'), permissions: 'rw' },
      { container_path: '/dev/crand2', host_path: nodePath('crand2'), permissions: 'rw' },
    ]);
    expect(two.devices).toEqual([
      { container_path: '/dev/crand1', host_path: nodePath('crand1'), permissions: 'rw' },
    ]);
    await expect(sb.box.kubelet.allocate(CRAND, [['crand7']])).rejects.toMatchObject({
      code: grpc.status.INVALID_ARGUMENT,
      details: expect.stringContaining('"crand7"'),
    });
  });

  test('hot-plug: nodes appearing and disappearing, full lists only', async () => {
    await start();
    await sb.box.kubelet.waitForRegistration(CRAND);
    const lists: string[][] = [];
    sb.box.kubelet.on('update', (resource: string, devices: { id: string }[]) => {
      if (resource === CRAND) lists.push(devices.map((d) => d.id));
    });
    char('crand3');
    await sb.box.kubelet.waitFor(() => ids().length === 4, 1000, 'crand3');
    fs.rmSync(nodePath('crand0'));
    await sb.box.kubelet.waitFor(
      () => ids().join() === 'crand1:Healthy,crand2:Healthy,crand3:Healthy',
      1000,
      'crand0 gone',
    );
    expect(lists).toEqual([
      ['crand0', 'crand1', 'crand2', 'crand3'],
      ['crand1', 'crand2', 'crand3'],
    ]);
  });

  test('a matching entry that is not a device node is listed Unhealthy; block devices count', async () => {
    fs.writeFileSync(nodePath('crand.conf'), '');
    makeNode(nodePath('crand9'), { type: 'block', major: 7, minor: 9 });
    await start();
    await sb.box.kubelet.waitForRegistration(CRAND);
    expect(ids()).toEqual([
      'crand.conf:Unhealthy',
      'crand0:Healthy',
      'crand1:Healthy',
      'crand2:Healthy',
      'crand9:Healthy',
    ]);
  });

  test('Allocate re-checks the nodes: one gone since the last scan fails FAILED_PRECONDITION naming it, and rescans', async () => {
    // crand1 as a link into a directory the plugin does not watch: removing the target sends no event,
    // as a node removed in the moment before the watch's rescan.
    const target = path.join(sb.box.root, 'elsewhere', 'crand1');
    makeNode(target, { type: 'char', major: 1, minor: 8 });
    fs.rmSync(nodePath('crand1'));
    fs.symlinkSync(target, nodePath('crand1'));
    await start();
    await sb.box.kubelet.waitForRegistration(CRAND);
    expect(ids()).toEqual(['crand0:Healthy', 'crand1:Healthy', 'crand2:Healthy']);
    fs.rmSync(target);
    await expect(sb.box.kubelet.allocate(CRAND, [['crand0', 'crand1']])).rejects.toMatchObject({
      code: grpc.status.FAILED_PRECONDITION,
      details: expect.stringContaining(`crand1: ${nodePath('crand1')} is a symlink to nothing`),
    });
    await sb.box.kubelet.waitFor(
      () => ids().join() === 'crand0:Healthy,crand1:Unhealthy,crand2:Healthy',
      1000,
      'rescanned',
    );
    const [res] = await sb.box.kubelet.allocate(CRAND, [['crand0']]);
    expect(res.devices).toHaveLength(1);
  });

  test('shareCount, permissions and a container path template', async () => {
    writeConfig([
      { name: CRAND, glob: 'crand[01]', shareCount: 2, permissions: 'r', containerPath: '/dev/rand/{name}' },
    ]);
    await start();
    await sb.box.kubelet.waitForRegistration(CRAND);
    expect(ids()).toEqual(['crand0-0', 'crand0-1', 'crand1-0', 'crand1-1'].map((id) => `${id}:Healthy`));
    const [res] = await sb.box.kubelet.allocate(CRAND, [['crand0-0', 'crand0-1', 'crand1-1']]);
    expect(res.devices).toEqual([
      { container_path: '/dev/rand/crand0', host_path: nodePath('crand0'), permissions: 'r' },
      { container_path: '/dev/rand/crand1', host_path: nodePath('crand1'), permissions: 'r' },
    ]);
  });

  test('two paths with one ID (x_y/z, x/y_z under */*): the first by path is served, one warning names both', async () => {
    const RES = 'example.com/nodes';
    writeConfig([{ name: RES, glob: '*/*' }]);
    char('x_y/z', 1); // made first, but sorts after x/y_z
    char('x/y_z', 2);
    await start();
    await sb.box.kubelet.waitForRegistration(RES);
    expect(ids(RES)).toEqual(['x_y_z:Healthy']);
    const [res] = await sb.box.kubelet.allocate(RES, [['x_y_z']]);
    expect(res.devices).toEqual([
      { container_path: '/dev/x/y_z', host_path: nodePath('x/y_z'), permissions: 'rw' },
    ]);
    const collisions = () => logged('device node skipped: another node has the same device ID');
    expect(collisions()).toEqual([
      expect.objectContaining({
        level: 'warn',
        resource: RES,
        device: 'x_y_z',
        path: 'x_y/z',
        kept: 'x/y_z',
      }),
    ]);
    char('a/b', 3); // more scans: the warning is not repeated
    await sb.box.kubelet.waitFor(() => ids(RES).join() === 'a_b:Healthy,x_y_z:Healthy', 1000, 'a_b');
    expect(collisions()).toHaveLength(1);
  });

  test('nodes in a subdirectory that appears later (dri/renderD*) are picked up at once', async () => {
    writeConfig([{ name: 'example.com/render', glob: 'dri/renderD*' }]);
    await start();
    await sb.box.kubelet.waitForRegistration('example.com/render');
    char('dri/renderD128', 3);
    await sb.box.kubelet.waitFor(
      () => ids('example.com/render').join() === 'renderD128:Healthy',
      1000,
      'renderD128',
    );
    const [res] = await sb.box.kubelet.allocate('example.com/render', [['renderD128']]);
    expect(res.devices[0].container_path).toBe('/dev/dri/renderD128');
  });

  test('a wildcard directory segment (bus/usb/*/*) is followed live: nodes in a bus, a new bus, removal', async () => {
    const USB = 'example.com/usb';
    writeConfig([{ name: USB, glob: 'bus/usb/*/*' }]);
    makeNode(nodePath('bus/usb/001/001'), { type: 'char', major: 189, minor: 0 });
    await start();
    await sb.box.kubelet.waitForRegistration(USB);
    expect(ids(USB)).toEqual(['001_001:Healthy']);
    makeNode(nodePath('bus/usb/001/002'), { type: 'char', major: 189, minor: 1 }); // inside an existing bus
    await sb.box.kubelet.waitFor(() => ids(USB).length === 2, 1000, 'a node in bus 001');
    makeNode(nodePath('bus/usb/002/001'), { type: 'char', major: 189, minor: 128 }); // a new bus
    await sb.box.kubelet.waitFor(() => ids(USB).length === 3, 1000, 'bus 002');
    makeNode(nodePath('bus/usb/002/003'), { type: 'char', major: 189, minor: 130 }); // inside the new bus
    await sb.box.kubelet.waitFor(() => ids(USB).length === 4, 1000, 'a node in bus 002');
    fs.rmSync(nodePath('bus/usb/001/001'));
    await sb.box.kubelet.waitFor(
      () => ids(USB).join() === '001_002:Healthy,002_001:Healthy,002_003:Healthy',
      1000,
      'the unplugged node to leave',
    );
    const [res] = await sb.box.kubelet.allocate(USB, [['002_003']]);
    expect(res.devices).toEqual([
      { container_path: '/dev/bus/usb/002/003', host_path: nodePath('bus/usb/002/003'), permissions: 'rw' },
    ]);
  });

  test('hot reload: resources added, reconfigured and withdrawn as the file changes', async () => {
    await start();
    await sb.box.kubelet.waitForRegistration(CRAND);
    char('fuse', 3);
    writeConfig([
      { name: CRAND, glob: 'crand*', shareCount: 2 },
      { name: 'example.com/fuse', glob: 'fuse', shareCount: 3 },
    ]);
    await sb.box.kubelet.waitForRegistration('example.com/fuse');
    expect(ids('example.com/fuse')).toEqual(['fuse-0:Healthy', 'fuse-1:Healthy', 'fuse-2:Healthy']);
    await sb.box.kubelet.waitFor(() => ids().length === 6, 1000, 'crand shared by 2');
    expect(sb.box.kubelet.resource(CRAND)!.registrations).toBe(1); // reconfigured in place

    writeConfig([{ name: 'example.com/fuse', glob: 'fuse' }]);
    await sb.box.kubelet.waitFor(
      () => sb.box.kubelet.resource(CRAND)?.connected === false,
      2000,
      'crand withdrawn',
    );
    await sb.box.kubelet.waitFor(
      () => ids('example.com/fuse').join() === 'fuse:Healthy',
      1000,
      'fuse unshared',
    );
    expect(sb.plugin!.running.manager.resources()).toEqual(['example.com/fuse']);
    expect(logged('resource withdrawn: no longer in the config')).toHaveLength(1);
  });

  test('an invalid config at run time keeps the last good one and logs why; a fix is applied', async () => {
    await start();
    await sb.box.kubelet.waitForRegistration(CRAND);
    fs.writeFileSync(configFile, 'resources: [{name: nodomain, glob: "x["}]');
    await eventually(
      () => logged('config is invalid; keeping the last good one').length === 1,
      2000,
      'the error log',
    );
    const [error] = logged('config is invalid; keeping the last good one');
    expect(error).toMatchObject({
      level: 'error',
      file: configFile,
      error: expect.stringContaining('"nodomain" has no domain prefix'),
    });
    expect(ids()).toEqual(['crand0:Healthy', 'crand1:Healthy', 'crand2:Healthy']);
    expect(sb.plugin!.running.manager.resources()).toEqual([CRAND]);

    fs.rmSync(configFile); // unreadable: still keeps the last good config
    await eventually(
      () => logged('cannot read the config; keeping the last good one').length > 0,
      2000,
      'read error',
    );
    writeConfig([{ name: CRAND, glob: 'crand0' }]);
    await sb.box.kubelet.waitFor(() => ids().join() === 'crand0:Healthy', 2000, 'the fixed config');
  });

  test('a ConfigMap-style update (..data symlink swap) is followed', async () => {
    const dir = path.join(sb.box.root, 'cm');
    const version = (name: string, text: string) => {
      fs.mkdirSync(path.join(dir, name), { recursive: true });
      fs.writeFileSync(path.join(dir, name, 'devnode.yaml'), text);
    };
    version('..v1', fs.readFileSync(CRAND_CONFIG, 'utf8'));
    fs.symlinkSync('..v1', path.join(dir, '..data'));
    fs.symlinkSync('..data/devnode.yaml', path.join(dir, 'devnode.yaml'));
    await start(path.join(dir, 'devnode.yaml'));
    await sb.box.kubelet.waitForRegistration(CRAND);

    // What the kubelet does: write the new version, point a temp link at it, rename it over ..data.
    version('..v2', yaml.dump({ resources: [{ name: CRAND, glob: 'crand[12]' }] }));
    fs.symlinkSync('..v2', path.join(dir, '..data_tmp'));
    fs.renameSync(path.join(dir, '..data_tmp'), path.join(dir, '..data'));
    fs.rmSync(path.join(dir, '..v1'), { recursive: true });
    await sb.box.kubelet.waitFor(
      () => ids().join() === 'crand1:Healthy,crand2:Healthy',
      2000,
      'the new version',
    );
  });

  test('kubelet restart: every configured resource registers again', async () => {
    writeConfig([
      { name: CRAND, glob: 'crand*' },
      { name: 'example.com/zero', glob: 'crand0', shareCount: 2 },
    ]);
    await start();
    await sb.box.kubelet.waitForRegistration(CRAND);
    await sb.box.kubelet.waitForRegistration('example.com/zero');
    await sb.box.kubelet.restart();
    await sb.box.kubelet.waitForRegistration(CRAND);
    await sb.box.kubelet.waitForRegistration('example.com/zero');
    expect(sb.box.kubelet.allocatable('example.com/zero')).toBe(2);
  });

  test('a bad or missing config at start is a usage error naming the problem', async () => {
    const usage = (message: RegExp) => ({ name: 'UsageError', message: expect.stringMatching(message) });
    fs.writeFileSync(configFile, 'resources: [{name: a.example/x, glob: x, shareCount: 0}]');
    await expect(start()).rejects.toMatchObject(usage(/invalid --config: .*resources\[0\].shareCount/));
    await expect(start(path.join(sb.box.root, 'missing.yaml'))).rejects.toMatchObject(
      usage(/invalid --config: .*ENOENT/),
    );
    await expect(sb.start()).rejects.toMatchObject(usage(/--config \(or DEVNODE_CONFIG\) is required/));
  });

  test('DEVNODE_CONFIG sets the config', async () => {
    await sb.start([], { DEVNODE_CONFIG: configFile });
    await sb.box.kubelet.waitForRegistration(CRAND);
    expect(sb.box.kubelet.capacity(CRAND)).toBe(3);
  });
});

describeWithBuild('devnode plugin (real process)', () => {
  test('a bad config exits 2 with the reason on stderr', async () => {
    const { code, stderr } = await spawnCli('devnode', ['--config=/nonexistent/devnode.yaml']).exited;
    expect(code).toBe(2);
    expect(stderr).toContain('invalid --config');
    expect(stderr).toContain('/nonexistent/devnode.yaml');
  });

  test('serves the crand example, and SIGTERM removes its socket and exits 0', async () => {
    const box = await sandbox('devnode');
    try {
      const check = () => expect(box.kubelet.capacity(CRAND)).toBe(3);
      await expectCleanSigterm(box, 'devnode', [`--config=${CRAND_CONFIG}`], [CRAND], check);
    } finally {
      await box.close();
    }
  });
});
