/**
 * The rendered chart under real Helm 3 and Helm 4: lint, equality with `cdk8s synth`, values overrides,
 * capability gating, schema rejection and NOTES.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ClusterApis, DEFAULT_CLUSTER_APIS, helmApiVersionFlags } from '../../synth/cluster-apis';
import { resourceNameErrors } from '../../plugins/framework/names';
import { EXAMPLE_CXI_NICS } from '../../synth/multus';
import { writeChart } from '../../synth/render';
import { Helm, K8sObject, KUBE_VERSION_FLAGS, helmTemplate, helms, objectKey, runHelm } from './helpers/helm';
import { CEX_SETS_THE_PLUGIN_REFUSES, VALUE_SETS, synthObjects } from './helpers/synth';

const chartDir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'kdp-chart-')), 'kube-device-plugins');
beforeAll(() => writeChart(chartDir));
afterAll(() => fs.rmSync(path.dirname(chartDir), { recursive: true, force: true }));

/** `--api-versions` flags for every optional API, as the cdk8s app assumes by default. */
const ALL_APIS = helmApiVersionFlags(DEFAULT_CLUSTER_APIS).filter((flag) => flag !== '--api-versions');

/** NADs are opt-in: the tests that want them give the upstream example NICs. */
const WITH_NICS = { cxi: { nics: EXAMPLE_CXI_NICS } };

const NO_APIS: ClusterApis = {
  nodeFeatureRule: '',
  networkAttachmentDefinition: '',
  mutatingAdmissionPolicy: '',
  podMonitor: '',
  dynamicResourceAllocation: '',
};

/** Every value that is a resource name, set to `name`. */
const RESOURCE_NAME_VALUES: Record<string, (name: string) => unknown> = {
  'tdx.resourceName': (name) => ({ tdx: { resourceName: name } }),
  'tdx.udsResourceName': (name) => ({ tdx: { udsResourceName: name } }),
  'kvm.resourceName': (name) => ({ kvm: { resourceName: name } }),
  'devnode.config.resources[].name': (name) => ({
    devnode: { config: { resources: [{ name, glob: 'crand*' }] } },
  }),
  'cxi.resourceName': (name) => ({ cxi: { resourceName: name } }),
  'netdevice.resourceName': (name) => ({ netdevice: { resourceName: name } }),
};

function byKey(objects: K8sObject[]): Record<string, K8sObject> {
  const map: Record<string, K8sObject> = {};
  for (const object of objects) {
    const key = objectKey(object);
    if (key in map) throw new Error(`duplicate object ${key}`);
    map[key] = object;
  }
  return map;
}

/**
 * NOTES.txt as Helm renders it. `helm template` leaves NOTES out (and Helm 3's dry-run install needs a cluster),
 * so a copy of the chart gets a probe template that includes NOTES.txt by its template name.
 */
function renderNotes(helm: Helm, values: unknown, apiVersions: string[] = []): string {
  const probeChart = path.join(path.dirname(chartDir), 'notes-probe', 'kube-device-plugins');
  if (!fs.existsSync(probeChart)) {
    fs.cpSync(chartDir, probeChart, { recursive: true });
    fs.writeFileSync(
      path.join(probeChart, 'templates', 'notes-probe.yaml'),
      'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes-probe\ndata:\n' +
        '  notes: {{ include "kube-device-plugins/templates/NOTES.txt" . | toJson }}\n',
    );
  }
  const rendered = helmTemplate(helm, probeChart, {
    values,
    apiVersions,
    extraArgs: ['--show-only', 'templates/notes-probe.yaml'],
  });
  expect(rendered.stderr).toBe('');
  return (rendered.objects[0] as unknown as { data: { notes: string } }).data.notes;
}

function kinds(objects: K8sObject[]): string[] {
  return [...new Set(objects.map((o) => o.kind))].sort();
}

