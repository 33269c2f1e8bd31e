/**
 * `npm run e2e:apiserver`: the chart against a real kube-apiserver (and etcd), built from the Go module proxy,
 * with real Helm 3 and Helm 4. Runs on the newest Kubernetes and on the oldest the chart claims (1.34), with
 * MutatingAdmissionPolicy served there and without. Prints a table (scenario, result, seconds); exits 1 when a
 * scenario failed.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as yaml from 'js-yaml';
import { TestSettings, runChecks } from '../../../chart-test/checks';
import { ApiConfig, apiRequest } from '../../../chart-test/kube-api';
import { writeChart } from '../../../synth/render';
import { EXAMPLE_CXI_NICS } from '../../../synth/multus';
import { Helm, helms, runHelm } from '../../synth/helpers/helm';
import { Cluster, buildBinary } from './cluster';
import { draScenarios, draWithoutApiScenarios } from './dra';
import { report, rows, scenario } from '../scenario-table';

const UPSTREAM = path.resolve(__dirname, '..', '..', '..', '..', '..', 'shared', 'upstream');
const NETWORKS = 'k8s.v1.cni.cncf.io/networks';

function check(condition: boolean, message: string): void {
  if (!condition) throw new Error(message);
}

// ------------------------------------------------------------------------------------------------ fixtures

/** CEX sets: ep11-set belongs to namespace finance, accel to ml. */
const CEX_SETS = [
  { setname: 'ep11-set', project: 'finance', apqns: [{ adapter: 3, domain: 17 }] },
  { setname: 'accel', project: 'ml', apqns: [{ adapter: 1, domain: 2 }] },
];
/** Every optional object on. */
const EVERYTHING = {
  cxi: { nics: EXAMPLE_CXI_NICS },
  podMonitor: { enabled: true },
  cex: { configSets: CEX_SETS },
};

function container(name: string, resource?: string) {
  return {
    name,
    image: 'registry.k8s.io/pause:3.10',
    ...(resource && { resources: { limits: { [resource]: '1' } } }),
  };
}

function pod(
  namespace: string,
  spec: { containers: object[]; initContainers?: object[]; annotations?: object },
) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { generateName: 'e2e-', namespace, ...(spec.annotations && { annotations: spec.annotations }) },
    spec: {
      automountServiceAccountToken: false,
      containers: spec.containers,
      ...(spec.initContainers && { initContainers: spec.initContainers }),
    },
  };
}

/** A server-side dry-run create: the admitted pod, or the refusal's message. */
async function dryRun(cluster: Cluster, body: ReturnType<typeof pod>) {
  const response = await cluster.request(
    'POST',
    `/api/v1/namespaces/${body.metadata.namespace}/pods?dryRun=All`,
    body,
  );
  return {
    status: response.status,
    message: String(response.body.message ?? ''),
    annotations: ((response.body.metadata as { annotations?: Record<string, string> })?.annotations ??
      {}) as Record<string, string>,
  };
}

/**
 * A dry run repeated until `settled` holds (or 10 s pass): a policy just installed takes effect once the
 * API server's policy informer has loaded it, and the first pod right after `helm install` can beat it.
 */
async function dryRunSettled(
  cluster: Cluster,
  body: ReturnType<typeof pod>,
  settled: (r: Awaited<ReturnType<typeof dryRun>>) => boolean,
) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const r = await dryRun(cluster, body);
    if (settled(r) || Date.now() > deadline) return r;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

// ------------------------------------------------------------------------------------------------ helpers

function helm(h: Helm, cluster: Cluster, args: string[]): string {
  const result = runHelm(h, [...args, '--kubeconfig', cluster.kubeconfig]);
  if (result.status !== 0) throw new Error(`helm ${args.slice(0, 3).join(' ')}: ${result.stderr.trim()}`);
  return result.stdout;
}

function valuesFile(values: unknown): string {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'kdp-e2e-values-')), 'values.yaml');
  fs.writeFileSync(file, yaml.dump(values));
  return file;
}

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; annotations?: Record<string, string> };
  spec?: { containers?: Array<{ env?: Array<{ name: string; value?: string }> }> };
}

function manifests(text: string): Manifest[] {
  return (yaml.loadAll(text) as Manifest[]).filter(Boolean);
}

