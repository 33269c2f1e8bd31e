import * as fs from 'fs';
import * as path from 'path';
import {
  buildCdiSpec,
  cdiSpecErrors,
  cdiSpecFileName,
  isQualifiedCdiName,
  isValidCdiDeviceName,
  minimumCdiVersion,
  qualifiedCdiName,
  readCdiSpec,
  removeCdiSpec,
  writeCdiSpec,
} from '../../plugins/framework';
import { cdiSchemaErrors } from '../helpers/cdi-schema';
import { describeWithUpstream } from '../helpers/upstream';
import { removeDir, tempDir } from '../helpers/tmp';

const nodeSpec = () =>
  buildCdiSpec({
    kind: 'example.com/dev',
    devices: [{ name: 'd0', containerEdits: { deviceNodes: [{ path: '/dev/d0' }] } }],
  });

describe('minimum cdiVersion follows the features a spec uses', () => {
  test.each([
    ['plain device nodes', nodeSpec(), '0.3.0'],
    [
      'mount type',
      buildCdiSpec({
        kind: 'a.io/b',
        devices: [
          { name: 'x', containerEdits: { mounts: [{ hostPath: '/a', containerPath: '/a', type: 'bind' }] } },
        ],
      }),
      '0.4.0',
    ],
    [
      'device node hostPath',
      buildCdiSpec({
        kind: 'a.io/b',
        devices: [{ name: 'x', containerEdits: { deviceNodes: [{ path: '/dev/x', hostPath: '/h/x' }] } }],
      }),
      '0.5.0',
    ],
    [
      'device name starting with a digit',
      buildCdiSpec({ kind: 'a.io/b', devices: [{ name: '0', containerEdits: {} }] }),
      '0.5.0',
    ],
    [
      'annotations',
      buildCdiSpec({ kind: 'a.io/b', annotations: { k: 'v' }, devices: [{ name: 'x', containerEdits: {} }] }),
      '0.6.0',
    ],
    [
      'dot in class',
      buildCdiSpec({ kind: 'a.io/b.c', devices: [{ name: 'x', containerEdits: {} }] }),
      '0.6.0',
    ],
    [
      'additionalGids',
      buildCdiSpec({ kind: 'a.io/b', devices: [{ name: 'x', containerEdits: { additionalGids: [5] } }] }),
      '0.7.0',
    ],
    [
      'netDevices',
      buildCdiSpec({
        kind: 'a.io/b',
        devices: [
          { name: 'x', containerEdits: { netDevices: [{ hostInterfaceName: 'eth1', name: 'eth1' }] } },
        ],
      }),
      '1.1.0',
    ],
  ])('%s', (_what, spec, version) => {
    expect(spec.cdiVersion).toBe(version);
    expect(minimumCdiVersion(spec)).toBe(version);
  });
});

test('loader rules the schema leaves out are enforced', () => {
  expect(cdiSpecErrors(nodeSpec())).toEqual([]);
  expect(cdiSpecErrors({ ...nodeSpec(), kind: 'nokind' })).toEqual([
    expect.stringMatching(/must be <vendor>\/<class>/),
  ]);
  expect(cdiSpecErrors({ ...nodeSpec(), devices: [] })).toEqual([
    expect.stringMatching(/at least one device/),
  ]);
  expect(
    cdiSpecErrors({ ...nodeSpec(), cdiVersion: '0.3.0', devices: [{ name: '1', containerEdits: {} }] }),
  ).toEqual([expect.stringMatching(/older than 0.5.0/)]);
  expect(
    cdiSpecErrors({
      ...nodeSpec(),
      devices: [
        { name: 'a', containerEdits: {} },
        { name: 'a', containerEdits: {} },
      ],
    }),
  ).toEqual([expect.stringMatching(/appears twice/)]);
});

test('qualified names', () => {
  expect(qualifiedCdiName('hpe.com/cxi', '0')).toBe('hpe.com/cxi=0');
  expect(isQualifiedCdiName('hpe.com/cxi=0')).toBe(true);
  expect(isQualifiedCdiName('kvm0')).toBe(false);
  expect(isQualifiedCdiName('Bad_Vendor/x=y')).toBe(false);
  expect(cdiSpecFileName('hpe.com/cxi')).toBe('hpe.com-cxi.yaml');
});

test('device names: letters and digits at both ends, "-", "_", ".", ":" inside', () => {
  for (const name of ['0', 'eth0', 'enp1s0f0.100', 'a-b_c:d', 'X'])
    expect([name, isValidCdiDeviceName(name)]).toEqual([name, true]);
  for (const name of ['', 'eth0_', '-eth0', 'eth0@if3', 'a=b', 'a/b', 'veth 1'])
    expect([name, isValidCdiDeviceName(name)]).toEqual([name, false]);
});

describe('writing', () => {
  let dir: string;
  beforeEach(() => (dir = tempDir()));
  afterEach(() => removeDir(dir));

  test('writes atomically with mode 0644 even under a strict umask, and leaves no temp files', () => {
    const old = process.umask(0o077);
    try {
      const file = writeCdiSpec(path.join(dir, 'cdi'), nodeSpec());
      expect(fs.statSync(file).mode & 0o777).toBe(0o644);
      expect(fs.readdirSync(path.join(dir, 'cdi'))).toEqual(['example.com-dev.yaml']);
      expect(readCdiSpec(file)).toEqual(nodeSpec());
    } finally {
      process.umask(old);
    }
  });

  test('replacing a spec swaps inodes (rename), so a reader never sees half a file', () => {
    const file = writeCdiSpec(dir, nodeSpec());
    const before = fs.statSync(file).ino;
    writeCdiSpec(dir, {
      ...nodeSpec(),
      devices: [...nodeSpec().devices, { name: 'd1', containerEdits: {} }],
    });
    expect(fs.statSync(file).ino).not.toBe(before);
    expect(readCdiSpec(file)!.devices).toHaveLength(2);
  });

  test('refuses to write an invalid spec and keeps the old one', () => {
    const file = writeCdiSpec(dir, nodeSpec());
    expect(() => writeCdiSpec(dir, { ...nodeSpec(), devices: [] })).toThrow(/invalid CDI spec/);
    expect(readCdiSpec(file)).toEqual(nodeSpec());
    removeCdiSpec(dir, 'example.com/dev');
    expect(fs.existsSync(file)).toBe(false);
    expect(readCdiSpec(file)).toBeUndefined();
  });
});

describeWithUpstream('CDI specs against the upstream JSON schema', () => {
  test('specs the framework builds validate', () => {
    const spec = buildCdiSpec({
      kind: 'example.com/dev',
      devices: [
        {
          name: 'd0',
          containerEdits: { deviceNodes: [{ path: '/dev/d0', hostPath: '/dev/d0', permissions: 'rw' }] },
        },
        { name: 'eth1', containerEdits: { netDevices: [{ hostInterfaceName: 'eth1', name: 'eth1' }] } },
      ],
      containerEdits: {
        env: ['A=B'],
        mounts: [
          {
            hostPath: '/usr/lib64/libcxi.so',
            containerPath: '/usr/lib64/libcxi.so',
            options: ['ro', 'bind'],
          },
        ],
        hooks: [{ hookName: 'createRuntime', path: '/opt/cdi/bin/hook', args: ['hook', 'add'] }],
      },
    });
    expect(cdiSchemaErrors(spec)).toEqual([]);
  });

  test('the schema rejects a device without containerEdits (so the check is real)', () => {
    expect(cdiSchemaErrors({ cdiVersion: '0.3.0', kind: 'a.io/b', devices: [{ name: 'x' }] })).not.toEqual(
      [],
    );
  });
});
