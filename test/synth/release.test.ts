/**
 * Helm conventions, under real Helm 3 and 4: release-aware names (cluster-scoped objects too), the standard
 * labels, stable selectors, name overrides, and the global and per-plugin pod settings.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { DEFAULT_CLUSTER_APIS, helmApiVersionFlags } from '../../synth/cluster-apis';
import { EXAMPLE_CXI_NICS } from '../../synth/multus';
import { writeChart } from '../../synth/render';
import { PLUGINS } from '../../synth/values';
import { Helm, K8sObject, helmTemplate, helms, objectKey } from './helpers/helm';
import { VALUE_SETS, synthObjects } from './helpers/synth';

const chartDir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'kdp-chart-')), 'kube-device-plugins');
beforeAll(() => writeChart(chartDir));
afterAll(() => fs.rmSync(path.dirname(chartDir), { recursive: true, force: true }));

const ALL_APIS = helmApiVersionFlags(DEFAULT_CLUSTER_APIS).filter((flag) => flag !== '--api-versions');
/** Every optional object on. */
const EVERYTHING = { cxi: { nics: EXAMPLE_CXI_NICS }, podMonitor: { enabled: true } };

interface PodTemplate {
  metadata: { labels: Record<string, string>; annotations: Record<string, string> };
  spec: {
    affinity: object;
    tolerations: object[];
    priorityClassName: string;
    imagePullSecrets: object[];
    containers: Array<{ image: string }>;
    volumes: Array<{ name: string; hostPath?: { path: string } }>;
  };
}
interface DaemonSetSpec {
  selector: { matchLabels: Record<string, string> };
  updateStrategy: object;
  template: PodTemplate;
}

const daemonSet = (objects: K8sObject[], component: string) => {
  const found = objects.find(
    (o) => o.kind === 'DaemonSet' && o.metadata.labels?.['app.kubernetes.io/component'] === component,
  );
  if (!found) throw new Error(`no ${component} DaemonSet`);
  return found.spec as DaemonSetSpec;
};

