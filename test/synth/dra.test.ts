/**
 * DRA mode in the chart (synth/dra.ts), under real Helm 3 and Helm 4: the per-family `mode` value, the DRA
 * DaemonSet, the driver's ServiceAccount and RBAC, the DeviceClass, the slice-guarding policy and the uninstall
 * hook; the capability gate; schema rejections. The policies' CEL runs in a real CEL engine here, and against a
 * real kube-apiserver in `npm run e2e:apiserver` (test/e2e/apiserver/dra.ts).
 */
import { App, Chart } from 'cdk8s';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as yaml from 'js-yaml';
import { DEFAULT_CLUSTER_APIS, helmApiVersionFlags } from '../../synth/cluster-apis';
import {
  DRA_DRIVER_RULES,
  DRA_FAMILIES,
  DRA_UNINSTALL_RULES,
  DraDriver,
  DraFamily,
  DraUninstall,
  NODE_NAME_EXTRA,
  draDriverName,
} from '../../synth/dra';
import { COMMON_FLAGS } from '../../plugins/cli/command';
import { draSettings } from '../../plugins/cli/dra';
import { parseFlags } from '../../plugins/framework/flags';
import { loadCommand } from '../../plugins/cli/main';
import { PodSpec } from '../../synth/k8s-types';
import { KvmPlugin } from '../../synth/plugins/kvm';
import { writeChart } from '../../synth/render';
import { evaluate } from './helpers/admission';
import {
  Helm,
  K8sObject,
  KUBE_VERSION_FLAGS,
  REPO_ROOT,
  helmTemplate,
  helms,
  objectKey,
  runHelm,
} from './helpers/helm';
import { synthObjects } from './helpers/synth';
import { UpstreamValidator, upstreamAvailable } from './helpers/upstream';

const chartDir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'kdp-dra-chart-')), 'kube-device-plugins');
beforeAll(() => writeChart(chartDir));
afterAll(() => fs.rmSync(path.dirname(chartDir), { recursive: true, force: true }));

const ALL_APIS = helmApiVersionFlags(DEFAULT_CLUSTER_APIS).filter((flag) => flag !== '--api-versions');
const ALL_DRA = { tdx: { mode: 'dra' }, kvm: { mode: 'dra' }, devnode: { mode: 'dra' } };

/** Value sets rendered by Helm and by cdk8s, which must agree. */
const DRA_SETS: Record<string, unknown> = {
  'kvm in DRA mode': { kvm: { mode: 'dra' } },
  'every DRA family, a moved kubelet, renamed, customised': {
    fullnameOverride: 'devices',
    kubeletRootDir: '/var/lib/k0s/kubelet',
    imagePullSecrets: [{ name: 'regcred' }],
    image: { repository: 'registry.example.com/kdp', tag: 'v9' },
    logLevel: 'debug',
    tdx: { mode: 'dra', tsmReport: true },
    kvm: { mode: 'dra', cdi: false },
    devnode: { mode: 'dra' },
  },
  'DRA families disabled': { ...ALL_DRA, tdx: { mode: 'dra', enabled: false } },
};

const byKey = (objects: K8sObject[]) => Object.fromEntries(objects.map((o) => [objectKey(o), o]));
const podSpecOf = (daemonSet: K8sObject) => (daemonSet.spec as { template: { spec: PodSpec } }).template.spec;

function daemonSetOf(objects: K8sObject[], family: string): K8sObject {
  const found = objects.find(
    (o) => o.kind === 'DaemonSet' && o.metadata.labels?.['app.kubernetes.io/component'] === family,
  );
  if (!found) throw new Error(`no ${family} DaemonSet`);
  return found;
}

/** Objects a family has only in DRA mode (everything but its DaemonSet, ConfigMap and NodeFeatureRule). */
function draObjectsOf(objects: K8sObject[], family: string): K8sObject[] {
  const component = (o: K8sObject) => o.metadata.labels?.['app.kubernetes.io/component'];
  return objects.filter(
    (o) =>
      (component(o) === family && !['DaemonSet', 'ConfigMap', 'NodeFeatureRule'].includes(o.kind)) ||
      component(o) === `${family}-dra-uninstall`,
  );
}

