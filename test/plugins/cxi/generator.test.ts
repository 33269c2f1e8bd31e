/** cxi-cdi-generator in process: the spec, updates of an existing spec, dry-run, env file, bad input. */
import * as fs from 'fs';
import * as path from 'path';
import * as yaml from 'js-yaml';
import { cdiSpecErrors, readCdiSpec, writeCdiSpec, type CdiSpec } from '../../../plugins/framework';
import { addFixtureNic, removeFixtureNic, DEFAULT_NICS } from '../../../simulator/devices/cxi';
import { runGenerator } from '../../../plugins/cxi/generator-main';
import { cdiSchemaErrors } from '../../helpers/cdi-schema';
import { describeWithUpstream } from '../../helpers/upstream';
import { describeAsRoot, fixture, fixtureLibraries, rootEnv, type FixtureHandle } from './helpers';

let fx: FixtureHandle;
afterEach(() => fx?.cleanup());

function generate(args: string[], env: NodeJS.ProcessEnv = rootEnv(fx)) {
  let stdout = '';
  let stderr = '';
  const code = runGenerator(args, {
    env,
    stdout: (t) => (stdout += t),
    stderr: (t) => (stderr += t),
  });
  return { code, stdout, stderr };
}

const specFile = () => path.join(fx.cdiDir, 'hpe.com-cxi.yaml');
const readSpec = () => readCdiSpec(specFile()) as CdiSpec;
const deviceNames = (spec: CdiSpec) => spec.devices.map((d) => d.name);

function expectValid(spec: CdiSpec): void {
  expect(cdiSpecErrors(spec)).toEqual([]);
  expect(cdiSchemaErrors(spec)).toEqual([]);
}

