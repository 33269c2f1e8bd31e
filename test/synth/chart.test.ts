/**
 * What the constructs promise: least privilege per plugin, only the host paths each needs, scheduling on the
 * NFD label, probes, the CEX and netdevice specifics, the NFD rules and NADs, and use as a library.
 */
import { App, Chart } from 'cdk8s';
import { CxiPlugin, EXAMPLE_CXI_NICS, NODE_LABELS, TdxPlugin } from '../../synth';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { HpcDevicesChart } from '../../synth/examples/custom-chart';
import { valuesFromFiles } from '../../synth/main';
import { Container, PodSpec } from '../../synth/k8s-types';
import { COMMON_FLAGS } from '../../plugins/cli/command';
import { parseFlags } from '../../plugins/framework/flags';
import { loadCommand } from '../../plugins/cli/main';
import { NODE_RUNTIME_FLAGS } from '../../plugins/catalogue/node-flags';
import { GENERATOR_FLAGS } from '../../plugins/cxi/generator-main';
import { PLUGINS, defaultValues, mergeValues } from '../../synth/values';
import { VALUES_SCHEMA } from '../../synth/values-schema';
import { K8sObject } from './helpers/helm';
import { VALUE_SETS, find, synthObjects } from './helpers/synth';

const defaults = synthObjects();

function podSpec(objects: K8sObject[], plugin: string): PodSpec {
  const daemonSet = find(objects, 'DaemonSet', `kube-device-plugins-${plugin}`);
  return (daemonSet.spec as { template: { spec: PodSpec } }).template.spec;
}

function mounts(spec: PodSpec, container: Container = spec.containers[0]): Record<string, string> {
  const byName = Object.fromEntries(
    spec.volumes.map((v) => [v.name, v.hostPath?.path ?? `configMap:${v.configMap?.name}`]),
  );
  return Object.fromEntries(
    (container.volumeMounts ?? []).map((m) => [`${m.mountPath}${m.readOnly ? ' (ro)' : ''}`, byName[m.name]]),
  );
}