/** The REST path of an object (the kinds the chart makes, plus CRDs). */
function objectUrl(o: Manifest): string {
  const [group, version] = o.apiVersion.includes('/') ? o.apiVersion.split('/') : ['', o.apiVersion];
  const plural =
    {
      NetworkAttachmentDefinition: 'network-attachment-definitions',
      PodMonitor: 'podmonitors',
      NodeFeatureRule: 'nodefeaturerules',
    }[o.kind] ?? o.kind.toLowerCase().replace(/y$/, 'ie') + 's';
  const base = group ? `/apis/${group}/${version}` : `/api/${version}`;
  const ns = o.metadata.namespace ? `/namespaces/${o.metadata.namespace}` : '';
  return `${base}${ns}/${plural}/${o.metadata.name}`;
}

async function existing(cluster: Cluster, objects: Manifest[]): Promise<Manifest[]> {
  const found: Manifest[] = [];
  for (const o of objects) if ((await cluster.request('GET', objectUrl(o))).status === 200) found.push(o);
  return found;
}

const keyOf = (o: Manifest) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;

// ------------------------------------------------------------------------------------------------ set-up

async function applyCrds(cluster: Cluster): Promise<string> {
  const files = [
    'node-feature-discovery/nodefeaturerules.nfd.k8s-sigs.io.yaml',
    'multus/network-attachment-definitions.k8s.cni.cncf.io.yaml',
    'whereabouts/whereabouts.cni.cncf.io_ippools.yaml',
    'whereabouts/whereabouts.cni.cncf.io_overlappingrangeipreservations.yaml',
  ];
  const crds = files.flatMap((file) => manifests(fs.readFileSync(path.join(UPSTREAM, file), 'utf8')));
  crds.push(POD_MONITOR_CRD as unknown as Manifest);
  for (const crd of crds)
    await cluster.create('/apis/apiextensions.k8s.io/v1/customresourcedefinitions', crd);
  // Established: the group/version answers.
  for (const gv of [
    'nfd.k8s-sigs.io/v1alpha1',
    'k8s.cni.cncf.io/v1',
    'whereabouts.cni.cncf.io/v1alpha1',
    'monitoring.coreos.com/v1',
  ]) {
    const deadline = Date.now() + 30_000;
    while ((await cluster.request('GET', `/apis/${gv}`)).status !== 200) {
      if (Date.now() > deadline) throw new Error(`${gv} not served 30 s after its CRD`);
      await new Promise((r) => setTimeout(r, 300));
    }
  }
  return `${crds.length} CRDs (PodMonitor: a minimal one, the Prometheus Operator's is not in ../shared/upstream)`;
}

/** The Prometheus Operator's PodMonitor is not vendored: a minimal CRD of the same group, kind and scope. */
const POD_MONITOR_CRD = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: 'podmonitors.monitoring.coreos.com' },
  spec: {
    group: 'monitoring.coreos.com',
    names: { kind: 'PodMonitor', listKind: 'PodMonitorList', plural: 'podmonitors', singular: 'podmonitor' },
    scope: 'Namespaced',
    versions: [
      {
        name: 'v1',
        served: true,
        storage: true,
        schema: {
          openAPIV3Schema: {
            type: 'object',
            properties: { spec: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
          },
        },
      },
    ],
  },
};

const NAMESPACES = ['ns-one', 'ns-two', 'finance', 'ml', 'hpc', 'warned'];

/** Namespaces admitting privileged pods, each with its default ServiceAccount (no controller-manager here). */
async function makeNamespaces(cluster: Cluster): Promise<string> {
  for (const name of NAMESPACES) {
    await cluster.create('/api/v1/namespaces', {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: {
        name,
        labels: {
          'pod-security.kubernetes.io/enforce': 'privileged',
          ...(name === 'warned' && { 'pod-security.kubernetes.io/warn': 'restricted' }),
        },
      },
    });
    await cluster.create(`/api/v1/namespaces/${name}/serviceaccounts`, {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name: 'default' },
    });
  }
  return NAMESPACES.join(', ');
}

// ------------------------------------------------------------------------------------------------ scenarios

