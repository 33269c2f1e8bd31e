import * as fs from 'fs';
import * as path from 'path';
import * as grpc from '@grpc/grpc-js';
import { makeNode } from '../../../simulator/devices/device-nodes';
import { command } from '../../../plugins/tdx/command';
import { eventually } from '../../helpers/tmp';
import {
  describeAsRoot,
  describeWithBuild,
  kubeletHealth,
  expectCleanSigterm,
  sandbox,
  spawnCli,
  startInProcess,
  useFamilySandbox,
} from '../device-nodes/helpers';

const RES = 'tdx.intel.com/tdx-guest';
const UDS_RES = 'tdx.intel.com/ccnp-uds';
const char = (file: string) => makeNode(file, { type: 'char', major: 1, minor: 3 });

describeAsRoot('tdx plugin (fixture devfs)', () => {
  const sb = useFamilySandbox(command, 'tdx');
  const udsDir = () => path.join(sb.box.root, 'run', 'ccnp', 'uds');
  const node = (name = 'tdx_guest') => path.join(sb.box.devfsRoot, name);
  const start = async (args: string[] = [], env: NodeJS.ProcessEnv = {}) => {
    const plugin = await sb.start([`--uds-dir=${udsDir()}`, ...args], env);
    await sb.box.kubelet.waitForRegistration(RES);
    return plugin;
  };
  const ids = (resource = RES) => sb.box.kubelet.resource(resource)?.devices.map((d) => d.id) ?? [];

  test('advertises tdx-guest-0 … tdx-guest-109, all Healthy', async () => {
    await start();
    expect(ids()).toHaveLength(110);
    expect(ids()[0]).toBe('tdx-guest-0');
    expect(ids()).toContain('tdx-guest-109');
    expect(kubeletHealth(sb.box.kubelet, RES)).toBe('Healthy');
  });

  test('Allocate per container: the node rw and the CCNP socket dir read-write at /run/ccnp/uds', async () => {
    await start();
    const responses = await sb.box.kubelet.allocate(RES, [['tdx-guest-0'], ['tdx-guest-1', 'tdx-guest-2']]);
    expect(responses).toHaveLength(2);
    for (const res of responses) {
      expect(res.devices).toEqual([
        { container_path: '/dev/tdx_guest', host_path: node(), permissions: 'rw' },
      ]);
      expect(res.mounts).toEqual([
        { container_path: '/run/ccnp/uds', host_path: udsDir(), read_only: false },
      ]);
      expect(res.cdi_devices).toEqual([]);
    }
  });

  test('creates a missing socket dir with mode 0757 (despite the umask); an existing one is left alone, with a warning if not world-writable', async () => {
    const umask = process.umask(0o022);
    try {
      await start();
      expect(fs.statSync(udsDir()).mode & 0o7777).toBe(0o757);
      fs.rmSync(udsDir(), { recursive: true }); // removed at run time: the next allocation re-creates it
      await sb.box.kubelet.allocate(RES, [['tdx-guest-0']]);
      expect(fs.statSync(udsDir()).mode & 0o7777).toBe(0o757);
      await sb.stop();
      fs.chmodSync(udsDir(), 0o755);
      const { logs } = await start();
      expect(fs.statSync(udsDir()).mode & 0o7777).toBe(0o755);
      expect(logs).toContainEqual(
        expect.objectContaining({
          level: 'warn',
          msg: expect.stringContaining('the CCNP socket directory is not world-writable'),
          mode: '0755',
        }),
      );
    } finally {
      process.umask(umask);
    }
  });

  test('TDX 1.0 names the node tdx-guest; when both exist tdx_guest (1.5) wins', async () => {
    fs.rmSync(node());
    char(node('tdx-guest'));
    await start();
    let [res] = await sb.box.kubelet.allocate(RES, [['tdx-guest-3']]);
    expect(res.devices[0]).toEqual({
      container_path: '/dev/tdx-guest',
      host_path: node('tdx-guest'),
      permissions: 'rw',
    });
    char(node()); // a TDX 1.5 node appears beside it: used from the next scan on
    await eventually(
      async () =>
        (await sb.box.kubelet.allocate(RES, [['tdx-guest-3']]))[0].devices[0].container_path ===
        '/dev/tdx_guest',
      1000,
      'tdx_guest to be preferred',
    );
    [res] = await sb.box.kubelet.allocate(RES, [['tdx-guest-3']]);
    expect(res.devices[0].host_path).toBe(node());
  });

  test('a broken tdx_guest entry (dangling link, regular file) never hides a working tdx-guest node', async () => {
    fs.rmSync(node());
    fs.symlinkSync('tdx_guest.gone', node()); // dangling
    char(node('tdx-guest'));
    await start(['--shared-count=2']);
    expect(kubeletHealth(sb.box.kubelet, RES)).toBe('Healthy');
    const [res] = await sb.box.kubelet.allocate(RES, [['tdx-guest-0']]);
    expect(res.devices[0]).toEqual({
      container_path: '/dev/tdx-guest',
      host_path: node('tdx-guest'),
      permissions: 'rw',
    });
    fs.rmSync(node());
    fs.writeFileSync(node(), ''); // a stray regular file under the preferred name: still tdx-guest
    fs.rmSync(node('tdx-guest'));
    char(node('tdx-guest'));
    await eventually(
      async () =>
        (await sb.box.kubelet.allocate(RES, [['tdx-guest-1']]))[0].devices[0].container_path ===
        '/dev/tdx-guest',
      1000,
      'tdx-guest to stay in use',
    );
    expect(kubeletHealth(sb.box.kubelet, RES)).toBe('Healthy');
    // Only the broken entry left: it is the one reported, Unhealthy, with the reason.
    fs.rmSync(node('tdx-guest'));
    await sb.box.kubelet.waitFor(() => kubeletHealth(sb.box.kubelet, RES) === 'Unhealthy', 1000, 'Unhealthy');
  });

  test('only the deprecated tdx-attest: start fails with an error naming it (not a usage error)', async () => {
    fs.rmSync(node());
    char(node('tdx-attest'));
    const failure = startInProcess(command, [...sb.box.flags, `--uds-dir=${udsDir()}`]);
    await expect(failure).rejects.toThrow(/deprecated TDX guest interface .*\/dev\/tdx-attest/);
    await expect(failure).rejects.not.toMatchObject({ name: 'UsageError' });
  });

  test('no device at start: zero devices, logged; the node is picked up when it appears', async () => {
    fs.rmSync(node());
    const { logs } = await start();
    expect(sb.box.kubelet.capacity(RES)).toBe(0);
    expect(logs).toContainEqual(
      expect.objectContaining({
        level: 'warn',
        msg: 'no TDX guest device yet; advertising no devices until it appears',
      }),
    );
    char(node());
    await sb.box.kubelet.waitFor(() => sb.box.kubelet.allocatable(RES) === 110, 1000, 'the device to appear');
  });

  test('node removed: every ID Unhealthy within 100 ms (generous bound here; bench measures), Healthy when back', async () => {
    await start(['--shared-count=5']);
    fs.rmSync(node());
    await sb.box.kubelet.waitFor(() => kubeletHealth(sb.box.kubelet, RES) === 'Unhealthy', 1000, 'Unhealthy');
    expect(sb.box.kubelet.capacity(RES)).toBe(5);
    await expect(sb.box.kubelet.allocate(RES, [['tdx-guest-0']])).rejects.toMatchObject({
      code: grpc.status.FAILED_PRECONDITION,
    });
    char(node());
    await sb.box.kubelet.waitFor(() => kubeletHealth(sb.box.kubelet, RES) === 'Healthy', 1000, 'Healthy');
  });

  test('Allocate re-checks the node: one gone since the last scan fails FAILED_PRECONDITION naming it, and rescans', async () => {
    // tdx_guest as a link into a directory the plugin does not watch: removing the target sends no event,
    // as a node removed in the moment before the watch's rescan.
    const target = path.join(sb.box.root, 'elsewhere', 'tdx_guest');
    char(target);
    fs.rmSync(node());
    fs.symlinkSync(target, node());
    await start(['--shared-count=2']);
    expect(kubeletHealth(sb.box.kubelet, RES)).toBe('Healthy');
    fs.rmSync(target);
    await expect(sb.box.kubelet.allocate(RES, [['tdx-guest-1']])).rejects.toMatchObject({
      code: grpc.status.FAILED_PRECONDITION,
      details: expect.stringContaining(`tdx-guest-1: ${node()} is a symlink to nothing`),
    });
    await sb.box.kubelet.waitFor(() => kubeletHealth(sb.box.kubelet, RES) === 'Unhealthy', 1000, 'rescanned');
  });

  test('--uds-resource-name: the socket dir is its own resource; each resource gives only its part', async () => {
    await start([`--uds-resource-name=${UDS_RES}`, '--shared-count=3']);
    await sb.box.kubelet.waitForRegistration(UDS_RES);
    expect(ids(UDS_RES)).toEqual(['ccnp-uds-0', 'ccnp-uds-1', 'ccnp-uds-2']);
    const [device] = await sb.box.kubelet.allocate(RES, [['tdx-guest-0']]);
    expect(device.devices).toHaveLength(1);
    expect(device.mounts).toEqual([]);
    const [uds] = await sb.box.kubelet.allocate(UDS_RES, [['ccnp-uds-1']]);
    expect(uds.devices).toEqual([]);
    expect(uds.mounts).toEqual([{ container_path: '/run/ccnp/uds', host_path: udsDir(), read_only: false }]);
  });

  test('--tsm-report mounts the configfs-tsm report dir rw; without it the allocation fails naming the path', async () => {
    await start(['--tsm-report']);
    const tsm = path.join(sb.box.sysfsRoot, 'kernel/config/tsm/report');
    const [res] = await sb.box.kubelet.allocate(RES, [['tdx-guest-0']]);
    expect(res.mounts).toContainEqual({
      container_path: '/sys/kernel/config/tsm/report',
      host_path: tsm,
      read_only: false,
    });
    expect(res.mounts).toHaveLength(2);
    fs.rmSync(tsm, { recursive: true });
    await expect(sb.box.kubelet.allocate(RES, [['tdx-guest-0']])).rejects.toMatchObject({
      code: grpc.status.FAILED_PRECONDITION,
      details: expect.stringContaining(tsm),
    });
  });

  test('every flag by env: TDX_RESOURCE_NAME, SHARED_COUNT, UDS_DIR, UDS_RESOURCE_NAME, TSM_REPORT', async () => {
    const name = 'tdx.example.com/guest';
    await sb.start([], {
      TDX_RESOURCE_NAME: name,
      SHARED_COUNT: '2',
      UDS_DIR: udsDir(),
      UDS_RESOURCE_NAME: 'tdx.example.com/uds',
      TSM_REPORT: 'true',
    });
    await sb.box.kubelet.waitForRegistration(name);
    await sb.box.kubelet.waitForRegistration('tdx.example.com/uds');
    expect(ids(name)).toEqual(['tdx-guest-0', 'tdx-guest-1']);
    const [res] = await sb.box.kubelet.allocate(name, [['tdx-guest-1']]);
    expect(res.mounts).toEqual([
      expect.objectContaining({ container_path: '/sys/kernel/config/tsm/report' }),
    ]);
  });

  test('kubelet restart: both resources register again', async () => {
    await start([`--uds-resource-name=${UDS_RES}`]);
    await sb.box.kubelet.waitForRegistration(UDS_RES);
    await sb.box.kubelet.restart();
    await sb.box.kubelet.waitForRegistration(RES);
    await sb.box.kubelet.waitForRegistration(UDS_RES);
    expect(sb.box.kubelet.allocatable(RES)).toBe(110);
    expect(sb.box.kubelet.allocatable(UDS_RES)).toBe(110);
  });

  test.each([
    [['--shared-count=0'], /--shared-count: 0 is below the minimum 1/],
    [['--uds-dir=relative/uds'], /--uds-dir must be an absolute path/],
    [[`--uds-resource-name=${RES}`], /--uds-resource-name must differ from --resource-name/],
    [['--uds-resource-name=nodomain'], /--uds-resource-name: "nodomain" has no domain prefix/],
    [['--tsm-report=sometimes'], /--tsm-report: "sometimes" is not a boolean/],
  ])('bad flags %j are usage errors with the reason', async (args, reason) => {
    await expect(sb.start([`--uds-dir=${udsDir()}`, ...args])).rejects.toMatchObject({
      name: 'UsageError',
      message: expect.stringMatching(reason),
    });
  });

  test('a --uds-dir that is a file is a usage error', async () => {
    fs.mkdirSync(path.dirname(udsDir()), { recursive: true });
    fs.writeFileSync(udsDir(), '');
    await expect(sb.start([`--uds-dir=${udsDir()}`])).rejects.toMatchObject({
      name: 'UsageError',
      message: expect.stringContaining('exists but is not a directory'),
    });
  });
});