describe.each(helms().map((helm) => [`Helm ${helm.major}`, helm] as [string, Helm]))('%s', (_name, helm) => {
  const render = (values: unknown, apiVersions = ALL_APIS) =>
    helmTemplate(helm, chartDir, { values, apiVersions });

  test.each(Object.keys(DRA_SETS))('template equals cdk8s synth: %s', (set) => {
    const rendered = render(DRA_SETS[set]);
    expect(rendered.stderr).toBe('');
    expect(byKey(rendered.objects)).toEqual(byKey(synthObjects(DRA_SETS[set])));
  });

  test('lints with --strict in DRA mode: clean on Helm 4, Helm 3 reports the API it cannot see', () => {
    const valuesFile = path.join(path.dirname(chartDir), 'dra.yaml');
    fs.writeFileSync(valuesFile, JSON.stringify(ALL_DRA));
    const lint = runHelm(helm, ['lint', '--strict', chartDir, '--values', valuesFile, ...KUBE_VERSION_FLAGS]);
    if (helm.major === 4) {
      expect(lint.stderr).toBe('');
      expect(lint.status).toBe(0);
    } else {
      // `helm lint` takes no --api-versions, and Helm 3.17's built-in list predates resource.k8s.io/v1: the
      // check's `fail` runs, and Helm 3 lint reports a template's fail as information only.
      expect(lint.status).toBe(0);
      expect(lint.stderr).toContain('Fail: tdx.mode=dra needs a cluster serving resource.k8s.io/v1');
    }
  });

  test('devicePlugin mode (the default) renders exactly what it did, with no DRA object', () => {
    const defaults = render({});
    const explicit = render({ tdx: { mode: 'devicePlugin' }, kvm: { mode: 'devicePlugin' } });
    expect(explicit.stdout).toBe(defaults.stdout);
    expect(defaults.stdout).not.toMatch(
      /resource\.k8s\.io|plugins_registry|--mode=|NODE_NAME|DeviceClass|KDP_DRA/,
    );
    for (const family of DRA_FAMILIES) {
      expect(draObjectsOf(defaults.objects, family)).toEqual([]);
      const spec = podSpecOf(daemonSetOf(defaults.objects, family));
      expect(spec.automountServiceAccountToken).toBe(false);
      expect(spec).not.toHaveProperty('serviceAccountName');
      expect(spec.volumes.map((v) => v.name)).toContain('device-plugins');
    }
  });

  test.each(DRA_FAMILIES)('%s in DRA mode: the DaemonSet runs the driver', (family) => {
    const kubelet = '/var/lib/k0s/kubelet';
    const objects = render({ kubeletRootDir: kubelet, [family]: { mode: 'dra' } }).objects;
    const spec = podSpecOf(daemonSetOf(objects, family));
    const container = spec.containers[0];
    expect(container.args).toEqual(expect.arrayContaining(['--mode=dra', `--kubelet-root-dir=${kubelet}`]));
    expect(container.env).toEqual([
      { name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
    ]);
    expect(spec.automountServiceAccountToken).toBe(true);
    expect(spec.serviceAccountName).toBe(`kube-device-plugins-${family}-dra`);
    // The kubelet's plugin dirs at their host paths (the kubelet dials the socket paths the driver names).
    const volumes = Object.fromEntries(spec.volumes.map((v) => [v.name, v.hostPath]));
    expect(volumes['kubelet-plugins']).toEqual({ path: `${kubelet}/plugins`, type: 'DirectoryOrCreate' });
    expect(volumes['plugins-registry']).toEqual({
      path: `${kubelet}/plugins_registry`,
      type: 'DirectoryOrCreate',
    });
    expect(volumes.cdi).toEqual({ path: '/var/run/cdi', type: 'DirectoryOrCreate' });
    expect(volumes).not.toHaveProperty('device-plugins');
    const mounts = Object.fromEntries((container.volumeMounts ?? []).map((m) => [m.name, m]));
    expect(mounts['kubelet-plugins']).toEqual({
      name: 'kubelet-plugins',
      mountPath: `${kubelet}/plugins`,
      readOnly: false,
    });
    expect(mounts['plugins-registry'].mountPath).toBe(`${kubelet}/plugins_registry`);
    expect(mounts.cdi).toEqual({ name: 'cdi', mountPath: '/var/run/cdi', readOnly: false });
    expect(mounts).not.toHaveProperty('device-plugins');
    // The other families stay device plugins.
    for (const other of DRA_FAMILIES.filter((f) => f !== family)) {
      expect(podSpecOf(daemonSetOf(objects, other)).volumes.map((v) => v.name)).toContain('device-plugins');
      expect(draObjectsOf(objects, other)).toEqual([]);
    }
  });

  test.each(DRA_FAMILIES)('%s in DRA mode: RBAC, DeviceClass, policy and uninstall hook', (family) => {
    const objects = render({ [family]: { mode: 'dra' } }).objects;
    const name = `kube-device-plugins-${family}-dra`;
    const uninstall = `${name}-uninstall`;
    expect(draObjectsOf(objects, family).map(objectKey).sort()).toEqual(
      [
        `ClusterRole//${name}`,
        `ClusterRole//${uninstall}`,
        `ClusterRoleBinding//${name}`,
        `ClusterRoleBinding//${uninstall}`,
        `DeviceClass//${draDriverName(family)}`,
        `Job/kube-system/${uninstall}`,
        `ServiceAccount/kube-system/${name}`,
        `ServiceAccount/kube-system/${uninstall}`,
        `ValidatingAdmissionPolicy//${name}-resourceslices`,
        `ValidatingAdmissionPolicyBinding//${name}-resourceslices`,
      ].sort(),
    );
    const get = (kind: string, objectName: string) =>
      objects.find((o) => o.kind === kind && o.metadata.name === objectName)!;
    // RBAC: exactly the verbs dra-interface.md lists, nothing else.
    expect(get('ClusterRole', name).rules).toEqual([
      { apiGroups: ['resource.k8s.io'], resources: ['resourceclaims'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: [''], resources: ['nodes'], verbs: ['get'] },
      {
        apiGroups: ['resource.k8s.io'],
        resources: ['resourceslices'],
        verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'],
      },
    ]);
    expect(get('ClusterRole', name).rules).toEqual(DRA_DRIVER_RULES);
    expect(get('ClusterRole', uninstall).rules).toEqual([
      { apiGroups: ['resource.k8s.io'], resources: ['resourceslices'], verbs: ['list', 'delete'] },
    ]);
    expect(get('ClusterRole', uninstall).rules).toEqual(DRA_UNINSTALL_RULES);
    for (const binding of [name, uninstall]) {
      expect(get('ClusterRoleBinding', binding)).toMatchObject({
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: binding },
        subjects: [{ kind: 'ServiceAccount', name: binding, namespace: 'kube-system' }],
      });
    }
    // The hook: pre-delete, its own account, the one-shot flag.
    const job = get('Job', uninstall) as K8sObject & {
      metadata: { annotations: Record<string, string> };
      spec: { template: { spec: PodSpec & { serviceAccountName: string } } };
    };
    expect(job.metadata.annotations['helm.sh/hook']).toBe('pre-delete');
    const jobSpec = job.spec.template.spec;
    expect(jobSpec.serviceAccountName).toBe(uninstall);
    expect(jobSpec.containers[0].command.slice(-1)).toEqual([family]);
    expect(jobSpec.containers[0].args).toEqual(expect.arrayContaining(['--mode=dra', '--dra-uninstall']));
    // The policy binds to its policy.
    expect(get('ValidatingAdmissionPolicyBinding', `${name}-resourceslices`).spec).toEqual({
      policyName: `${name}-resourceslices`,
      validationActions: ['Deny'],
    });
  });

  test('helm test in DRA mode: the driver families are named, and the test may list ResourceSlices', () => {
    const objects = render({ kvm: { mode: 'dra' }, devnode: { mode: 'dra' } }).objects;
    const pod = objects.find((o) => o.kind === 'Pod' && o.metadata.name === 'kube-device-plugins-test')!;
    const env = (pod.spec as PodSpec).containers[0].env ?? [];
    expect(JSON.parse(env.find((e) => e.name === 'KDP_DRA_DRIVERS')!.value!)).toEqual({
      devnode: 'devnode.kube-device-plugins.io',
      kvm: 'kvm.kube-device-plugins.io',
    });
    const role = objects.find(
      (o) => o.kind === 'ClusterRole' && o.metadata.name === 'kube-device-plugins-test',
    )!;
    expect(role.rules).toEqual([
      { apiGroups: [''], resources: ['nodes'], verbs: ['list'] },
      { apiGroups: ['resource.k8s.io'], resources: ['resourceslices'], verbs: ['list'] },
    ]);
  });

  test('a family in DRA mode needs resource.k8s.io/v1: the install fails naming the family', () => {
    const message = (family: string) =>
      `${family}.mode=dra needs a cluster serving resource.k8s.io/v1 (Kubernetes 1.34 or newer); this one does not (with helm template, pass --api-versions resource.k8s.io/v1)`;
    const noDra = { ...DEFAULT_CLUSTER_APIS, dynamicResourceAllocation: '' };
    expect(() => synthObjects({ devnode: { mode: 'dra' } }, noDra)).toThrow(message('devnode'));
    expect(() => synthObjects({}, noDra)).not.toThrow();
    const withoutFlag = helmTemplate(helm, chartDir, { values: { devnode: { mode: 'dra' } } });
    if (helm.major === 3) {
      // Helm 3.17's built-in API list predates resource.k8s.io/v1.
      expect(withoutFlag.status).not.toBe(0);
      expect(withoutFlag.stderr).toContain(message('devnode'));
    } else {
      // Helm 4 knows Kubernetes >= 1.34, where it is GA: it lists the group/version.
      expect(withoutFlag.stderr).toBe('');
      expect(withoutFlag.objects.some((o) => o.kind === 'DeviceClass')).toBe(true);
    }
    // Either Helm: the group/version alone, or with the kind, is enough.
    for (const flag of ['resource.k8s.io/v1', 'resource.k8s.io/v1/DeviceClass']) {
      const rendered = helmTemplate(helm, chartDir, {
        values: { devnode: { mode: 'dra' } },
        apiVersions: [flag],
      });
      expect(rendered.stderr).toBe('');
      expect(rendered.objects.filter((o) => o.kind === 'DeviceClass').map((o) => o.metadata.name)).toEqual([
        draDriverName('devnode'),
      ]);
    }
    // devicePlugin mode does not care.
    expect(helmTemplate(helm, chartDir, { values: {} }).status).toBe(0);
  });

  test.each([
    [{ kvm: { mode: 'DRA' } }, 'mode'],
    [{ tdx: { mode: 'device-plugin' } }, 'mode'],
    [{ devnode: { mode: true } }, 'mode'],
    [{ devnode: { mode: '' } }, 'mode'],
    // Only kvm, tdx and devnode have a DRA mode.
    [{ cxi: { mode: 'dra' } }, 'mode'],
    [{ netdevice: { mode: 'devicePlugin' } }, 'mode'],
    [{ cex: { mode: 'dra' } }, 'mode'],
  ])('rejects bad values %j, naming %s', (values, field) => {
    const result = render(values);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain("values don't meet the specifications of the schema");
    expect(result.stderr).toContain(field);
  });
});

test.each(Object.keys(DRA_SETS))(
  "the plugins' own flag parsers accept what the DRA DaemonSets and uninstall Jobs pass: %s",
  (set) => {
    const pods = synthObjects(DRA_SETS[set])
      .filter((o) => o.kind === 'DaemonSet' || o.kind === 'Job')
      .map((o) => (o.spec as { template: { spec: PodSpec } }).template.spec);
    const checked: string[] = [];
    for (const container of pods.flatMap((spec) => spec.containers)) {
      const family = container.command[container.command.length - 1];
      if (!(DRA_FAMILIES as readonly string[]).includes(family)) continue;
      // NODE_NAME comes from the downward API (spec.nodeName) in the DaemonSet.
      const env = (container.env ?? []).some((e) => e.name === 'NODE_NAME') ? { NODE_NAME: 'node-a' } : {};
      const { values } = parseFlags(
        [...loadCommand(family)!.flags, ...COMMON_FLAGS],
        container.args ?? [],
        env,
      );
      if (values.mode !== 'dra') continue;
      expect(() => draSettings(values, true)).not.toThrow();
      checked.push(`${family}${values.draUninstall ? ' uninstall' : ''}`);
    }
    expect(checked.length).toBeGreaterThan(0);
    expect(checked.filter((c) => c.endsWith('uninstall')).length * 2).toBe(checked.length);
  },
);

describe('the DeviceClass selects its driver’s devices, by CEL', () => {
  const objects = synthObjects(ALL_DRA);
  test.each(DRA_FAMILIES)('%s', (family) => {
    const deviceClass = objects.find(
      (o) => o.kind === 'DeviceClass' && o.metadata.name === draDriverName(family),
    )!;
    const selectors = (deviceClass.spec as { selectors: Array<{ cel: { expression: string } }> }).selectors;
    expect(selectors).toHaveLength(1);
    const device = (driver: string) => ({
      device: { driver, attributes: { [driver]: { path: '/dev/x' } }, capacity: {} },
    });
    expect(evaluate(selectors[0].cel.expression, device(draDriverName(family)))).toBe(true);
    for (const other of DRA_FAMILIES.filter((f) => f !== family))
      expect(evaluate(selectors[0].cel.expression, device(draDriverName(other)))).toBe(false);
    expect(evaluate(selectors[0].cel.expression, device('gpu.example.com'))).toBe(false);
  });
});

describe('the ResourceClaimTemplates of docs/DRA.md select what the drivers publish', () => {
  const docs = fs.readFileSync(path.join(REPO_ROOT, 'docs', 'DRA.md'), 'utf8');
  const templates = [...docs.matchAll(/```yaml\n([\s\S]*?)```/g)]
    .map((m) => yaml.load(m[1]) as K8sObject)
    .filter((o) => o?.kind === 'ResourceClaimTemplate');
  /** Attributes as the families publish them (plugins: draAttributes), by driver. */
  const published: Record<DraFamily, Record<string, string>> = {
    kvm: { path: '/dev/kvm', resource: 'github.com.ihcsim/kvm' },
    tdx: { path: '/dev/tdx_guest', resource: 'tdx.intel.com/tdx-guest', interface: 'tdx_guest' },
    devnode: { path: '/dev/crand0', resource: 'example.com/crand', glob: 'crand*' },
  };
  const device = (family: DraFamily) => ({
    device: { driver: draDriverName(family), attributes: { [draDriverName(family)]: published[family] } },
  });

  test('one per DRA family', () => {
    const classes = templates.map((t) => {
      const requests = (
        t.spec as { spec: { devices: { requests: Array<{ exactly: { deviceClassName: string } }> } } }
      ).spec.devices.requests;
      return requests[0].exactly.deviceClassName;
    });
    expect(classes.sort()).toEqual(DRA_FAMILIES.map(draDriverName).sort());
  });

  test.each(templates.map((t) => [t.metadata.name, t] as const))('%s', (_name, template) => {
    const request = (
      template.spec as {
        spec: {
          devices: {
            requests: Array<{
              exactly: { deviceClassName: string; selectors: Array<{ cel: { expression: string } }> };
            }>;
          };
        };
      }
    ).spec.devices.requests[0].exactly;
    const family = DRA_FAMILIES.find((f) => draDriverName(f) === request.deviceClassName)!;
    for (const selector of request.selectors) {
      expect(evaluate(selector.cel.expression, device(family))).toBe(true);
      // Another driver's device lacks these attributes: an error, so not selected.
      for (const other of DRA_FAMILIES.filter((f) => f !== family))
        expect(() => evaluate(selector.cel.expression, device(other))).toThrow();
    }
  });
});

interface PolicySpec {
  matchConditions: Array<{ expression: string }>;
  variables: Array<{ name: string; expression: string }>;
  validations: Array<{ expression: string; message?: string; messageExpression?: string }>;
}

/** Runs the slice policy of `family` the way the API server does, on one ResourceSlice request. */
function admitSlice(
  family: DraFamily,
  request: {
    operation: 'CREATE' | 'UPDATE' | 'DELETE';
    username: string;
    node?: string;
    object?: object | null;
    oldObject?: object | null;
  },
) {
  const policy = synthObjects(ALL_DRA).find(
    (o) =>
      o.kind === 'ValidatingAdmissionPolicy' &&
      o.metadata.name === `kube-device-plugins-${family}-dra-resourceslices`,
  )!;
  const spec = policy.spec as PolicySpec;
  const base = {
    object: request.object ?? null,
    oldObject: request.oldObject ?? null,
    request: {
      operation: request.operation,
      userInfo: {
        username: request.username,
        groups: ['system:serviceaccounts', 'system:authenticated'],
        ...(request.node !== undefined && { extra: { [NODE_NAME_EXTRA]: [request.node] } }),
      },
    },
  };
  if (!spec.matchConditions.every((c) => evaluate(c.expression, base) === true)) return 'not matched';
  const variables: Record<string, unknown> = {};
  for (const v of spec.variables) variables[v.name] = evaluate(v.expression, { ...base, variables });
  const failed = spec.validations.find((v) => evaluate(v.expression, { ...base, variables }) !== true);
  if (!failed) return 'allowed';
  return failed.messageExpression
    ? String(evaluate(failed.messageExpression, { ...base, variables }))
    : String(failed.message);
}

describe('the slice policy: a driver writes only its own node’s ResourceSlices', () => {
  const driver = 'system:serviceaccount:kube-system:kube-device-plugins-kvm-dra';
  const slice = (nodeName?: string) => ({
    apiVersion: 'resource.k8s.io/v1',
    kind: 'ResourceSlice',
    metadata: { name: 's' },
    spec: {
      driver: draDriverName('kvm'),
      ...(nodeName ? { nodeName } : { allNodes: true }),
      pool: { name: 'p', generation: 1, resourceSliceCount: 1 },
    },
  });

  test('its own node: create, update, delete allowed', () => {
    for (const operation of ['CREATE', 'UPDATE'] as const)
      expect(
        admitSlice('kvm', {
          operation,
          username: driver,
          node: 'n1',
          object: slice('n1'),
          oldObject: slice('n1'),
        }),
      ).toBe('allowed');
    expect(
      admitSlice('kvm', { operation: 'DELETE', username: driver, node: 'n1', oldObject: slice('n1') }),
    ).toBe('allowed');
  });

  test('another node, or none: refused, naming both', () => {
    expect(
      admitSlice('kvm', { operation: 'CREATE', username: driver, node: 'n1', object: slice('n2') }),
    ).toBe(`${driver} on node n1 may write only the ResourceSlices of its own node, not one of node n2`);
    expect(
      admitSlice('kvm', { operation: 'DELETE', username: driver, node: 'n1', oldObject: slice('n2') }),
    ).toContain('not one of node n2');
    expect(
      admitSlice('kvm', { operation: 'CREATE', username: driver, node: 'n1', object: slice() }),
    ).toContain('not one without a node');
    // Moving another node's slice to its own is refused too.
    expect(
      admitSlice('kvm', {
        operation: 'UPDATE',
        username: driver,
        node: 'n1',
        object: slice('n1'),
        oldObject: slice('n2'),
      }),
    ).toContain('may write only');
  });

  test('a token not bound to a pod on a node: refused', () => {
    expect(admitSlice('kvm', { operation: 'CREATE', username: driver, object: slice('n1') })).toContain(
      `${NODE_NAME_EXTRA} missing`,
    );
  });

  test('other users (the uninstall hook, the kubelet, admins) are not its business', () => {
    for (const username of [
      'system:serviceaccount:kube-system:kube-device-plugins-kvm-dra-uninstall',
      'system:serviceaccount:kube-system:kube-device-plugins-tdx-dra',
      'system:node:n1',
      'admin',
    ])
      expect(admitSlice('kvm', { operation: 'DELETE', username, oldObject: slice('n2') })).toBe(
        'not matched',
      );
  });
});

const validator = upstreamAvailable() ? new UpstreamValidator() : undefined;

test('DRA objects match their upstream schemas (the Job: by the real API server, e2e)', () => {
  const objects = Object.values(DRA_SETS)
    .flatMap((values) => synthObjects(values))
    .filter((o) => o.kind !== 'Job');
  expect(objects.some((o) => o.kind === 'DeviceClass')).toBe(true);
  if (!validator) return;
  for (const object of objects)
    expect([objectKey(object), validator.errors(object)]).toEqual([objectKey(object), []]);
});

test('as a library: a plugin in DRA mode and its driver objects agree on the ServiceAccount', () => {
  const chart = new Chart(new App(), 'mine');
  const plugin = new KvmPlugin(chart, 'kvm', { mode: 'dra', namespace: 'devices' });
  const driver = new DraDriver(chart, 'kvm-dra', { family: 'kvm', namespace: 'devices' });
  new DraUninstall(chart, 'kvm-dra-uninstall', {
    family: 'kvm',
    namespace: 'devices',
    image: 'registry.example.com/kdp:1',
    imagePullPolicy: 'IfNotPresent',
    imagePullSecrets: [],
    logLevel: 'info',
    logFormat: 'json',
  });
  const objects = chart.toJson() as K8sObject[];
  const spec = podSpecOf(objects.find((o) => o.kind === 'DaemonSet')!);
  expect(spec.serviceAccountName).toBe(driver.serviceAccountName);
  expect(
    objects.find((o) => o.kind === 'ServiceAccount' && o.metadata.name === driver.serviceAccountName),
  ).toBeDefined();
  expect(plugin.daemonSet.apiObject.toJson().spec.template.spec.containers[0].args).toContain('--mode=dra');
  expect(() => new KvmPlugin(new Chart(new App(), 'x'), 'kvm', { mode: 'dra', draApi: '' })).toThrow(
    'kvm.mode=dra needs a cluster serving resource.k8s.io/v1',
  );
});