describe.each(PLUGINS)('%s DaemonSet', (plugin) => {
  const spec = podSpec(defaults, plugin);
  const [container] = spec.containers;

  test('runs as a node-critical agent that does not talk to the API server', () => {
    expect(spec.priorityClassName).toBe('system-node-critical');
    expect(spec.automountServiceAccountToken).toBe(false);
    expect(spec.enableServiceLinks).toBe(false);
    expect(spec.tolerations).toEqual([{ operator: 'Exists' }]);
  });

  test('selects the node label of its plugin', () => {
    const label = NODE_LABELS[plugin];
    expect(spec.nodeSelector).toEqual({ [label.key]: label.value });
  });

  test('sets everything cdk8s-plus would default wrongly', () => {
    expect(container.imagePullPolicy).toBe('IfNotPresent');
    expect(container.resources).toEqual({
      requests: { cpu: '10m', memory: '72Mi' },
      limits: { memory: '128Mi' },
    });
    expect(container.securityContext.readOnlyRootFilesystem).toBe(true);
    expect(container.securityContext.allowPrivilegeEscalation).toBe(plugin === 'cex');
    expect(container.securityContext.privileged).toBe(plugin === 'cex');
  });

  test('is privileged only for CEX; the others drop every capability and add none', () => {
    for (const c of [...spec.containers, ...(spec.initContainers ?? [])]) {
      if (plugin === 'cex') expect(c.securityContext.capabilities).toBeUndefined();
      else expect(c.securityContext.capabilities).toEqual({ drop: ['ALL'] });
    }
  });

  test('is probed on /healthz and /readyz of its own port', () => {
    const port = container.ports![0];
    expect(container.args).toContain(`--http-addr=:${port.containerPort}`);
    expect(container.livenessProbe!.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(container.readinessProbe!.httpGet).toEqual({ path: '/readyz', port: 'http' });
    expect(container.command).toEqual([
      'node',
      ...NODE_RUNTIME_FLAGS,
      '/app/bin/kube-device-plugins.js',
      plugin,
    ]);
  });

  test('gets the kubelet device-plugin dir read-write', () => {
    expect(mounts(spec)['/var/lib/kubelet/device-plugins']).toBe('/var/lib/kubelet/device-plugins');
  });
});

/** Every integer value of every plugin section at its schema minimum, or maximum. */
function integersAt(limit: 'minimum' | 'maximum'): Record<string, Record<string, unknown>> {
  return Object.fromEntries(
    PLUGINS.map((plugin) => [
      plugin,
      Object.fromEntries(
        Object.entries(VALUES_SCHEMA.properties![plugin].properties!)
          .filter(([, property]) => property.type === 'integer' && property[limit] !== undefined)
          .map(([key, property]) => [key, property[limit]]),
      ),
    ]),
  );
}

const FLAG_VALUE_SETS: Record<string, unknown> = {
  ...VALUE_SETS,
  'integers at their schema minimum': integersAt('minimum'),
  'integers at their schema maximum': integersAt('maximum'),
  'shortest durations': { cxi: { rescanInterval: '1ms', healthInterval: '0.5s' } },
};

test.each(Object.keys(FLAG_VALUE_SETS))(
  "the plugins' own flag parsers accept what their DaemonSets pass: %s",
  (set) => {
    const daemonSets = synthObjects(FLAG_VALUE_SETS[set]).filter((o) => o.kind === 'DaemonSet');
    expect(daemonSets.length).toBeGreaterThan(0);
    for (const daemonSet of daemonSets) {
      const spec = (daemonSet.spec as { template: { spec: PodSpec } }).template.spec;
      for (const container of [...spec.containers, ...(spec.initContainers ?? [])]) {
        const entry = container.command.find((word) => word.startsWith('/app/bin/'));
        if (!entry) continue; // the hook installer is a shell
        const env = Object.fromEntries(
          (container.env ?? []).flatMap((e) => (e.value === undefined ? [] : [[e.name, e.value]])),
        );
        const specs = entry.endsWith('/cxi-cdi-generator.js')
          ? GENERATOR_FLAGS
          : [...loadCommand(container.command[container.command.length - 1])!.flags, ...COMMON_FLAGS];
        expect(() => parseFlags(specs, container.args ?? [], env)).not.toThrow();
      }
    }
  },
);

test('durations the plugins refuse are refused by the schema', () => {
  // The flags take a positive duration; "0s" would make the plugin exit at start-up.
  expect(() => parseFlags(loadCommand('cxi')!.flags, ['--rescan-interval=0s'], {})).toThrow(/positive/);
  const pattern = new RegExp(VALUES_SCHEMA.properties!.cxi.properties!.rescanInterval.pattern!);
  for (const ok of ['1ms', '0.5s', '30s', '10.25m', '1h']) expect(ok).toMatch(pattern);
  for (const bad of ['0s', '0.0m', '00ms', '30', '1.s', '5 m']) expect(bad).not.toMatch(pattern);
});

test('each plugin listens on a port of its own (netdevice shares the host network)', () => {
  const ports = PLUGINS.map((plugin) => podSpec(defaults, plugin).containers[0].ports![0].containerPort);
  expect(new Set(ports).size).toBe(PLUGINS.length);
});

test('each plugin mounts only the host paths it reads', () => {
  const dp = { '/var/lib/kubelet/device-plugins': '/var/lib/kubelet/device-plugins' };
  expect(mounts(podSpec(defaults, 'tdx'))).toEqual({
    ...dp,
    '/dev (ro)': '/dev',
    '/run/ccnp': '/run/ccnp',
  });
  expect(mounts(podSpec(defaults, 'kvm'))).toEqual({
    ...dp,
    '/dev (ro)': '/dev',
    '/var/run/cdi': '/var/run/cdi',
  });
  // devnode writes no CDI spec (docs/plugins/devnode.md), so no CDI dir.
  expect(mounts(podSpec(defaults, 'devnode'))).toEqual({
    ...dp,
    '/dev (ro)': '/dev',
    '/etc/kube-device-plugins (ro)': 'configMap:kube-device-plugins-devnode',
  });
  expect(mounts(podSpec(defaults, 'cxi'))).toEqual({
    ...dp,
    '/dev (ro)': '/dev',
    '/opt/cray/lib64 (ro)': '/opt/cray/lib64',
    '/usr/lib64 (ro)': '/usr/lib64',
  });
  expect(mounts(podSpec(defaults, 'netdevice'))).toEqual({
    ...dp,
    '/var/run/cdi': '/var/run/cdi',
    '/var/lib/kubelet/pod-resources (ro)': '/var/lib/kubelet/pod-resources',
    '/opt/cdi/bin (ro)': '/opt/cdi/bin',
  });
  expect(mounts(podSpec(defaults, 'cex'))).toEqual({
    ...dp,
    '/sys': '/sys',
    '/dev': '/dev',
    '/var/tmp/shadowsysfs': '/var/tmp/shadowsysfs',
    '/var/lib/kubelet/pod-resources (ro)': '/var/lib/kubelet/pod-resources',
    '/config (ro)': 'configMap:kube-device-plugins-cex-resources-config',
  });
});

test.each(Object.keys(VALUE_SETS))('no DaemonSet mounts the host root: %s', (set) => {
  for (const daemonSet of synthObjects(VALUE_SETS[set]).filter((o) => o.kind === 'DaemonSet')) {
    const spec = (daemonSet.spec as { template: { spec: PodSpec } }).template.spec;
    for (const volume of spec.volumes) expect(volume.hostPath?.path).not.toBe('/');
  }
});

test('TDX refuses a top-level socket dir, whose parent (mounted read-write) is the host root', () => {
  expect(() => new TdxPlugin(new Chart(new App(), 'mine'), 'tdx', { udsDir: '/ccnp' })).toThrow(
    /two levels deep/,
  );
  const spec = podSpec(synthObjects({ tdx: { udsDir: '/run/ccnp-sockets/uds' } }), 'tdx');
  expect(mounts(spec)['/run/ccnp-sockets']).toBe('/run/ccnp-sockets');
});

test('optional features bring their host paths and init containers only when on', () => {
  const custom = synthObjects(VALUE_SETS['everything-customised']);
  expect(mounts(podSpec(custom, 'tdx'))['/sys/kernel/config (ro)']).toBe('/sys/kernel/config');
  expect(mounts(podSpec(custom, 'kvm'))['/var/run/cdi']).toBeUndefined();
  expect(podSpec(defaults, 'cxi').initContainers).toBeUndefined();
  const generator = podSpec(custom, 'cxi').initContainers![0];
  expect(generator.command).toEqual(['node', ...NODE_RUNTIME_FLAGS, '/app/bin/cxi-cdi-generator.js']);
  expect(generator.args).toEqual(['--cdi-dir', '/var/run/cdi']);
  expect(mounts(podSpec(custom, 'cxi'), generator)['/var/run/cdi']).toBe('/var/run/cdi');
  expect(mounts(podSpec(custom, 'cxi'))['/var/run/cdi (ro)']).toBe('/var/run/cdi');
  expect(mounts(podSpec(custom, 'cxi'), generator)['/opt/cray/libfabric/lib64 (ro)']).toBe(
    '/opt/cray/libfabric/lib64',
  );
});

test('plugin flags come from the values', () => {
  expect(podSpec(defaults, 'tdx').containers[0].args).toEqual([
    '--http-addr=:8081',
    '--log-level=info',
    '--log-format=json',
    '--resource-name=tdx.intel.com/tdx-guest',
    '--shared-count=110',
    '--uds-dir=/run/ccnp/uds',
    '--uds-resource-name=',
    '--tsm-report=false',
  ]);
  const custom = synthObjects(VALUE_SETS['everything-customised']);
  expect(podSpec(custom, 'cxi').containers[0].args).toEqual(
    expect.arrayContaining([
      '--cdi=true',
      '--virtual-devices=4',
      '--rescan-interval=90s',
      '--log-format=text',
    ]),
  );
  expect(podSpec(custom, 'netdevice').containers[0].args).toEqual(
    expect.arrayContaining([
      '--interfaces=^eth[1-9]$',
      '--cdi-mode=hooks',
      '--hook-dir=/usr/local/libexec/cdi',
    ]),
  );
  expect(podSpec(custom, 'kvm').containers[0].image).toBe('registry.example.com/kdp:v9.9.9-rc.1');
});

test('netdevice sees the host network and installs its hook with an init container', () => {
  const spec = podSpec(defaults, 'netdevice');
  expect(spec.hostNetwork).toBe(true);
  expect(spec.dnsPolicy).toBe('ClusterFirstWithHostNet');
  const [install] = spec.initContainers!;
  expect(install.command.slice(0, 2)).toEqual(['/bin/sh', '-c']);
  expect(install.command[2]).toContain('install -m 0755 /app/plugins/netdevice/hooks/netdevice-hook.sh');
  expect(install.env).toEqual([{ name: 'HOOK_DIR', value: '/opt/cdi/bin' }]);
  expect(mounts(spec, install)).toEqual({ '/opt/cdi/bin': '/opt/cdi/bin' });
  expect(install.securityContext.capabilities).toEqual({ drop: ['ALL'] });
});

test('CEX gets its node name, its env and its ConfigMap generated from the typed sets', () => {
  const custom = synthObjects(VALUE_SETS['everything-customised']);
  const env = podSpec(custom, 'cex').containers[0].env!;
  expect(env).toContainEqual({ name: 'NODENAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } });
  expect(env).toContainEqual({ name: 'CCS_JSON_FILE', value: '/config/cex_resources.json' });
  expect(env).toContainEqual({ name: 'APQN_CHECK_INTERVAL', value: '60' });
  expect(env).toContainEqual({ name: 'APQN_LIVE_SYSFS', value: '0' });
  const config = find(custom, 'ConfigMap', 'kube-device-plugins-cex-resources-config').data as Record<
    string,
    string
  >;
  const sets = JSON.parse(config['cex_resources.json']).cryptoconfigsets;
  expect(sets.map((s: { setname: string; project: string }) => [s.setname, s.project])).toEqual([
    ['ep11-set', 'finance'],
    ['accel', 'ml'],
    ['ep11-other-machine', 'finance'],
  ]);
  expect(sets[0].apqns[0]).toEqual({ adapter: 3, domain: 17, machineid: 'IBM-3931-00000000000ABCDE' });
});

test('NFD rules label the nodes the DaemonSets select, in namespaces NFD accepts by default', () => {
  const rules = defaults.filter((o) => o.kind === 'NodeFeatureRule');
  expect(rules.map((r) => r.metadata.name).sort()).toEqual(
    ['cex', 'cxi', 'kvm', 'tdx'].map((p) => `kube-device-plugins-${p}`),
  );
  for (const rule of rules) {
    const plugin = rule.metadata.labels!['app.kubernetes.io/component'];
    const [labels] = (rule.spec as { rules: Array<{ labels: Record<string, string> }> }).rules.map(
      (r) => r.labels,
    );
    expect(labels).toEqual(podSpec(defaults, plugin).nodeSelector);
    for (const key of Object.keys(labels))
      expect(key.split('/')[0]).toMatch(/(^|\.)feature\.node\.kubernetes\.io$/);
  }
  // Exactly Intel CCNP's rule (device-plugin/ccnp-device-plugin/deploy/node-feature-rules.yaml).
  expect(find(defaults, 'NodeFeatureRule', 'kube-device-plugins-tdx').spec).toEqual({
    rules: [
      {
        name: 'intel.tdx',
        labels: { 'intel.feature.node.kubernetes.io/tdx-guest': 'enabled' },
        matchFeatures: [{ feature: 'cpu.security', matchExpressions: { 'tdx.protected': { op: 'IsTrue' } } }],
      },
    ],
  });
  const netdevice = find(
    synthObjects(VALUE_SETS['everything-customised']),
    'NodeFeatureRule',
    'kube-device-plugins-netdevice',
  );
  expect(JSON.stringify(netdevice.spec)).toContain('"value":["^eth[1-9]$"]');
});

test('CXI NADs are opt-in (IP ranges are site-specific); the upstream example gives hsn0..3, ipvlan l2, 10.150.10.1/28 …', () => {
  expect(defaults.filter((o) => /^(NetworkAttachmentDefinition|MutatingAdmission)/.test(o.kind))).toEqual([]);
  const nads = synthObjects({ cxi: { nics: EXAMPLE_CXI_NICS } }).filter(
    (o) => o.kind === 'NetworkAttachmentDefinition',
  );
  expect(nads.map((n) => [n.metadata.name, JSON.parse((n.spec as { config: string }).config)])).toEqual(
    [0, 1, 2, 3].map((i) => [
      `kube-device-plugins-hsn${i}-ipvlan`,
      {
        cniVersion: '0.3.1',
        type: 'ipvlan',
        master: `hsn${i}`,
        mode: 'l2',
        ipam: { type: 'whereabouts', range: `10.150.${10 + i}.1/28` },
      },
    ]),
  );
});

test('skips what the cluster cannot serve', () => {
  const bare = synthObjects(
    { tests: { enabled: false } },
    {
      nodeFeatureRule: '',
      networkAttachmentDefinition: '',
      mutatingAdmissionPolicy: '',
      podMonitor: '',
      dynamicResourceAllocation: '',
    },
  );
  expect([...new Set(bare.map((o) => o.kind))].sort()).toEqual([
    'ConfigMap',
    'DaemonSet',
    'ValidatingAdmissionPolicy',
    'ValidatingAdmissionPolicyBinding',
  ]);
});

describe('as a library', () => {
  test('a plugin construct alone, with defaults', () => {
    const chart = new Chart(new App(), 'mine');
    new CxiPlugin(chart, 'cxi', { namespace: 'hpc', virtualDevices: 3 });
    const [daemonSet] = chart.toJson() as K8sObject[];
    expect(daemonSet.metadata).toMatchObject({ name: 'kube-device-plugins-cxi', namespace: 'hpc' });
    expect(JSON.stringify(daemonSet)).toContain('--virtual-devices=3');
    expect(JSON.stringify(daemonSet)).toContain('--resource-name=beta.hpe.com/cxi');
  });

  test('the example app composes its own chart', () => {
    const objects = new HpcDevicesChart(new App(), 'hpc').toJson() as K8sObject[];
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual([
      'DaemonSet/kube-device-plugins-cxi',
      'DaemonSet/kube-device-plugins-tdx',
      'MutatingAdmissionPolicy/kube-device-plugins-cxi-networks',
      'MutatingAdmissionPolicyBinding/kube-device-plugins-cxi-networks',
      'NetworkAttachmentDefinition/kube-device-plugins-hsn0-ipvlan',
      'NetworkAttachmentDefinition/kube-device-plugins-hsn1-ipvlan',
      'NodeFeatureRule/hpc-cxi',
      'NodeFeatureRule/hpc-tdx',
    ]);
  });

  test('the cdk8s app merges values files over the defaults as helm -f does', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kdp-values-'));
    const file = path.join(dir, 'values.yaml');
    fs.writeFileSync(file, 'cxi:\n  cdi: true\n  nics: []\ntdx:\n  nodeSelector:\n    extra: "yes"\n');
    const merged = valuesFromFiles([file]);
    fs.rmSync(dir, { recursive: true, force: true });
    expect(merged).toEqual(
      mergeValues(defaultValues(), { cxi: { cdi: true, nics: [] }, tdx: { nodeSelector: { extra: 'yes' } } }),
    );
    expect(merged.tdx.nodeSelector).toEqual({
      'intel.feature.node.kubernetes.io/tdx-guest': 'enabled',
      extra: 'yes',
    });
  });
});