describeWithBuild('tdx plugin (real process)', () => {
  test('a bad flag exits 2 with the reason on stderr', async () => {
    const { code, stderr } = await spawnCli('tdx', ['--uds-dir=nope']).exited;
    expect(code).toBe(2);
    expect(stderr).toContain('--uds-dir must be an absolute path');
  });

  test('only the deprecated tdx-attest: exits 1 naming it', async () => {
    const box = await sandbox();
    try {
      char(path.join(box.devfsRoot, 'tdx-attest'));
      const { code, stderr } = await spawnCli('tdx', [
        ...box.flags,
        `--uds-dir=${path.join(box.root, 'uds')}`,
      ]).exited;
      expect(code).toBe(1);
      expect(stderr).toContain(`deprecated TDX guest interface ${path.join(box.devfsRoot, 'tdx-attest')}`);
    } finally {
      await box.close();
    }
  });

  test('serves the fixture with both resources, and SIGTERM removes the sockets and exits 0', async () => {
    const box = await sandbox('tdx');
    const udsDir = path.join(box.root, 'uds');
    try {
      const check = () => expect(fs.statSync(udsDir).mode & 0o777).toBe(0o757);
      await expectCleanSigterm(box, 'tdx', [`--uds-dir=${udsDir}`], [RES, UDS_RES], check, {
        UDS_RESOURCE_NAME: UDS_RES,
      });
    } finally {
      await box.close();
    }
  });
});