describeAsRoot('cxi-cdi-generator', () => {
  describeWithUpstream('spec content (validated against the upstream CDI schema)', () => {
    test('one device per NIC, `all`, xpmem, read-only libraries, env file + LD_LIBRARY_PATH; mode 0644', () => {
      fx = fixture();
      const envFile = path.join(fx.root, 'env.yaml');
      fs.writeFileSync(envFile, 'env:\n  - FI_PROVIDER=cxi\n  - VAR1="value1"\n');
      const { code, stderr } = generate([`--env-vars=${envFile}`]);
      expect(code).toBe(0);
      expect(stderr).toMatch(/INFO +CDI spec written .*added=0,1,2,10 removed=none/);
      expect(fs.statSync(specFile()).mode & 0o777).toBe(0o644);
      const spec = readSpec();
      expectValid(spec);
      const node = (n: number) => ({
        path: `/dev/cxi${n}`,
        hostPath: path.join(fx.devfsRoot, `cxi${n}`),
        type: 'c',
      });
      expect(spec).toEqual({
        cdiVersion: '0.5.0',
        kind: 'hpe.com/cxi',
        devices: [
          ...[0, 1, 2, 10].map((n) => ({ name: String(n), containerEdits: { deviceNodes: [node(n)] } })),
          { name: 'all', containerEdits: { deviceNodes: [node(0), node(1), node(2), node(10)] } },
        ],
        containerEdits: {
          env: ['FI_PROVIDER=cxi', 'VAR1="value1"', `LD_LIBRARY_PATH=${fx.ofiRoot}:${fx.cxiRoot}`],
          deviceNodes: [{ path: '/dev/xpmem', hostPath: path.join(fx.devfsRoot, 'xpmem'), type: 'c' }],
          mounts: fixtureLibraries(fx).map((f) => ({
            hostPath: f,
            containerPath: f,
            options: ['ro', 'nosuid', 'nodev', 'bind'],
          })),
        },
      });
    });

    test('updating an existing spec adds new NICs, drops absent ones, keeps hand edits, stays valid', () => {
      fx = fixture();
      expect(generate([]).code).toBe(0);
      const edited = readSpec();
      edited.annotations = { 'example.com/owner': 'hpc-team' };
      edited.devices.find((d) => d.name === '0')!.annotations = { 'example.com/port': 'hsn0' };
      edited.devices.push({ name: 'custom', containerEdits: { env: ['CUSTOM=1'] } });
      writeCdiSpec(fx.cdiDir, { ...edited, cdiVersion: '0.6.0' });

      removeFixtureNic(fx, DEFAULT_NICS[1]);
      addFixtureNic(fx, { number: 5, pciAddress: '0000:c3:00.0', numaNode: 1 });
      const { code, stderr } = generate([]);
      expect(code).toBe(0);
      expect(stderr).toMatch(/CDI spec written .*added=5 removed=1/);
      const spec = readSpec();
      expectValid(spec);
      expect(deviceNames(spec)).toEqual(['0', '2', '5', '10', 'all', 'custom']);
      expect(spec.annotations).toEqual({ 'example.com/owner': 'hpc-team' });
      expect(spec.devices[0].annotations).toEqual({ 'example.com/port': 'hsn0' });
      expect(spec.cdiVersion).toBe('0.6.0'); // annotations need 0.6.0
      expect(
        spec.devices.find((d) => d.name === 'all')!.containerEdits.deviceNodes!.map((n) => n.path),
      ).toEqual(['/dev/cxi0', '/dev/cxi2', '/dev/cxi5', '/dev/cxi10']);
    });

    test('a NIC whose /dev/cxiN is missing is left out, with a warning', () => {
      fx = fixture();
      fs.rmSync(path.join(fx.devfsRoot, 'cxi2'));
      const { code, stderr } = generate([]);
      expect(code).toBe(0);
      expect(stderr).toMatch(/WARN +CXI NIC left out of the spec: its device node is missing .*nic=cxi2/);
      expect(deviceNames(readSpec())).toEqual(['0', '1', '10', 'all']);
      expectValid(readSpec());
    });
  });

  test('a second run with nothing changed leaves the file alone', () => {
    fx = fixture();
    expect(generate([]).code).toBe(0);
    const before = fs.statSync(specFile());
    fs.chmodSync(specFile(), 0o600);
    const { code, stderr } = generate([]);
    expect(code).toBe(0);
    expect(stderr).toMatch(/CDI spec already up to date/);
    const after = fs.statSync(specFile());
    expect(after.ino).toBe(before.ino);
    expect(after.mtimeMs).toBe(before.mtimeMs);
    expect(after.mode & 0o777).toBe(0o644);
  });

  test('--dry-run / -n prints the spec and writes nothing, even over an existing spec', () => {
    fx = fixture();
    const { code, stdout } = generate(['-n']);
    expect(code).toBe(0);
    expect(fs.existsSync(fx.cdiDir)).toBe(false);
    expect(deviceNames(yaml.load(stdout) as CdiSpec)).toEqual(['0', '1', '2', '10', 'all']);

    expect(generate([]).code).toBe(0);
    const written = fs.readFileSync(specFile(), 'utf8');
    removeFixtureNic(fx, DEFAULT_NICS[0]);
    const dry = generate(['--dry-run']);
    expect(deviceNames(yaml.load(dry.stdout) as CdiSpec)).toEqual(['1', '2', '10', 'all']);
    expect(dry.stderr).toMatch(/dry run: nothing written .*added=none removed=0/);
    expect(fs.readFileSync(specFile(), 'utf8')).toBe(written);
  });

  test('--dry-run with a missing library dir (any non-HPE host): warns, leaves those mounts out, exits 0', () => {
    fx = fixture();
    const noOfi = path.join(fx.root, 'no-ofi');
    const dry = generate(['--dry-run'], { ...rootEnv(fx), OFI_ROOT: noOfi });
    expect(dry.code).toBe(0);
    expect(dry.stderr).toMatch(new RegExp(`WARN .*library directory missing.*dir=${noOfi}`));
    const mounts = JSON.stringify((yaml.load(dry.stdout) as CdiSpec).containerEdits?.mounts ?? []);
    expect(mounts).not.toContain(noOfi);
    expect(mounts).toContain(fx.cxiRoot); // the libcxi files that do exist are still mounted
    expect(fs.existsSync(fx.cdiDir)).toBe(false);
  });

  test('no NIC left: the stale spec is removed (nothing would resolve from it)', () => {
    fx = fixture();
    expect(generate([]).code).toBe(0);
    for (const nic of DEFAULT_NICS) removeFixtureNic(fx, nic);
    const { code, stderr } = generate([]);
    expect(code).toBe(0);
    expect(stderr).toMatch(/no CXI NIC left: CDI spec removed/);
    expect(fs.existsSync(specFile())).toBe(false);
    expect(generate([]).stderr).toMatch(/no CXI NIC found: no CDI spec written/);
  });

  test('a bad env-vars file or an existing file that is no CXI spec: exit 1, reason given, nothing written', () => {
    fx = fixture();
    expect(generate([]).code).toBe(0);
    const good = fs.readFileSync(specFile(), 'utf8');
    const envFile = path.join(fx.root, 'env.yaml');
    removeFixtureNic(fx, DEFAULT_NICS[0]);

    fs.writeFileSync(envFile, 'env:\n  - GOOD=1\n  - "no equals sign"\n  - 42\n');
    let run = generate([`--env-vars=${envFile}`]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(
      `env-vars file ${envFile}: entries must be "KEY=VALUE" strings, not "no equals sign", 42`,
    );

    fs.writeFileSync(envFile, 'env: FOO=1\n');
    run = generate([`--env-vars=${envFile}`]);
    expect(run.stderr).toContain('must be a mapping with a list "env: [KEY=VALUE, …]"');
    run = generate([`--env-vars=${path.join(fx.root, 'absent.yaml')}`]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/cannot read env-vars file .*absent\.yaml: ENOENT/);
    expect(fs.readFileSync(specFile(), 'utf8')).toBe(good);

    fs.writeFileSync(specFile(), 'cdiVersion: 0.5.0\nkind: vendor.com/other\ndevices: []\n');
    run = generate([]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('is not a CXI CDI spec: its kind is "vendor.com/other", not hpe.com/cxi');
    expect(fs.readFileSync(specFile(), 'utf8')).toContain('vendor.com/other');
  });

  test('flags: -v prints the version; bad flags and missing roots exit 2 with the reason', () => {
    fx = fixture();
    expect(generate(['-v'])).toEqual({
      code: 0,
      stdout: expect.stringMatching(/version \d+\.\d+\.\d+\n$/),
      stderr: '',
    });
    expect(generate(['--help']).stdout).toContain('--env-vars');

    let run = generate(['--bogus']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('unknown flag --bogus');
    run = generate(['-V', 'loud']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('invalid value for --verbose: "loud" is not an integer');
    run = generate([], { ...rootEnv(fx), OFI_ROOT: path.join(fx.root, 'no-ofi') });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`--ofi-root (OFI_ROOT): ${path.join(fx.root, 'no-ofi')} does not exist`);
  });

  test('roots come from SYSFS_ROOT/DEVFS_ROOT/OFI_ROOT/CXI_ROOT or the flags; -V 1 logs every NIC', () => {
    fx = fixture();
    const flags = [
      `--sysfs-root=${fx.sysfsRoot}`,
      `--devfs-root=${fx.devfsRoot}`,
      `--ofi-root=${fx.ofiRoot}`,
      `--cxi-root=${fx.cxiRoot}`,
      `--cdi-dir=${fx.cdiDir}`,
    ];
    const { code, stderr } = generate([...flags, '-V', '1'], {});
    expect(code).toBe(0);
    expect(stderr).toMatch(/DEBUG discovered CXI NIC .*nic=cxi10 number=10 pciAddress=0000:c2:00.0/);
    expect(stderr).toMatch(/INFO +ignoring cxi class entry .*entry=cxi3 reason="vendor 0x15b3 is not HPE/);
    expect(deviceNames(readSpec())).toEqual(['0', '1', '2', '10', 'all']);
  });
});
