/** Synthesizes the bundle in memory, and the value sets the tests run it (and Helm) with. */
import { App } from 'cdk8s';
import { KubeDevicePluginsChart } from '../../../synth/chart';
import { ClusterApis, DEFAULT_CLUSTER_APIS } from '../../../synth/cluster-apis';
import { ChartValues, defaultValues, mergeValues } from '../../../synth/values';
import { K8sObject, TEST_RELEASE } from './helm';

/**
 * The objects `cdk8s synth` makes from these value overrides (merged over the defaults as Helm does), for the
 * release `helmTemplate` renders by default (named as the chart, so names are `kube-device-plugins-<component>`).
 */
export function synthObjects(
  overrides: unknown = {},
  apis: ClusterApis = DEFAULT_CLUSTER_APIS,
  releaseName = TEST_RELEASE,
): K8sObject[] {
  const values = mergeValues(defaultValues(), overrides) as ChartValues;
  const chart = new KubeDevicePluginsChart(new App(), 'kube-device-plugins', {
    values,
    apis,
    releaseName,
    managedBy: 'Helm',
  });
  return chart.toJson() as K8sObject[];
}

export function find(objects: K8sObject[], kind: string, name: string): K8sObject {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (!found)
    throw new Error(
      `no ${kind} ${name} among ${objects.map((o) => `${o.kind}/${o.metadata.name}`).join(', ')}`,
    );
  return found;
}

/**
 * CEX config sets the plugin refuses (plugins/cex/config.ts) although each set alone fits the schema: the chart
 * and the constructs must refuse them too.
 */
export const CEX_SETS_THE_PLUGIN_REFUSES: Record<string, unknown[]> = {
  'a set name twice': [
    { setname: 'ep11', project: 'finance', apqns: [] },
    { setname: 'ep11', project: 'ml', apqns: [{ adapter: 1, domain: 2 }] },
  ],
  'an APQN in two sets (an empty machineid matches any machine)': [
    {
      setname: 'a',
      project: 'finance',
      apqns: [{ adapter: 3, domain: 17, machineid: 'IBM-3931-0000000000000001' }],
    },
    {
      setname: 'b',
      project: 'ml',
      apqns: [
        { adapter: 4, domain: 1 },
        { adapter: 3, domain: 17 },
      ],
    },
  ],
  'an APQN twice in one set': [
    {
      setname: 'a',
      project: 'finance',
      apqns: [
        { adapter: 3, domain: 17 },
        { adapter: 3, domain: 17 },
      ],
    },
  ],
};

/** Value overrides the tests render with both cdk8s and Helm; each exercises different template paths. */
export const VALUE_SETS: Record<string, unknown> = {
  defaults: {},
  'everything-customised': {
    image: { repository: 'registry.example.com/kdp', tag: 'v9.9.9-rc.1', pullPolicy: 'Always' },
    logLevel: 'debug',
    logFormat: 'text',
    podMonitor: { enabled: true, interval: '15s', labels: { release: 'prometheus' } },
    tdx: {
      sharedCount: 10000,
      udsResourceName: 'tdx.intel.com/ccnp-uds',
      tsmReport: true,
      udsDir: '/run/ccnp/sockets',
      tolerations: [{ key: 'confidential', operator: 'Equal', value: 'tdx', effect: 'NoSchedule' }],
    },
    kvm: { resourceName: 'devices.kubevirt.io/kvm', cdi: false, resources: { limits: { memory: '256Mi' } } },
    devnode: {
      config: {
        resources: [
          { name: 'example.com/crand', glob: 'crand*', permissions: 'rw', shareCount: 4 },
          { name: 'example.com/fpga', glob: 'fpga[0-9]', containerPath: '/dev/fpga-<n>' },
        ],
      },
      nodeSelector: { 'node-role.example.com/fpga': 'true' },
    },
    cxi: {
      cdi: true,
      virtualDevices: 4,
      rescanInterval: '90s',
      ofiRoot: '/opt/cray/libfabric/lib64',
      nics: [
        { master: 'hsn0', mode: 'l3', range: '10.0.0.0/24' },
        { master: 'hsn7', mode: 'l2', range: 'fd00:10::/64' },
      ],
    },
    netdevice: {
      interfaces: '^eth[1-9]$',
      cdiMode: 'hooks',
      hookDir: '/usr/local/libexec/cdi',
      nfdRule: true,
    },
    cex: {
      apqnCheckInterval: 60,
      apqnLiveSysfs: 0,
      configSets: [
        {
          setname: 'ep11-set',
          project: 'finance',
          cexmode: 'ep11',
          mincexgen: 'cex7',
          overcommit: 2,
          apqns: [
            { adapter: 3, domain: 17, machineid: 'IBM-3931-00000000000ABCDE' },
            { adapter: 4, domain: 17 },
          ],
        },
        {
          setname: 'accel',
          project: 'ml',
          cexmode: 'accel',
          livesysfs: 1,
          apqns: [{ adapter: 1, domain: 2 }],
        },
        {
          // The same adapter and domain as ep11-set's first APQN, on another machine: allowed.
          setname: 'ep11-other-machine',
          project: 'finance',
          apqns: [{ adapter: 3, domain: 17, machineid: 'IBM-3931-00000000000FFFFF' }],
        },
      ],
    },
  },
  'helm-conventions': {
    fullnameOverride: 'devices',
    image: { tag: '', digest: `sha256:${'ab'.repeat(32)}` },
    imagePullSecrets: [{ name: 'regcred' }],
    kubeletRootDir: '/var/snap/microk8s/common/var/lib/kubelet',
    podAnnotations: { 'example.com/team': 'platform', 'example.com/both': 'global' },
    podLabels: { tier: 'node-agent' },
    affinity: {
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: [
            { matchExpressions: [{ key: 'example.com/pool', operator: 'In', values: ['hpc'] }] },
          ],
        },
      },
    },
    tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'hpc', effect: 'NoSchedule' }],
    priorityClassName: '',
    updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '25%' } },
    cxi: {
      nics: [{ master: 'hsn0', mode: 'l2', range: '10.0.0.0/24' }],
      podAnnotations: { 'example.com/both': 'cxi' },
      podLabels: { 'app.kubernetes.io/name': 'not-the-selector', cxi: 'yes' },
      affinity: { podAntiAffinity: {} },
      priorityClassName: 'hpc-critical',
      updateStrategy: { type: 'OnDelete' },
    },
  },
  'tdx-only': {
    nfd: { enabled: false },
    policies: { enabled: false },
    kvm: { enabled: false },
    devnode: { enabled: false },
    cxi: { enabled: false },
    netdevice: { enabled: false },
    cex: { enabled: false },
  },
  'cxi-without-networks': {
    cxi: { nics: [] },
    cex: { configSets: [{ setname: 's1', project: 'p1', apqns: [] }] },
    // Empty maps and lists (null removes a default key, as with helm --set x=null).
    kvm: { tolerations: [], nodeSelector: { 'kube-device-plugins.feature.node.kubernetes.io/kvm': null } },
    podMonitor: { enabled: true },
    tdx: { nodeSelector: { 'intel.feature.node.kubernetes.io/tdx-guest': null } },
  },
};
