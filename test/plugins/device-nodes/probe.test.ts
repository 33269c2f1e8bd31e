import * as fs from 'fs';
import * as path from 'path';
import { deviceNumbers, probeNode } from '../../../plugins/device-nodes';
import { makeNode } from '../../../plugins/device-nodes/fixture';
import { removeDir, tempDir } from '../../helpers/tmp';
import { describeAsRoot, openFds } from './helpers';

describeAsRoot('probeNode (real device nodes)', () => {
  let dir: string;
  beforeAll(() => {
    dir = tempDir('kdp-probe-');
    makeNode(path.join(dir, 'null'), { type: 'char', major: 1, minor: 3 });
    makeNode(path.join(dir, 'big'), { type: 'char', major: 259, minor: 300000 });
    makeNode(path.join(dir, 'blk'), { type: 'block', major: 7, minor: 200 });
    // No driver behind major 240 (local/experimental range): open fails with ENXIO.
    makeNode(path.join(dir, 'nodriver'), { type: 'char', major: 240, minor: 0 });
    fs.writeFileSync(path.join(dir, 'file'), '');
    fs.symlinkSync(path.join(dir, 'null'), path.join(dir, 'link'));
    fs.symlinkSync(path.join(dir, 'gone'), path.join(dir, 'dangling'));
    fs.symlinkSync('loop', path.join(dir, 'loop'));
  });
  afterAll(() => removeDir(dir));
  const probe = (name: string, options = {}) => probeNode(path.join(dir, name), options);

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
    expect(probe('null', { openReadWrite: true }).health).toBe('Healthy');
    const result = probe('nodriver', { openReadWrite: true });
    expect(result.health).toBe('Unhealthy');
    expect(result.reason).toMatch(/^cannot be opened read-write: ENXIO/);
  });

  test('probing never leaks a file descriptor, whether the open works or fails', () => {
    const before = openFds();
    for (let i = 0; i < 500; i++) {
      probe('null', { openReadWrite: true });
      probe('nodriver', { openReadWrite: true });
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
});