describe.each(helms().map((helm) => [`Helm ${helm.major}`, helm] as [string, Helm]))('%s', (_name, helm) => {
  test('lints clean with --strict, with default and customised values', () => {
    const lint = runHelm(helm, ['lint', '--strict', chartDir, ...KUBE_VERSION_FLAGS]);
    expect(lint.stderr).toBe('');
    expect(lint.status).toBe(0);
    const valuesFile = path.join(path.dirname(chartDir), 'custom.yaml');
    fs.writeFileSync(valuesFile, JSON.stringify(VALUE_SETS['everything-customised']));
    expect(
      runHelm(helm, ['lint', '--strict', chartDir, '--values', valuesFile, ...KUBE_VERSION_FLAGS]).status,
    ).toBe(0);
  });

  test('Chart.yaml kubeVersion refuses clusters older than 1.34', () => {
    const old = runHelm(helm, ['template', 'x', chartDir, '--kube-version', '1.33.5']);
    expect(old.status).not.toBe(0);
    expect(old.stderr).toContain('chart requires kubeVersion: >=1.34.0-0');
    expect(runHelm(helm, ['template', 'x', chartDir, '--kube-version', '1.34.0']).status).toBe(0);
  });

  test.each(Object.keys(VALUE_SETS))('template equals cdk8s synth: %s', (set) => {
    const rendered = helmTemplate(helm, chartDir, { values: VALUE_SETS[set], apiVersions: ALL_APIS });
    expect(rendered.stderr).toBe('');
    expect(byKey(rendered.objects)).toEqual(byKey(synthObjects(VALUE_SETS[set])));
  });

  test('a disabled plugin leaves no object behind', () => {
    const all = helmTemplate(helm, chartDir, { values: WITH_NICS, apiVersions: ALL_APIS }).objects;
    const withoutCxi = helmTemplate(helm, chartDir, {
      values: { cxi: { enabled: false, nics: EXAMPLE_CXI_NICS } },
      apiVersions: ALL_APIS,
    });
    const cxiObjects = all.filter((o) => o.metadata.labels?.['app.kubernetes.io/component'] === 'cxi');
    expect(kinds(cxiObjects)).toEqual([
      'DaemonSet',
      'MutatingAdmissionPolicy',
      'MutatingAdmissionPolicyBinding',
      'NetworkAttachmentDefinition',
      'NodeFeatureRule',
    ]);
    expect(withoutCxi.objects.map(objectKey).sort()).toEqual(
      all
        .filter((o) => !cxiObjects.includes(o))
        .map(objectKey)
        .sort(),
    );
  });

  test('without the optional APIs, their objects are skipped and NOTES says why', () => {
    const bare = helmTemplate(helm, chartDir, {
      values: { ...WITH_NICS, podMonitor: { enabled: true }, tests: { enabled: false } },
    });
    expect(kinds(bare.objects)).toEqual([
      'ConfigMap',
      'DaemonSet',
      'ValidatingAdmissionPolicy',
      'ValidatingAdmissionPolicyBinding',
    ]);
    const notes = renderNotes(helm, { ...WITH_NICS, podMonitor: { enabled: true } });
    expect(notes).toContain('tdx: intel.feature.node.kubernetes.io/tdx-guest=enabled');
    for (const skipped of [
      'NodeFeatureRules skipped',
      'NetworkAttachmentDefinitions skipped',
      'MutatingAdmissionPolicy skipped',
      'PodMonitor skipped',
    ]) {
      expect(notes).toContain(skipped);
    }
    expect(renderNotes(helm, { podMonitor: { enabled: true } }, ALL_APIS)).not.toContain('skipped');
  });

  test('NOTES says which netdevice mode is set (hooks by default) and how to switch', () => {
    const daemonSet = helmTemplate(helm, chartDir, {}).objects.find(
      (o) => o.kind === 'DaemonSet' && o.metadata.name.includes('netdevice'),
    ) as unknown as { spec: { template: { spec: { containers: { args: string[] }[] } } } };
    expect(daemonSet.spec.template.spec.containers[0].args).toContain('--cdi-mode=hooks');
    const notes = renderNotes(helm, {});
    expect(notes).toContain('netdevice moves interfaces into pods with cdiMode=hooks.');
    expect(notes).toContain('--set netdevice.cdiMode=netdevices');
    expect(renderNotes(helm, { netdevice: { cdiMode: 'netdevices' } })).toContain('with cdiMode=netdevices.');
    expect(renderNotes(helm, { netdevice: { enabled: false } })).not.toContain('cdiMode');
  });

  test('each optional API is detected from its own --api-versions entry', () => {
    const only = (flag: string) =>
      kinds(helmTemplate(helm, chartDir, { values: WITH_NICS, apiVersions: [flag] }).objects);
    expect(only('nfd.k8s-sigs.io/v1alpha1')).toContain('NodeFeatureRule'); // a bare group/version suffices for CRDs
    expect(only('k8s.cni.cncf.io/v1/NetworkAttachmentDefinition')).toContain('NetworkAttachmentDefinition');
    // admissionregistration.k8s.io/v1beta1 is in Helm's built-in list: only the Kind entry counts.
    expect(only('admissionregistration.k8s.io/v1beta1')).not.toContain('MutatingAdmissionPolicy');
    for (const version of ['v1', 'v1beta1', 'v1alpha1']) {
      const objects = helmTemplate(helm, chartDir, {
        values: WITH_NICS,
        apiVersions: [`admissionregistration.k8s.io/${version}/MutatingAdmissionPolicy`],
      }).objects.filter((o) => o.kind.startsWith('MutatingAdmissionPolicy'));
      expect(objects.map((o) => o.apiVersion)).toEqual([
        `admissionregistration.k8s.io/${version}`,
        `admissionregistration.k8s.io/${version}`,
      ]);
    }
  });

  test.each([
    [{ tdx: { sharedCount: 'many' } }, 'sharedCount'],
    [{ tdx: { sharedCount: 0 } }, 'sharedCount'],
    [{ kvm: { enabledd: true } }, 'enabledd'],
    [{ cxi: { nics: [{ master: 'hsn0', mode: 'l4', range: '10.0.0.0/24' }] } }, 'mode'],
    [{ cxi: { rescanInterval: '30 seconds' } }, 'rescanInterval'],
    [{ cxi: { healthInterval: '0s' } }, 'healthInterval'],
    [{ cxi: { virtualDevices: 1001 } }, 'virtualDevices'],
    [{ podMonitor: { interval: '1.5s' } }, 'interval'],
    [{ cex: { configSets: [{ setname: 'bad name', project: 'p', apqns: [] }] } }, 'setname'],
    [
      { cex: { configSets: [{ setname: 's', project: 'p', apqns: [{ adapter: 256, domain: 0 }] }] } },
      'adapter',
    ],
    [{ image: { pullPolicy: 'Sometimes' } }, 'pullPolicy'],
    // The API server refuses a value with operator Exists.
    [{ kvm: { tolerations: [{ key: 'gpu', operator: 'Exists', value: 'a100' }] } }, 'tolerations'],
    // Its parent is mounted read-write: the host's root.
    [{ tdx: { udsDir: '/ccnp' } }, 'udsDir'],
    [{ netdevice: { interfaces: '^(eth|ens' } }, 'interfaces'],
    [{ devnode: { config: { resources: [{ name: 'a.b/c', glob: '/dev/c*' }] } } }, 'glob'],
    [
      { devnode: { config: { resources: [{ name: 'a.b/c', glob: 'c', containerPath: '/x/../y' }] } } },
      'containerPath',
    ],
  ])('rejects bad values %j, naming %s', (values, field) => {
    const result = helmTemplate(helm, chartDir, { values });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain("values don't meet the specifications of the schema");
    expect(result.stderr).toContain(field);
  });

  test.each([
    { case: 'kubernetes.io/gpu', name: 'kubernetes.io/gpu', accepted: false },
    { case: 'example.kubernetes.io/gpu', name: 'example.kubernetes.io/gpu', accepted: false },
    { case: 'requests.example.com/gpu', name: 'requests.example.com/gpu', accepted: false },
    { case: 'a 64-character name part', name: `example.com/${'g'.repeat(64)}`, accepted: false },
    {
      case: 'a 245-character prefix (requests.<prefix> over 253)',
      name: `${'a'.repeat(245)}/gpu`,
      accepted: false,
    },
    { case: 'example.com/gpu', name: 'example.com/gpu', accepted: true },
    { case: 'example.com/kubernetes.io', name: 'example.com/kubernetes.io', accepted: true },
    { case: 'a 63-character name part', name: `example.com/${'g'.repeat(63)}`, accepted: true },
  ])(
    'every resource name value and the plugins agree on $case (accepted: $accepted)',
    ({ name, accepted }) => {
      expect(resourceNameErrors(name).length === 0).toBe(accepted);
      for (const [field, values] of Object.entries(RESOURCE_NAME_VALUES)) {
        const result = helmTemplate(helm, chartDir, { values: values(name) });
        expect([field, result.status === 0]).toEqual([field, accepted]);
        if (!accepted) {
          expect(result.stderr).toContain("values don't meet the specifications of the schema");
          expect(result.stderr).toContain(field.split('.').pop()!.replace('[]', ''));
        }
      }
    },
  );

  test('accepts tolerations the API server accepts: Exists without a value, Equal with one', () => {
    const tolerations = [
      { operator: 'Exists' },
      { key: 'gpu', operator: 'Exists', value: '', effect: 'NoSchedule' },
      { key: 'gpu', operator: 'Equal', value: 'a100' },
      { key: 'gpu', value: 'a100' },
    ];
    const result = helmTemplate(helm, chartDir, { values: { kvm: { tolerations } } });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  test('refuses a devnode resource name twice, with the message cdk8s gives', () => {
    const resource = { name: 'example.com/crand', glob: 'crand*' };
    const values = { devnode: { config: { resources: [resource, { ...resource, glob: 'rand*' }] } } };
    const message =
      'devnode.config.resources: resource "example.com/crand" appears more than once; resource names must be unique';
    expect(() => synthObjects(values)).toThrow(message);
    const result = helmTemplate(helm, chartDir, { values });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain(message);
  });

  test.each([
    ['NADs and the networks policy', DEFAULT_CLUSTER_APIS],
    [
      'NADs only',
      { ...NO_APIS, networkAttachmentDefinition: DEFAULT_CLUSTER_APIS.networkAttachmentDefinition },
    ],
    [
      'the networks policy only',
      { ...NO_APIS, mutatingAdmissionPolicy: DEFAULT_CLUSTER_APIS.mutatingAdmissionPolicy },
    ],
  ] as Array<[string, ClusterApis]>)(
    'refuses a CXI NIC master twice (two NADs of one name), with the message cdk8s gives: %s',
    (_apis, apis) => {
      const nics = [
        { master: 'hsn0', mode: 'l2', range: '10.0.0.0/24' },
        { master: 'hsn1', mode: 'l2', range: '10.0.1.0/24' },
        { master: 'hsn0', mode: 'l3', range: '10.0.2.0/24' },
      ];
      const values = { cxi: { nics } };
      const message =
        'cxi.nics: master "hsn0" appears more than once; masters must be unique (each NIC gets one NetworkAttachmentDefinition, <release>-<master>-ipvlan)';
      expect(() => synthObjects(values, apis)).toThrow(message);
      const apiVersions = helmApiVersionFlags(apis).filter((flag) => flag !== '--api-versions');
      const result = helmTemplate(helm, chartDir, { values, apiVersions });
      expect(result.status).not.toBe(0);
      expect(result.stderr).toContain(message);
      // Unique masters render.
      const unique = { cxi: { nics: nics.slice(0, 2) } };
      expect(helmTemplate(helm, chartDir, { values: unique, apiVersions }).status).toBe(0);
      expect(() => synthObjects(unique, apis)).not.toThrow();
    },
  );

  test.each(Object.keys(CEX_SETS_THE_PLUGIN_REFUSES))(
    'refuses CEX config sets the plugin would refuse, with the message cdk8s gives: %s',
    (name) => {
      const values = { cex: { configSets: CEX_SETS_THE_PLUGIN_REFUSES[name] } };
      expect(() => synthObjects(values)).toThrow(/^cex\.configSets: /);
      let message = '';
      try {
        synthObjects(values);
      } catch (err) {
        message = (err as Error).message;
      }
      for (const policies of [true, false]) {
        const result = helmTemplate(helm, chartDir, {
          values: { ...values, policies: { enabled: policies } },
        });
        expect(result.status).not.toBe(0);
        expect(result.stderr).toContain(message);
      }
    },
  );
});