async function admissionScenarios(
  cluster: Cluster,
  label: string,
  networks: string | undefined,
): Promise<void> {
  const cxi = 'beta.hpe.com/cxi';
  if (networks !== undefined) {
    await scenario(`${label}: CXI pod gets the networks annotation`, async () => {
      const r = await dryRunSettled(
        cluster,
        pod('hpc', { containers: [container('main', cxi)] }),
        (res) => res.annotations[NETWORKS] !== undefined,
      );
      check(r.status === 201, `HTTP ${r.status}: ${r.message}`);
      check(
        r.annotations[NETWORKS] === networks,
        `annotation ${r.annotations[NETWORKS]}, expected ${networks}`,
      );
    });
    await scenario(`${label}: CXI pod keeps its own annotations`, async () => {
      const r = await dryRun(
        cluster,
        pod('hpc', {
          containers: [container('main', cxi)],
          annotations: { team: 'hpc', 'example.com/x': 'y' },
        }),
      );
      check(r.status === 201, `HTTP ${r.status}: ${r.message}`);
      check(
        r.annotations.team === 'hpc' && r.annotations['example.com/x'] === 'y',
        JSON.stringify(r.annotations),
      );
      check(r.annotations[NETWORKS] === networks, 'no networks annotation');
    });
    await scenario(`${label}: CXI init container counts`, async () => {
      const r = await dryRun(
        cluster,
        pod('hpc', { containers: [container('main')], initContainers: [container('init', cxi)] }),
      );
      check(r.annotations[NETWORKS] === networks, `annotation ${r.annotations[NETWORKS]}`);
    });
    await scenario(`${label}: a pod naming its own networks is left alone`, async () => {
      const r = await dryRun(
        cluster,
        pod('hpc', { containers: [container('main', cxi)], annotations: { [NETWORKS]: 'mine' } }),
      );
      check(r.status === 201 && r.annotations[NETWORKS] === 'mine', `annotation ${r.annotations[NETWORKS]}`);
    });
  }
  await scenario(`${label}: pods without the resource are untouched`, async () => {
    const r = await dryRun(cluster, pod('hpc', { containers: [container('main', 'example.com/gpu')] }));
    check(r.status === 201, `HTTP ${r.status}: ${r.message}`);
    check(Object.keys(r.annotations).length === 0, JSON.stringify(r.annotations));
  });
  await scenario(`${label}: CEX pod of another project refused, naming the set`, async () => {
    const r = await dryRunSettled(
      cluster,
      pod('ml', { containers: [container('main', 'cex.s390.ibm.com/ep11-set')] }),
      (res) => res.status !== 201,
    );
    check(r.status === 403 || r.status === 422, `HTTP ${r.status}, expected a refusal`);
    check(
      r.message.includes(
        'namespace ml may not use CEX config sets of other projects: cex.s390.ibm.com/ep11-set (project finance)',
      ),
      r.message,
    );
  });
  await scenario(`${label}: CEX pod of its own project admitted`, async () => {
    const r = await dryRun(
      cluster,
      pod('finance', { containers: [container('main', 'cex.s390.ibm.com/ep11-set')] }),
    );
    check(r.status === 201, `HTTP ${r.status}: ${r.message}`);
  });
}

