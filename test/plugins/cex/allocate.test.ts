/** Allocate: zcrypt node creation (emulated kernel, real mknod), device spec, shadow sysfs, failures. */
import * as fs from 'fs';
import * as path from 'path';
import { mask256 } from '../../../plugins/cex/shadow-sysfs';
import { BLUE, CexHarness, RED, rootTest, withCex } from './harness';

const ALL_IOCTLS = Array.from({ length: 256 }, (_, i) => `+${i}`).join(',') + '\n';

function read(file: string): string {
  return fs.readFileSync(file, 'utf8');
}

/** Every file and link below `dir`, as `rel` → content or `-> target`. */
function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string) => {
    for (const entry of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const name = path.join(rel, entry.name);
      const full = path.join(dir, name);
      if (entry.isSymbolicLink()) out[name] = `-> ${fs.readlinkSync(full)}`;
      else if (entry.isDirectory()) walk(name);
      else out[name] = read(full);
    }
  };
  walk('');
  return out;
}

describe('CEX Allocate', () => {
  rootTest('creates the zcrypt node, restricts it to the APQN and maps it to /dev/z90crypt', () =>
    withCex({}, async (h) => {
      await h.kubelet.waitForRegistration(BLUE);
      const [res] = await h.kubelet.allocate(BLUE, [['apqn-0-7-0']]);
      const node = path.join(h.host.paths.devfsRoot, 'zcrypt-apqn-0-7-0');
      expect(res.devices).toEqual([{ container_path: '/dev/z90crypt', host_path: node, permissions: 'rw' }]);
      const st = fs.statSync(node);
      expect(st.isCharacterDevice()).toBe(true);
      expect(st.mode & 0o777).toBe(0o666);
      expect(h.emulator.created).toEqual(['zcrypt-apqn-0-7-0']);
      const attrs = path.join(h.host.paths.zcryptClassDir, 'zcrypt-apqn-0-7-0');
      expect(read(path.join(attrs, 'apmask'))).toBe('+0\n');
      expect(read(path.join(attrs, 'aqmask'))).toBe('+7\n');
      expect(read(path.join(attrs, 'ioctlmask'))).toBe(ALL_IOCTLS);
      expect(h.logged('allocated CEX device')[0]).toMatchObject({
        resource: BLUE,
        deviceId: 'apqn-0-7-0',
        nodeCreated: true,
      });
    }),
  );

  rootTest('an existing node is reused (masks re-applied), not created again', () =>
    withCex({}, async (h) => {
      await h.kubelet.waitForRegistration(BLUE);
      await h.kubelet.allocate(BLUE, [['apqn-0-6-0']]);
      const aqmask = path.join(h.host.paths.zcryptClassDir, 'zcrypt-apqn-0-6-0', 'aqmask');
      fs.writeFileSync(aqmask, '');
      const [res] = await h.kubelet.allocate(BLUE, [['apqn-0-6-0']]);
      expect(res.devices[0].host_path).toBe(path.join(h.host.paths.devfsRoot, 'zcrypt-apqn-0-6-0'));
      expect(h.emulator.created).toEqual(['zcrypt-apqn-0-6-0']);
      expect(read(aqmask)).toBe('+6\n');
      expect(h.logged('allocated CEX device')[1]).toMatchObject({ nodeCreated: false });
    }),
  );

  rootTest('several containers of one request each get their own node', () =>
    withCex({}, async (h) => {
      await h.kubelet.waitForRegistration(RED);
      const responses = await h.kubelet.allocate(RED, [['apqn-1-6-0'], ['apqn-1-6-1']]);
      expect(responses.map((r) => path.basename(r.devices[0].host_path))).toEqual([
        'zcrypt-apqn-1-6-0',
        'zcrypt-apqn-1-6-1',
      ]);
    }),
  );

  rootTest('a node that never appears in /dev fails Allocate with the reason and is destroyed', () =>
    withCex({ settings: { nodeTimeoutMs: 300 } }, async (h) => {
      await h.kubelet.waitForRegistration(BLUE);
      h.emulator.makeDeviceNodes = false;
      await expect(h.kubelet.allocate(BLUE, [['apqn-0-6-0']])).rejects.toThrow(
        /cannot allocate apqn-0-6-0: device node .*zcrypt-apqn-0-6-0 did not appear within 300 ms/,
      );
      await h.emulator.settled();
      expect(h.emulator.destroyed).toEqual(['zcrypt-apqn-0-6-0']);
      expect(fs.existsSync(path.join(h.host.paths.zcryptClassDir, 'zcrypt-apqn-0-6-0'))).toBe(false);
      expect(fs.existsSync(path.join(h.host.paths.shadowBaseDir, 'sysfs-apqn-0-6-0'))).toBe(false);
    }),
  );

  rootTest('a kernel without zcrypt nodes (nobody reading create) fails Allocate at once', () =>
    withCex({}, async (h) => {
      await h.kubelet.waitForRegistration(BLUE);
      await h.emulator.stop();
      await expect(h.kubelet.allocate(BLUE, [['apqn-0-6-0']])).rejects.toThrow(
        /cannot write "zcrypt-apqn-0-6-0" to .*create/,
      );
    }),
  );

  rootTest('a shadow sysfs that cannot be built fails Allocate and destroys the new node', () =>
    withCex({}, async (h) => {
      await h.kubelet.waitForRegistration(BLUE);
      fs.rmSync(path.join(h.host.paths.apBusDir, 'poll_thread'));
      await expect(h.kubelet.allocate(BLUE, [['apqn-0-6-0']])).rejects.toThrow(
        /cannot build the shadow sysfs for apqn-0-6-0: cannot read .*poll_thread/,
      );
      await h.emulator.settled();
      expect(h.emulator.destroyed).toEqual(['zcrypt-apqn-0-6-0']);
      expect(fs.readdirSync(h.host.paths.shadowBaseDir)).toEqual([]);
    }),
  );

  test('more than one device for a container, or an unknown ID, is a gRPC error naming them', () =>
    withCex({}, async (h) => {
      await h.kubelet.waitForRegistration(RED);
      await expect(h.kubelet.allocate(RED, [['apqn-1-6-0', 'apqn-1-6-1']])).rejects.toThrow(
        /a container can use one CEX device only .* 2 were requested: "apqn-1-6-0", "apqn-1-6-1"/,
      );
      await expect(h.kubelet.allocate(RED, [['apqn-1-6-7']])).rejects.toThrow(
        /unknown device IDs .*"apqn-1-6-7"/,
      );
      await expect(h.kubelet.allocate(RED, [['bogus']])).rejects.toThrow(/unknown device IDs .*"bogus"/);
      expect(h.emulator.created).toEqual([]);
    }));

  rootTest('static shadow sysfs: exactly upstream layout, masks for this APQN only, fixed counters', () =>
    withCex({}, async (h) => {
      await h.kubelet.waitForRegistration(RED);
      h.host.setRequestCount(1, 6, 42);
      const [res] = await h.kubelet.allocate(RED, [['apqn-1-6-1']]);
      const dir = path.join(h.host.paths.shadowBaseDir, 'sysfs-apqn-1-6-1');
      expect(res.mounts).toEqual([
        { container_path: '/sys/bus/ap', host_path: path.join(dir, 'bus/ap'), read_only: true },
        { container_path: '/sys/devices/ap', host_path: path.join(dir, 'devices/ap'), read_only: true },
      ]);
      const files = tree(dir);
      expect(Object.keys(files).sort()).toEqual(
        [
          'bus/ap/ap_adapter_mask',
          'bus/ap/ap_control_domain_mask',
          'bus/ap/ap_domain',
          'bus/ap/ap_interrupts',
          'bus/ap/ap_max_adapter_id',
          'bus/ap/ap_max_domain_id',
          'bus/ap/ap_usage_domain_mask',
          'bus/ap/apmask',
          'bus/ap/aqmask',
          'bus/ap/devices/01.0006',
          'bus/ap/devices/card01',
          'bus/ap/drivers/cex4card/card01',
          'bus/ap/drivers/cex4queue/01.0006',
          'bus/ap/poll_thread',
          'bus/ap/poll_timeout',
          ...[
            'API_ordinalnr',
            'FW_version',
            'ap_functions',
            'depth',
            'driver',
            'hwtype',
            'load',
            'online',
            'op_modes',
            'pendingq_count',
            'raw_hwtype',
            'request_count',
            'requestq_count',
            'serialnr',
            'subsystem',
            'type',
          ].map((f) => `devices/ap/card01/${f}`),
          ...[
            'driver',
            'interrupt',
            'load',
            'mkvps',
            'online',
            'op_modes',
            'pendingq_count',
            'request_count',
            'requestq_count',
            'reset',
            'subsystem',
          ].map((f) => `devices/ap/card01/01.0006/${f}`),
        ].sort(),
      );
      expect(files).toMatchObject({
        'bus/ap/ap_adapter_mask': `0x40${'0'.repeat(62)}\n`,
        'bus/ap/ap_usage_domain_mask': `0x02${'0'.repeat(62)}\n`,
        'bus/ap/ap_control_domain_mask': `0x${'0'.repeat(64)}\n`,
        'bus/ap/apmask': `0x${'f'.repeat(64)}\n`,
        'bus/ap/aqmask': `0x${'f'.repeat(64)}\n`,
        'bus/ap/ap_domain': '6\n',
        'bus/ap/poll_timeout': '250000\n',
        'bus/ap/devices/card01': '-> ../../../devices/ap/card01',
        'bus/ap/devices/01.0006': '-> ../../../devices/ap/card01/01.0006',
        'bus/ap/drivers/cex4card/card01': '-> ../../../../devices/ap/card01',
        'bus/ap/drivers/cex4queue/01.0006': '-> ../../../../devices/ap/card01/01.0006',
        'devices/ap/card01/type': 'CEX8C\n',
        'devices/ap/card01/online': '1\n',
        'devices/ap/card01/request_count': '0\n',
        'devices/ap/card01/load': '0\n',
        'devices/ap/card01/driver': '-> ../../../bus/ap/drivers/cex4card',
        'devices/ap/card01/subsystem': '-> ../../../bus/ap',
        'devices/ap/card01/01.0006/request_count': '0\n',
        'devices/ap/card01/01.0006/mkvps': 'WK CUR: valid 0xfeedfacefeedface\nWK NEW: empty -\n',
        'devices/ap/card01/01.0006/driver': '-> ../../../../bus/ap/drivers/cex4queue',
      });
      expect(fs.statSync(path.join(dir, 'bus/ap/apmask')).mode & 0o777).toBe(0o444);
      expect(fs.statSync(path.join(dir, 'devices/ap/card01')).mode & 0o777).toBe(0o755);
    }),
  );

  rootTest(
    'live shadow sysfs: card counters link into the queue dir, the host queue dir is mounted over it',
    () =>
      withCex({}, async (h) => {
        await h.kubelet.waitForRegistration(BLUE);
        const [res] = await h.kubelet.allocate(BLUE, [['apqn-0-7-0']]);
        const dir = path.join(h.host.paths.shadowBaseDir, 'sysfs-apqn-0-7-0');
        expect(res.mounts).toEqual([
          { container_path: '/sys/bus/ap', host_path: path.join(dir, 'bus/ap'), read_only: true },
          { container_path: '/sys/devices/ap', host_path: path.join(dir, 'devices/ap'), read_only: true },
          {
            container_path: '/sys/bus/ap/devices/00.0007',
            host_path: path.join(dir, 'tmp_bus'),
            read_only: true,
          },
        ]);
        const files = tree(dir);
        for (const counter of ['online', 'pendingq_count', 'request_count', 'requestq_count'])
          expect(files[`devices/ap/card00/${counter}`]).toBe(`-> 00.0007/${counter}`);
        expect(files['devices/ap/card00/load']).toBe('0\n');
        expect(files.tmp_bus).toBe(`-> ${h.host.queueDir(0, 7)}`);
        // Through the link the container sees the host's live values.
        h.host.setRequestCount(0, 7, 1234);
        expect(read(path.join(dir, 'tmp_bus', 'request_count'))).toBe('1234\n');
      }),
  );

  rootTest("upstream defect: the set's own livesysfs wins over APQN_LIVE_SYSFS, both ways", async () => {
    const h = new CexHarness({ settings: { liveSysfs: false } });
    try {
      await h.start();
      await h.kubelet.waitForRegistration(BLUE);
      await h.kubelet.waitForRegistration(RED);
      h.host.writeConfig({
        cryptoconfigsets: [
          { setname: 'blue', project: 'p', livesysfs: 1, apqns: [{ adapter: 0, domain: 6 }] },
          { setname: 'red', project: 'p', apqns: [{ adapter: 1, domain: 6 }] },
        ],
      });
      await h.kubelet.waitFor(() => h.kubelet.capacity(BLUE) === 1, 5000, 'config applied');
      const [live] = await h.kubelet.allocate(BLUE, [['apqn-0-6-0']]);
      const [fixed] = await h.kubelet.allocate(RED, [['apqn-1-6-0']]);
      expect(live.mounts).toHaveLength(3);
      expect(fixed.mounts).toHaveLength(2);
    } finally {
      await h.stop();
    }
  });

  test('the preferred devices spread containers over the least shared APQNs', () =>
    withCex({ settings: { overcommitLimit: 3 } }, async (h) => {
      await h.kubelet.waitForRegistration(BLUE);
      expect(h.kubelet.resource(BLUE)?.options.get_preferred_allocation_available).toBe(true);
      const available = ['apqn-0-6-0', 'apqn-0-6-1', 'apqn-0-7-0', 'apqn-0-7-1', 'apqn-0-7-2'];
      expect(await h.kubelet.preferredAllocation(BLUE, [{ available, size: 1 }])).toEqual([['apqn-0-7-0']]);
      expect(await h.kubelet.preferredAllocation(BLUE, [{ available, size: 3 }])).toEqual([
        ['apqn-0-7-0', 'apqn-0-6-0', 'apqn-0-7-1'],
      ]);
      expect(
        await h.kubelet.preferredAllocation(BLUE, [{ available, mustInclude: ['apqn-0-6-1'], size: 2 }]),
      ).toEqual([['apqn-0-6-1', 'apqn-0-7-0']]);
    }));

  test('256-bit masks', () => {
    expect(mask256(false, [0, 255])).toBe(`0x80${'0'.repeat(60)}01\n`);
    expect(mask256(true, [9])).toBe(`0xffbf${'f'.repeat(60)}\n`);
  });
});
