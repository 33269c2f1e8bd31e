/** probeDeviceNode on real device nodes made with mknod (root), and the device-cgroup (EPERM) rule. */
import * as fs from 'fs';
import * as path from 'path';
import { DEVICE_CGROUP_NOTE, deviceNumbers, probeDeviceNode } from '../../plugins/framework';
import { makeNode } from '../../simulator/devices/device-nodes';
import { describeAsRoot, openFds } from '../helpers/root';
import { removeDir, tempDir } from '../helpers/tmp';
import { testWithDeviceCgroup, withDeviceDenied } from '../helpers/device-cgroup';

describeAsRoot('probeDeviceNode (real device nodes)', () => {
  let dir: string;
  beforeAll(() => {
    dir = tempDir('kdp-probe-');
    makeNode(path.join(dir, 'null'), { type: 'char', major: 1, minor: 3 });
    makeNode(path.join(dir, 'full'), { type: 'char', major: 1, minor: 7 });
    makeNode(path.join(dir, 'big'), { type: 'char', major: 259, minor: 300000 });
    makeNode(path.join(dir, 'blk'), { type: 'block', major: 7, minor: 200 });
    // No driver behind major 240 (local/experimental range): open fails with ENXIO.
    makeNode(path.join(dir, 'nodriver'), { type: 'char', major: 240, minor: 0 });
    makeNode(path.join(dir, 'nodriver2'), { type: 'char', major: 240, minor: 250 });
    fs.writeFileSync(path.join(dir, 'file'), '');
    fs.symlinkSync(path.join(dir, 'null'), path.join(dir, 'link'));
    fs.symlinkSync(path.join(dir, 'gone'), path.join(dir, 'dangling'));
    fs.symlinkSync('loop', path.join(dir, 'loop'));
  });
  afterAll(() => removeDir(dir));
  const probe = (name: string, options = {}) => probeDeviceNode(path.join(dir, name), options);

  test('a char device is Healthy, with its major:minor (also beyond 8/12 bits)', () => {
    expect(probe('null')).toEqual({ health: 'Healthy', kind: 'char', major: 1, minor: 3 });
    expect(probe('big')).toMatchObject({ health: 'Healthy', major: 259, minor: 300000 });
    expect(probe('link')).toMatchObject({ health: 'Healthy', kind: 'char' });
  });

  test('the wrong kind, a file, a missing node and a dangling link are Unhealthy with a reason', () => {
    expect(probe('blk')).toEqual({
      health: 'Unhealthy',
      reason: 'is a block device, not a char device node',
    });
    expect(probe('blk', { kinds: ['char', 'block'] })).toMatchObject({
      health: 'Healthy',
      kind: 'block',
      major: 7,
      minor: 200,
    });
    expect(probe('file').reason).toBe('is a regular file, not a char device node');
    expect(probe('missing').reason).toBe('does not exist');
    expect(probe('dangling').reason).toBe('is a symlink to nothing');
    expect(probe('loop').reason).toBe('cannot be examined: ELOOP');
  });

  test('opening read-write: a node without a driver is Unhealthy, naming the error', () => {
    expect(probe('null', { open: 'read-write' }).health).toBe('Healthy');
    const result = probe('nodriver', { open: 'read-write' });
    expect(result.health).toBe('Unhealthy');
    expect(result.reason).toMatch(/^cannot be opened read-write: ENXIO/);
  });

  test('opening read-only: the same, saying how it was opened', () => {
    expect(probe('null', { open: 'read' })).toEqual({ health: 'Healthy', kind: 'char', major: 1, minor: 3 });
    expect(probe('nodriver2', { open: 'read' })).toEqual({
      health: 'Unhealthy',
      reason: 'cannot be opened read-only: ENXIO (no such device or address)',
      kind: 'char',
      major: 240,
      minor: 250,
    });
    // Without `open` only existence and type count.
    expect(probe('nodriver2').health).toBe('Healthy');
  });

  test('probing never leaks a file descriptor, whether the open works or fails', () => {
    const before = openFds();
    for (let i = 0; i < 500; i++) {
      probe('null', { open: 'read-write' });
      probe('nodriver', { open: 'read-write' });
    }
    for (let i = 0; i < 1000; i++) {
      probe('null', { open: 'read' });
      probe('nodriver2', { open: 'read' });
      probe('file', { open: 'read' });
    }
    expect(openFds()).toBe(before);
  });

  test('deviceNumbers decodes the Linux dev_t layout', () => {
    expect(deviceNumbers(BigInt(0x0103))).toEqual({ major: 1, minor: 3 });
    expect(deviceNumbers(fs.statSync(path.join(dir, 'big'), { bigint: true }).rdev)).toEqual({
      major: 259,
      minor: 300000,
    });
  });

  testWithDeviceCgroup(
    'an open the device cgroup refuses (EPERM) is Healthy with a note; other errors stay Unhealthy',
    () => {
      const full = path.join(dir, 'full');
      expect(probe('full', { open: 'read-write' })).toEqual({
        health: 'Healthy',
        kind: 'char',
        major: 1,
        minor: 7,
      });
      const before = openFds();
      withDeviceDenied({ major: 1, minor: 7 }, () => {
        // The rule is real: this thread cannot open it.
        expect(() => fs.openSync(full, 'r')).toThrow(expect.objectContaining({ code: 'EPERM' }));
        for (const open of ['read', 'read-write'] as const)
          expect(probe('full', { open })).toEqual({
            health: 'Healthy',
            note: DEVICE_CGROUP_NOTE,
            kind: 'char',
            major: 1,
            minor: 7,
          });
        expect(probe('full')).toEqual({ health: 'Healthy', kind: 'char', major: 1, minor: 7 });
        // Only EPERM: a device without a driver is still ENXIO, a regular file still the wrong kind.
        expect(probe('nodriver', { open: 'read-write' }).reason).toMatch(
          /^cannot be opened read-write: ENXIO/,
        );
        expect(probe('file', { open: 'read' }).health).toBe('Unhealthy');
        for (let i = 0; i < 1000; i++) probe('full', { open: 'read-write' });
      });
      expect(openFds()).toBe(before);
      expect(DEVICE_CGROUP_NOTE).toBe(
        'device cgroup forbids opening it here; checked existence and type only',
      );
    },
  );
});