/** The `helm test` checks, run from here with the test ServiceAccount's own token (proves its RBAC). */
async function chartTestScenarios(
  cluster: Cluster,
  label: string,
  h: Helm,
  release: string,
  namespace: string,
) {
  let api: ApiConfig | undefined;
  await scenario(`${label}: helm test checks, with the test's own RBAC`, async () => {
    const hooks = manifests(helm(h, cluster, ['get', 'hooks', release, '-n', namespace]));
    const testPod = hooks.find((o) => o.kind === 'Pod');
    check(testPod !== undefined, 'no test hook pod');
    // The hook pod itself is one the server accepts (helm test would create it as is).
    const accepted = await cluster.request(
      'POST',
      `/api/v1/namespaces/${namespace}/pods?dryRun=All`,
      testPod,
    );
    check(accepted.status === 201, `the test pod: HTTP ${accepted.status} ${String(accepted.body.message)}`);
    const env = Object.fromEntries(
      (testPod!.spec!.containers![0].env ?? []).map((e) => [e.name, e.value ?? '']),
    );
    const account = env.KDP_SERVICE_ACCOUNT;
    const token = await cluster.create(`/api/v1/namespaces/${namespace}/serviceaccounts/${account}/token`, {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      spec: { expirationSeconds: 600 },
    });
    api = { ...cluster.api, token: String((token.body.status as { token: string }).token) };
    const settings = {
      namespace,
      instance: env.KDP_INSTANCE,
      plugins: JSON.parse(env.KDP_PLUGINS) as TestSettings['plugins'],
      cxiNetworks: env.KDP_CXI_NETWORKS || undefined,
      serviceAccount: account,
      image: env.KDP_IMAGE,
      timeoutSeconds: 3,
      pollMs: 500,
    };
    // No kubelet and no DaemonSet controller here: play their part. cxi runs on one node that advertises its
    // NICs; kvm runs on one node but never registered (must fail); every other plugin has no node.
    await cluster.reportDaemonSets(namespace, (component) =>
      component === 'cxi' || component === 'kvm' ? 1 : 0,
    );
    const nodeName = `${release}-node`;
    await cluster.create(
      '/api/v1/nodes',
      { apiVersion: 'v1', kind: 'Node', metadata: { name: nodeName } },
      true,
    );
    const resources = { 'beta.hpe.com/cxi': '4', cpu: '2', memory: '1Gi', pods: '10' };
    const nodeStatus = await cluster.request('PATCH', `/api/v1/nodes/${nodeName}/status`, {
      status: { capacity: resources, allocatable: resources },
    });
    check(
      nodeStatus.status === 200,
      `node status: HTTP ${nodeStatus.status} ${String(nodeStatus.body.message)}`,
    );

    const results = await runChecks(api, settings);
    const outcome = (name: string) => results.find((r) => r.check.startsWith(name))?.outcome;
    const summary = results.map((r) => `${r.check}=${r.outcome}`).join('; ');
    check(outcome('cxi: DaemonSet ready') === 'pass', summary);
    check(outcome('cxi: beta.hpe.com/cxi allocatable') === 'pass', summary);
    check(outcome('kvm: DaemonSet ready') === 'pass', summary);
    check(
      outcome('kvm: github.com.ihcsim/kvm allocatable') === 'fail',
      `a missing resource must fail: ${summary}`,
    );
    check(outcome('tdx: DaemonSet ready') === 'skip', summary);
    const policy = results.find((r) => r.check.startsWith('cxi: networks'))!;
    check(policy.outcome === (settings.cxiNetworks ? 'pass' : 'skip'), `${policy.outcome}: ${policy.detail}`);
    return `${results.length} checks: ${results.filter((r) => r.outcome === 'pass').length} pass, ${results.filter((r) => r.outcome === 'skip').length} skip, kvm's missing resource fails`;
  });
  await scenario(`${label}: the test account may create pods only as a dry run`, async () => {
    check(api !== undefined, 'no token (previous scenario failed)');
    const r = await apiRequest(
      api!,
      'POST',
      `/api/v1/namespaces/${namespace}/pods`,
      pod(namespace, { containers: [container('main')] }),
    );
    check(r.status === 403 || r.status === 422, `HTTP ${r.status}`);
    check(String(r.body.message).includes('may only create pods as a dry run'), String(r.body.message));
  });
}

