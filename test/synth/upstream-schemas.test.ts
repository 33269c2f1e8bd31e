/**
 * Every object the bundle renders, for every value set, against the upstream schemas (../shared/upstream),
 * plus the documents carried inside objects: the CNI/Whereabouts config of each NAD, the CEX and device-node
 * config files.
 */
import Ajv from 'ajv';
import * as net from 'net';
import { parseCryptoConfig } from '../../plugins/cex/config';
import { parseConfig as parseDevnodeConfig } from '../../plugins/devnode/config';
import { CEX_RESOURCES_SCHEMA } from '../../synth/cex-config';
import { VALUES_SCHEMA } from '../../synth/values-schema';
import { K8sObject } from './helpers/helm';
import { VALUE_SETS, synthObjects } from './helpers/synth';
import { UPSTREAM, UpstreamValidator, kubernetesModelsErrors, upstreamAvailable } from './helpers/upstream';

const available = upstreamAvailable();
if (!available)
  console.warn(`${UPSTREAM} is missing: core kinds fall back to kubernetes-models, CRD kinds are skipped`);
const validator = available ? new UpstreamValidator() : undefined;
const skippedKinds = new Set<string>();
afterAll(() => {
  if (skippedKinds.size > 0)
    console.warn(`not validated (no schema without ${UPSTREAM}): ${[...skippedKinds].join(', ')}`);
});

/** Kinds with no upstream schema in ../shared: checked for shape by the construct tests only. */
const WITHOUT_UPSTREAM_SCHEMA = ['PodMonitor'];

const cases = Object.entries(VALUE_SETS).flatMap(([set, values]) =>
  synthObjects(values).map((object) => [`${set}: ${object.kind} ${object.metadata.name}`, object] as const),
);

test.each(cases)('%s matches its upstream schema', (_name, object) => {
  if (WITHOUT_UPSTREAM_SCHEMA.includes(object.kind)) return;
  if (validator) {
    expect(validator.errors(object)).toEqual([]);
    return;
  }
  const errors = kubernetesModelsErrors(object);
  if (errors === undefined) skippedKinds.add(object.kind);
  else expect(errors).toEqual([]);
});

const everything = synthObjects(VALUE_SETS['everything-customised']);

(available ? test : test.skip)(
  'MutatingAdmissionPolicy objects are valid in every version the chart may use',
  () => {
    const policies = everything.filter((o) => o.kind.startsWith('MutatingAdmissionPolicy'));
    expect(policies).toHaveLength(2);
    for (const version of ['v1alpha1', 'v1beta1']) {
      for (const policy of policies) {
        expect(
          validator!.errors({ ...policy, apiVersion: `admissionregistration.k8s.io/${version}` }),
        ).toEqual([]);
      }
    }
  },
);

(available ? test : test.skip)('the validator does reject what the API server would', () => {
  const daemonSet = everything.find((o) => o.kind === 'DaemonSet')!;
  const spec = daemonSet.spec as { template: { spec: Record<string, unknown> } };
  const broken = {
    ...daemonSet,
    spec: { ...spec, template: { ...spec.template, spec: { ...spec.template.spec, hostNetwrk: true } } },
  };
  expect(validator!.errors(broken as K8sObject).join()).toContain('additional');
  const rule = everything.find((o) => o.kind === 'NodeFeatureRule')!;
  expect(validator!.errors({ ...rule, spec: { rules: [{ labels: {} }] } }).join()).toContain('name');
});

/** The CNI config of a NetworkAttachmentDefinition: ipvlan over a NIC, Whereabouts IPAM with a CIDR range. */
const IPVLAN_WHEREABOUTS_CONFIG = {
  type: 'object',
  additionalProperties: false,
  required: ['cniVersion', 'type', 'master', 'mode', 'ipam'],
  properties: {
    cniVersion: { enum: ['0.3.0', '0.3.1', '0.4.0', '1.0.0'] },
    type: { const: 'ipvlan' },
    master: { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,15}$' },
    mode: { enum: ['l2', 'l3', 'l3s'] },
    ipam: {
      type: 'object',
      additionalProperties: false,
      required: ['type', 'range'],
      properties: { type: { const: 'whereabouts' }, range: { type: 'string' } },
    },
  },
};

function isCidr(range: string): boolean {
  const [address, prefix] = range.split('/');
  const family = net.isIP(address);
  return family !== 0 && /^\d+$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128);
}

const ajv = new Ajv({ allErrors: true });

test.each(Object.keys(VALUE_SETS))('NAD configs are ipvlan + Whereabouts with CIDR ranges: %s', (set) => {
  const validate = ajv.compile(IPVLAN_WHEREABOUTS_CONFIG);
  for (const nad of synthObjects(VALUE_SETS[set]).filter((o) => o.kind === 'NetworkAttachmentDefinition')) {
    const config = JSON.parse((nad.spec as { config: string }).config);
    expect(validate(config) ? [] : validate.errors).toEqual([]);
    expect(isCidr(config.ipam.range)).toBe(true);
    expect(nad.metadata.name).toMatch(new RegExp(`-${config.master}-ipvlan$`));
  }
});

test.each(Object.keys(VALUE_SETS))('the plugins accept the config files the chart writes: %s', (set) => {
  for (const configMap of synthObjects(VALUE_SETS[set]).filter((o) => o.kind === 'ConfigMap')) {
    const data = configMap.data as Record<string, string>;
    if ('cex_resources.json' in data) {
      expect(parseCryptoConfig(data['cex_resources.json'])).toEqual(
        expect.objectContaining({ warnings: [] }),
      );
    }
    if ('devnode.json' in data) {
      expect(() => parseDevnodeConfig(data['devnode.json'], 'devnode.json')).not.toThrow();
    }
  }
});

test.each(Object.keys(VALUE_SETS))('config files in ConfigMaps match their schemas: %s', (set) => {
  const cex = ajv.compile(CEX_RESOURCES_SCHEMA);
  const devnodeItems = (VALUES_SCHEMA.properties!.devnode.properties!.config as object) ?? {};
  const devnode = ajv.compile(devnodeItems);
  for (const configMap of synthObjects(VALUE_SETS[set]).filter((o) => o.kind === 'ConfigMap')) {
    const data = configMap.data as Record<string, string>;
    if ('cex_resources.json' in data)
      expect(cex(JSON.parse(data['cex_resources.json'])) ? [] : cex.errors).toEqual([]);
    if ('devnode.json' in data)
      expect(devnode(JSON.parse(data['devnode.json'])) ? [] : devnode.errors).toEqual([]);
  }
});