describe.each(helms().map((helm) => [`Helm ${helm.major}`, helm] as [string, Helm]))('%s', (_name, helm) => {
  const render = (release: string, values: unknown = EVERYTHING, namespace = 'kube-system') => {
    const result = helmTemplate(helm, chartDir, { release, values, apiVersions: ALL_APIS, namespace });
    expect(result.stderr).toBe('');
    return result.objects;
  };

  test('releases one and two render disjoint names, cluster-scoped objects included', () => {
    const one = render('one');
    const two = render('two');
    expect(one.length).toBe(two.length);
    expect(one.length).toBeGreaterThan(20);
    const keys = (objects: K8sObject[]) => objects.map(objectKey);
    expect(keys(one).filter((key) => keys(two).includes(key))).toEqual([]);
    for (const object of one) expect(object.metadata.name).toMatch(/^one-kube-device-plugins(-|$)/);
    // The policies' bindings follow their policies' names.
    for (const binding of one.filter((o) => o.kind.endsWith('AdmissionPolicyBinding')))
      expect((binding.spec as { policyName: string }).policyName).toBe(binding.metadata.name);
  });

  test('every object carries the standard labels', () => {
    for (const object of render('one')) {
      expect([object.kind, object.metadata.labels]).toEqual([
        object.kind,
        {
          'app.kubernetes.io/name': 'kube-device-plugins',
          'app.kubernetes.io/instance': 'one',
          'app.kubernetes.io/version': '0.1.0',
          'app.kubernetes.io/managed-by': 'Helm',
          'app.kubernetes.io/component': expect.stringMatching(
            /^(tdx|kvm|devnode|cxi|netdevice|cex|monitoring|test)$/,
          ),
          'helm.sh/chart': 'kube-device-plugins-0.1.0',
        },
      ]);
    }
  });

  test('selectors are name + instance + component only, whatever the values', () => {
    const plain = render('one');
    const changed = render('one', VALUE_SETS['helm-conventions']);
    for (const plugin of PLUGINS) {
      const selector = daemonSet(plain, plugin).selector.matchLabels;
      expect(selector).toEqual({
        'app.kubernetes.io/name': 'kube-device-plugins',
        'app.kubernetes.io/instance': 'one',
        'app.kubernetes.io/component': plugin,
      });
      expect(daemonSet(changed, plugin).selector.matchLabels).toEqual(selector);
      // The pods carry their selector, whatever podLabels say.
      expect(daemonSet(changed, plugin).template.metadata.labels).toMatchObject(selector);
    }
  });

  test('nameOverride and fullnameOverride; a release name holding the chart name is not repeated', () => {
    const names = (release: string, values: object) =>
      render(release, values)
        .filter((o) => o.kind === 'DaemonSet' || o.kind === 'NodeFeatureRule')
        .map((o) => o.metadata.name);
    expect(names('kube-device-plugins-prod', {})).toContain('kube-device-plugins-prod-cxi');
    expect(names('one', { nameOverride: 'kdp' })).toContain('one-kdp-cxi');
    expect(names('one', { fullnameOverride: 'devices' })).toContain('devices-cxi');
    const long = names('r'.repeat(53), {});
    for (const name of long) expect(name.length).toBeLessThanOrEqual(63);
    expect(render('one', { nameOverride: 'kdp' })[0].metadata.labels!['app.kubernetes.io/name']).toBe('kdp');
  });

  test('image: tag defaults to appVersion; a digest wins; pull secrets reach every pod', () => {
    const image = (values: object) =>
      daemonSet(render('one', values), 'kvm').template.spec.containers[0].image;
    expect(image({})).toBe('ghcr.io/kube-device-plugins/kube-device-plugins:0.1.0');
    expect(image({ image: { tag: 'v2' } })).toBe('ghcr.io/kube-device-plugins/kube-device-plugins:v2');
    const digest = `sha256:${'0f'.repeat(32)}`;
    expect(image({ image: { tag: 'v2', digest } })).toBe(
      `ghcr.io/kube-device-plugins/kube-device-plugins@${digest}`,
    );
    const secrets = render('one', { imagePullSecrets: [{ name: 'regcred' }] });
    for (const plugin of PLUGINS)
      expect(daemonSet(secrets, plugin).template.spec.imagePullSecrets).toEqual([{ name: 'regcred' }]);
  });

  test('pod settings: global, overridden or added to per plugin', () => {
    const objects = render('one', VALUE_SETS['helm-conventions']);
    const cxi = daemonSet(objects, 'cxi');
    const kvm = daemonSet(objects, 'kvm');
    expect(kvm.template.metadata.annotations).toEqual({
      'example.com/team': 'platform',
      'example.com/both': 'global',
    });
    expect(cxi.template.metadata.annotations).toEqual({
      'example.com/team': 'platform',
      'example.com/both': 'cxi',
    });
    expect(kvm.template.metadata.labels).toMatchObject({ tier: 'node-agent' });
    expect(cxi.template.metadata.labels).toMatchObject({
      tier: 'node-agent',
      cxi: 'yes',
      'app.kubernetes.io/name': 'kube-device-plugins',
    });
    expect(kvm.template.spec.affinity).toHaveProperty('nodeAffinity');
    expect(cxi.template.spec.affinity).toEqual({ podAntiAffinity: {} });
    expect(kvm.template.spec.tolerations).toEqual([
      { operator: 'Exists' },
      { key: 'dedicated', operator: 'Equal', value: 'hpc', effect: 'NoSchedule' },
    ]);
    expect(kvm.template.spec.priorityClassName).toBe('');
    expect(cxi.template.spec.priorityClassName).toBe('hpc-critical');
    expect(daemonSet(render('one'), 'kvm').template.spec.priorityClassName).toBe('system-node-critical');
    expect(kvm.updateStrategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '25%' } });
    expect(cxi.updateStrategy).toEqual({ type: 'OnDelete' });
  });

  test('every kubelet path follows kubeletRootDir', () => {
    const root = '/var/snap/microk8s/common/var/lib/kubelet';
    const objects = render('one', { kubeletRootDir: root });
    const kubeletPaths = objects
      .filter((o) => o.kind === 'DaemonSet')
      .flatMap((o) => (o.spec as DaemonSetSpec).template.spec.volumes)
      .flatMap((v) => (v.hostPath ? [v.hostPath.path] : []))
      .filter((p) => p.includes('kubelet'));
    expect(new Set(kubeletPaths)).toEqual(new Set([`${root}/device-plugins`, `${root}/pod-resources`]));
    expect(JSON.stringify(objects)).not.toContain('"/var/lib/kubelet/device-plugins","type"');
  });

  test('no site-specific objects by default: no NetworkAttachmentDefinition, no networks policy', () => {
    const kinds = render('one', {}).map((o) => o.kind);
    expect(kinds).not.toContain('NetworkAttachmentDefinition');
    expect(kinds).not.toContain('MutatingAdmissionPolicy');
  });

  test.each([
    [{ image: { digest: 'sha256:xyz' } }, 'digest'],
    [{ image: { digest: `sha512:${'a'.repeat(64)}` } }, 'digest'],
    [{ image: { tag: 'a b' } }, 'tag'],
    [{ fullnameOverride: 'Bad_Name' }, 'fullnameOverride'],
    [{ nameOverride: 'x'.repeat(64) }, 'nameOverride'],
    [{ imagePullSecrets: [{}] }, 'name'],
    [{ imagePullSecrets: ['regcred'] }, 'imagePullSecrets'],
    [{ kubeletRootDir: 'var/lib/kubelet' }, 'kubeletRootDir'],
    [{ podLabels: { tier: 'x'.repeat(64) } }, 'podLabels'],
    [{ cxi: { podLabels: { tier: 'not valid' } } }, 'podLabels'],
    [{ podAnnotations: { a: 1 } }, 'podAnnotations'],
    [{ affinity: { nodeAfinity: {} } }, 'affinity'],
    [{ tolerations: [{ operator: 'Sometimes' }] }, 'operator'],
    [{ priorityClassName: 'System-Node-Critical' }, 'priorityClassName'],
    [{ kvm: { updateStrategy: { type: 'Recreate' } } }, 'type'],
    [{ updateStrategy: { rollingUpdate: { maxUnavailable: 'half' } } }, 'maxUnavailable'],
  ])('the schema refuses %j, naming %s', (values, field) => {
    const result = helmTemplate(helm, chartDir, { values });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain("values don't meet the specifications of the schema");
    expect(result.stderr).toContain(field);
  });
});

test('the cdk8s app names objects as the release named after the chart does', () => {
  const names = synthObjects({}, DEFAULT_CLUSTER_APIS, 'kube-device-plugins').map((o) => o.metadata.name);
  expect(names).toContain('kube-device-plugins-cxi');
});