async function helmScenarios(cluster: Cluster, version: string, h: Helm, chart: string, mapServed: boolean) {
  const label = `${version} helm ${h.major}`;
  const everything = valuesFile(EVERYTHING);
  let installed: Manifest[] = [];

  await scenario(`${label}: install --dry-run=server`, async () => {
    const out = helm(h, cluster, [
      'install',
      'one',
      chart,
      '-n',
      'ns-one',
      '-f',
      everything,
      '--dry-run=server',
    ]);
    const objects = manifests(out.slice(out.indexOf('---'), out.indexOf('\nNOTES:')));
    check(
      objects.some((o) => o.kind === 'DaemonSet'),
      'no DaemonSet in the dry-run output',
    );
    const created = await existing(cluster, objects);
    check(created.length === 0, `dry run created ${created.map(keyOf).join(', ')}`);
    return `${objects.length} objects rendered against the server, none created`;
  });

  await scenario(`${label}: install (every optional object on)`, async () => {
    const out = helm(h, cluster, ['install', 'one', chart, '-n', 'ns-one', '-f', everything]);
    installed = manifests(helm(h, cluster, ['get', 'manifest', 'one', '-n', 'ns-one']));
    const kinds = new Set(installed.map((o) => o.kind));
    for (const kind of [
      'NodeFeatureRule',
      'NetworkAttachmentDefinition',
      'PodMonitor',
      'ValidatingAdmissionPolicy',
    ])
      check(kinds.has(kind), `no ${kind}`);
    check(
      kinds.has('MutatingAdmissionPolicy') === mapServed,
      `MutatingAdmissionPolicy installed: ${kinds.has('MutatingAdmissionPolicy')}`,
    );
    if (!mapServed)
      check(out.includes('MutatingAdmissionPolicy skipped'), 'NOTES do not say the policy was skipped');
    const present = await existing(cluster, installed);
    check(
      present.length === installed.length,
      `missing: ${installed
        .filter((o) => !present.includes(o))
        .map(keyOf)
        .join(', ')}`,
    );
    return `${installed.length} objects, ${kinds.size} kinds`;
  });

  await scenario(`${label}: a second release side by side in another namespace`, async () => {
    helm(h, cluster, ['install', 'two', chart, '-n', 'ns-two', '--set', 'podMonitor.enabled=true']);
    const two = manifests(helm(h, cluster, ['get', 'manifest', 'two', '-n', 'ns-two']));
    const clash = two.map(keyOf).filter((key) => installed.map(keyOf).includes(key));
    check(clash.length === 0, `shared names: ${clash.join(', ')}`);
    const present = await existing(cluster, [...installed, ...two]);
    check(present.length === installed.length + two.length, 'an object of either release is missing');
    return `${two.length} more objects, no name shared`;
  });

  const networks = installed
    .find((o) => o.kind === 'Pod')
    ?.spec?.containers?.[0].env?.find((e) => e.name === 'KDP_CXI_NETWORKS')?.value;
  void networks;
  const hooks = manifests(helm(h, cluster, ['get', 'hooks', 'one', '-n', 'ns-one']));
  const expected = hooks[0]?.spec?.containers?.[0].env?.find((e) => e.name === 'KDP_CXI_NETWORKS')?.value;
  await admissionScenarios(cluster, label, mapServed ? expected : undefined);
  await chartTestScenarios(cluster, label, h, 'one', 'ns-one');

  await scenario(`${label}: upgrade drops what the new values drop`, async () => {
    const fewer = valuesFile({ cxi: { nics: [] }, podMonitor: { enabled: false }, cex: { enabled: false } });
    helm(h, cluster, ['upgrade', 'one', chart, '-n', 'ns-one', '-f', fewer]);
    const now = manifests(helm(h, cluster, ['get', 'manifest', 'one', '-n', 'ns-one']));
    const dropped = installed.filter((o) => !now.map(keyOf).includes(keyOf(o)));
    check(dropped.length > 0, 'nothing dropped');
    const left = await existing(cluster, dropped);
    check(left.length === 0, `still there: ${left.map(keyOf).join(', ')}`);
    check(
      (await existing(cluster, now)).length === now.length,
      'an object of the upgraded release is missing',
    );
    return `${dropped.length} objects gone (${[...new Set(dropped.map((o) => o.kind))].join(', ')})`;
  });

  await scenario(`${label}: with warn=restricted every DaemonSet warns`, async () => {
    const result = runHelm(h, [
      'install',
      'warned',
      chart,
      '-n',
      'warned',
      '--kubeconfig',
      cluster.kubeconfig,
    ]);
    try {
      check(result.status === 0, result.stderr);
      const count = (result.stderr.match(/would violate PodSecurity \\?"restricted:latest/g) ?? []).length;
      const daemonSets = manifests(helm(h, cluster, ['get', 'manifest', 'warned', '-n', 'warned'])).filter(
        (o) => o.kind === 'DaemonSet',
      ).length;
      check(
        count >= daemonSets,
        `${count} PodSecurity warnings for ${daemonSets} DaemonSets:\n${result.stderr}`,
      );
      return `${count} warnings, ${daemonSets} DaemonSets`;
    } finally {
      runHelm(h, ['uninstall', 'warned', '-n', 'warned', '--wait', '--kubeconfig', cluster.kubeconfig]);
    }
  });

  await scenario(`${label}: uninstall leaves nothing`, async () => {
    const one = manifests(helm(h, cluster, ['get', 'manifest', 'one', '-n', 'ns-one']));
    const two = manifests(helm(h, cluster, ['get', 'manifest', 'two', '-n', 'ns-two']));
    helm(h, cluster, ['uninstall', 'one', '-n', 'ns-one', '--wait']);
    helm(h, cluster, ['uninstall', 'two', '-n', 'ns-two', '--wait']);
    const left = await existing(cluster, [...one, ...two]);
    check(left.length === 0, `left behind: ${left.map(keyOf).join(', ')}`);
    return `${one.length + two.length} objects removed`;
  });
}

async function vapTypeCheck(cluster: Cluster, h: Helm, chart: string, label: string) {
  await scenario(
    `${label}: the server's type check of the ValidatingAdmissionPolicies has no warnings`,
    async () => {
      helm(h, cluster, ['install', 'typecheck', chart, '-n', 'ns-one', '-f', valuesFile(EVERYTHING)]);
      try {
        const policies = manifests(helm(h, cluster, ['get', 'manifest', 'typecheck', '-n', 'ns-one'])).filter(
          (o) => o.kind === 'ValidatingAdmissionPolicy',
        );
        const deadline = Date.now() + 60_000;
        for (const policy of policies)
          await cluster.expectTypeChecked(objectUrl(policy), policy.metadata.name, deadline);
        return `${policies.length} policies type-checked`;
      } finally {
        helm(h, cluster, ['uninstall', 'typecheck', '-n', 'ns-one', '--wait']);
      }
    },
  );
}

/** On a kube-apiserver with --allow-privileged=false: what a failed install leaves, with and without rollback. */
async function unprivilegedScenarios(cluster: Cluster, version: string, h: Helm, chart: string) {
  const label = `${version} helm ${h.major}`;
  const rendered = () =>
    manifests(runHelm(h, ['template', 'one', chart, '-n', 'ns-one', '--kube-version', '1.37.2']).stdout);
  await scenario(`${label}: install --dry-run=server does not show the refusal`, async () => {
    helm(h, cluster, ['install', 'one', chart, '-n', 'ns-one', '--dry-run=server']);
  });
  await scenario(
    `${label}: install is refused for the privileged CEX DaemonSet and leaves objects behind`,
    async () => {
      const result = runHelm(h, [
        'install',
        'one',
        chart,
        '-n',
        'ns-one',
        '--kubeconfig',
        cluster.kubeconfig,
      ]);
      check(result.status !== 0, 'install succeeded');
      check(/privileged/.test(result.stderr), result.stderr);
      const left = await existing(cluster, rendered());
      check(left.length > 0, 'nothing left behind');
      runHelm(h, ['uninstall', 'one', '-n', 'ns-one', '--wait', '--kubeconfig', cluster.kubeconfig]);
      check((await existing(cluster, rendered())).length === 0, 'uninstall left objects');
      return `${left.length} objects left until helm uninstall`;
    },
  );
  const rollback = h.major === 3 ? '--atomic' : '--rollback-on-failure';
  await scenario(`${label}: install ${rollback} leaves nothing`, async () => {
    const result = runHelm(h, [
      'install',
      'one',
      chart,
      '-n',
      'ns-one',
      rollback,
      '--kubeconfig',
      cluster.kubeconfig,
    ]);
    check(result.status !== 0, 'install succeeded');
    const left = await existing(cluster, rendered());
    check(left.length === 0, `left behind: ${left.map(keyOf).join(', ')}`);
  });
  await scenario(`${label}: with cex.enabled=false it installs`, async () => {
    helm(h, cluster, ['install', 'one', chart, '-n', 'ns-one', '--set', 'cex.enabled=false']);
    helm(h, cluster, ['uninstall', 'one', '-n', 'ns-one', '--wait']);
  });
}

interface Run {
  readonly label: string;
  readonly allowPrivileged?: boolean;
  readonly version: string;
  readonly featureGates?: string;
  readonly runtimeConfig?: string;
  readonly mapServed: boolean;
  readonly typeCheck: boolean;
  /** The chart in DRA mode (dra.ts; needs the policy status controller of typeCheck). */
  readonly dra?: boolean;
  /** The MutatingAdmissionPolicy half-configurations of 1.34/1.35 (see mapHalfScenarios). */
  readonly mapHalf?: 'gate-only' | 'version-only';
}

/**
 * 1.34/1.35 with only half of what MutatingAdmissionPolicy needs. The feature gate alone: kube-apiserver must
 * not start. The API version alone: whatever the server does, the chart must say so — either it skips the
 * policy (NOTES), or it installs it and `helm test` fails naming the feature gate.
 */
async function mapHalfScenarios(run: Run, binaries: Record<string, string>, chart: string): Promise<void> {
  if (run.mapHalf === 'gate-only') {
    await scenario(`${run.label}: kube-apiserver refuses to start`, async () => {
      let cluster: Cluster | undefined;
      try {
        cluster = await Cluster.start({ version: run.version, featureGates: run.featureGates }, binaries);
      } catch (err) {
        const log = (err as Error).message;
        // The admission plugin waits for v1beta1 MutatingAdmissionPolicy informers that can never sync, so every
        // request is refused "not yet ready" and a post-start hook kills the server.
        check(
          /failed to list \*v1beta1\.MutatingAdmissionPolicy/.test(log),
          `exited for another reason:\n${log}`,
        );
        const fatal = log.split('\n').find((line) => line.startsWith('F')) ?? '';
        return `exited; it cannot list v1beta1 MutatingAdmissionPolicy, then ${fatal.replace(/^F\S+ \S+ +\d+ \S+\] /, '').slice(0, 140)}`;
      }
      await cluster.stop();
      throw new Error('kube-apiserver started with the feature gate alone');
    });
    return;
  }
  let cluster: Cluster | undefined;
  if (
    !(await scenario(`${run.label}: start etcd + kube-apiserver`, async () => {
      cluster = await Cluster.start({ version: run.version, runtimeConfig: run.runtimeConfig }, binaries);
    }))
  )
    return;
  try {
    await scenario(`${run.label}: upstream CRDs applied`, () => applyCrds(cluster!));
    await scenario(`${run.label}: namespaces with their default ServiceAccounts`, () =>
      makeNamespaces(cluster!),
    );
    const h = helms()[1];
    await scenario(`${run.label}: the chart says what it did about the policy`, async () => {
      const out = helm(h, cluster!, ['install', 'one', chart, '-n', 'ns-one', '-f', valuesFile(EVERYTHING)]);
      try {
        const installed = manifests(helm(h, cluster!, ['get', 'manifest', 'one', '-n', 'ns-one']));
        if (!installed.some((o) => o.kind === 'MutatingAdmissionPolicy')) {
          check(
            out.includes('MutatingAdmissionPolicy skipped'),
            'policy neither installed nor reported skipped',
          );
          return 'the kind is not served: the chart skipped the policy and NOTES say so';
        }
        const r = await dryRun(cluster!, pod('hpc', { containers: [container('main', 'beta.hpe.com/cxi')] }));
        check(r.status === 201, `HTTP ${r.status}: ${r.message}`);
        check(r.annotations[NETWORKS] === undefined, 'the policy ran without its feature gate');
        const hooks = manifests(helm(h, cluster!, ['get', 'hooks', 'one', '-n', 'ns-one']));
        const env = Object.fromEntries(
          (hooks.find((o) => o.kind === 'Pod')!.spec!.containers![0].env ?? []).map((e) => [
            e.name,
            e.value ?? '',
          ]),
        );
        const results = await runChecks(cluster!.api, {
          namespace: 'ns-one',
          instance: 'one',
          plugins: { cxi: { enabled: true, resourceName: 'beta.hpe.com/cxi' } },
          cxiNetworks: env.KDP_CXI_NETWORKS,
          serviceAccount: env.KDP_SERVICE_ACCOUNT,
          image: env.KDP_IMAGE,
          timeoutSeconds: 0,
          pollMs: 100,
        });
        const policy = results.find((result) => result.check.startsWith('cxi: networks'))!;
        check(
          policy.outcome === 'fail' && policy.detail.includes('feature gate'),
          `${policy.outcome}: ${policy.detail}`,
        );
        return 'the kind is served, the policy installs but never runs: helm test fails naming the feature gate';
      } finally {
        helm(h, cluster!, ['uninstall', 'one', '-n', 'ns-one', '--wait']);
      }
    });
  } finally {
    await cluster!.stop();
  }
}

const RUNS: Run[] = [
  { label: 'v1.37.2', version: 'v1.37', mapServed: true, typeCheck: true, dra: true },
  {
    label: 'v1.34.4 with MutatingAdmissionPolicy',
    version: 'v1.34',
    featureGates: 'MutatingAdmissionPolicy=true',
    runtimeConfig: 'admissionregistration.k8s.io/v1beta1=true',
    mapServed: true,
    typeCheck: false,
  },
  { label: 'v1.34.4 without it', version: 'v1.34', mapServed: false, typeCheck: false },
  {
    label: 'v1.34.4 feature gate alone',
    version: 'v1.34',
    featureGates: 'MutatingAdmissionPolicy=true',
    mapServed: false,
    typeCheck: false,
    mapHalf: 'gate-only',
  },
  {
    label: 'v1.34.4 v1beta1 served, feature gate off',
    version: 'v1.34',
    runtimeConfig: 'admissionregistration.k8s.io/v1beta1=true',
    mapServed: false,
    typeCheck: false,
    mapHalf: 'version-only',
  },
  {
    label: 'v1.37.2 --allow-privileged=false',
    version: 'v1.37',
    allowPrivileged: false,
    mapServed: true,
    typeCheck: false,
  },
];

async function main(): Promise<number> {
  const only = process.env.KDP_E2E_ONLY; // e.g. v1.37 to run one version
  const runs = RUNS.filter((run) => !only || run.version === only);
  const binaries: Record<string, Record<string, string>> = {};
  await scenario(
    'build etcd and kube-apiserver from the Go module proxy (cached by go.sum hash)',
    async () => {
      const etcd = buildBinary('etcd');
      for (const version of new Set(runs.map((r) => r.version))) {
        binaries[version] = { etcd, 'kube-apiserver': buildBinary(`kube-apiserver-${version}`) };
        if (runs.some((r) => r.version === version && r.typeCheck))
          binaries[version]['kube-controller-manager'] = buildBinary(`kube-controller-manager-${version}`);
      }
    },
  );
  if (!rows[0].ok) return report();
  const chart = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'kdp-e2e-chart-')), 'kube-device-plugins');
  writeChart(chart);
  for (const run of runs) {
    if (run.mapHalf) {
      await mapHalfScenarios(run, binaries[run.version], chart);
      continue;
    }
    let cluster: Cluster | undefined;
    const started = await scenario(`${run.label}: start etcd + kube-apiserver`, async () => {
      cluster = await Cluster.start(
        {
          version: run.version,
          featureGates: run.featureGates,
          runtimeConfig: run.runtimeConfig,
          policyStatusController: run.typeCheck,
          allowPrivileged: run.allowPrivileged,
        },
        binaries[run.version],
      );
      const version = await cluster.request('GET', '/version');
      return `serving ${String(version.body.gitVersion)}`;
    });
    if (!started || !cluster) continue;
    try {
      if (!(await scenario(`${run.label}: upstream CRDs applied`, () => applyCrds(cluster!)))) continue;
      if (
        !(await scenario(`${run.label}: namespaces with their default ServiceAccounts`, () =>
          makeNamespaces(cluster!),
        ))
      )
        continue;
      for (const h of helms())
        if (run.allowPrivileged === false) await unprivilegedScenarios(cluster, run.label, h, chart);
        else await helmScenarios(cluster, run.label, h, chart, run.mapServed);
      if (run.typeCheck) await vapTypeCheck(cluster, helms()[1], chart, run.label);
      if (run.dra) for (const h of helms()) await draScenarios(cluster, run.label, h, chart, scenario);
    } finally {
      if (rows.some((r) => !r.ok) && process.env.KDP_E2E_LOGS) console.log(cluster.logTail());
      await cluster.stop();
    }
  }
  if (binaries['v1.34']) await draWithoutApiScenarios(binaries['v1.34'], chart, scenario);
  fs.rmSync(path.dirname(chart), { recursive: true, force: true });
  return report();
}

for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.once(signal, () => {
    console.log(`${signal}: stopping etcd and kube-apiserver`);
    void Promise.all([...Cluster.running].map((cluster) => cluster.stop())).then(() => process.exit(130));
  });

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    console.error(err);
    process.exit(1);
  },
);
