/**
 * The admission policies, evaluated with a real CEL engine against sample pods (see helpers/admission.ts).
 */
import { NETWORKS_ANNOTATION } from '../../synth/policies/cxi-networks';
import { EXAMPLE_CXI_NICS } from '../../synth/multus';
import { K8sObject } from './helpers/helm';
import { AdmissionRequest, mutate, validate } from './helpers/admission';
import { VALUE_SETS, find, synthObjects } from './helpers/synth';

const CREATE_IN = (namespace: string): AdmissionRequest => ({ namespace, operation: 'CREATE' });

interface Containers {
  containers?: object[];
  initContainers?: object[];
}

function pod(spec: Containers & { annotations?: Record<string, string> }) {
  const { annotations, ...containers } = spec;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'job', namespace: 'hpc', ...(annotations && { annotations }) },
    spec: { containers: [{ name: 'sidecar', image: 'busybox' }], ...containers },
  };
}

/**
 * A container asking for one `resource`, as the API server accepts it: an extended resource needs a limit (its
 * request, when given, equal to it). `limits` alone leaves the request to defaulting.
 */
const requesting = (resource: string, field: 'requests' | 'limits' = 'requests') => ({
  name: resource.replace(/[^a-z0-9]+/g, '-'),
  image: 'app',
  resources:
    field === 'requests'
      ? { requests: { [resource]: '1' }, limits: { [resource]: '1' } }
      : { limits: { [resource]: '1' } },
});

describe('CXI networks MutatingAdmissionPolicy', () => {
  const objects = synthObjects({ cxi: { nics: EXAMPLE_CXI_NICS } });
  const policy = find(objects, 'MutatingAdmissionPolicy', 'kube-device-plugins-cxi-networks');
  const expectedNetworks = objects
    .filter((o) => o.kind === 'NetworkAttachmentDefinition')
    .map((nad) => ({
      interface: JSON.parse((nad.spec as { config: string }).config).master,
      name: nad.metadata.name,
      namespace: nad.metadata.namespace,
    }));
  const networksOf = (result: { pod: object }) =>
    (result.pod as { metadata: { annotations: Record<string, string> } }).metadata.annotations[
      NETWORKS_ANNOTATION
    ];

  test('a pod requesting a NIC gets every NIC network, naming the NADs the chart creates', () => {
    const result = mutate(policy, pod({ containers: [requesting('beta.hpe.com/cxi')] }), CREATE_IN('hpc'));
    expect(result.matched).toBe(true);
    expect(expectedNetworks).toHaveLength(4);
    expect(JSON.parse(networksOf(result))).toEqual(expectedNetworks);
  });

  test('existing annotations are kept', () => {
    const annotated = pod({
      containers: [requesting('beta.hpe.com/cxi', 'limits')],
      annotations: { team: 'hpc', 'a/b': 'c' },
    });
    const result = mutate(policy, annotated, CREATE_IN('hpc'));
    expect(result.patch).toHaveLength(1);
    expect(Object.keys((result.pod as typeof annotated).metadata.annotations!).sort()).toEqual([
      'a/b',
      NETWORKS_ANNOTATION,
      'team',
    ]);
    expect((result.pod as typeof annotated).metadata.annotations!.team).toBe('hpc');
  });

  test('init containers count, in requests or limits', () => {
    const result = mutate(
      policy,
      pod({ initContainers: [requesting('beta.hpe.com/cxi', 'limits')] }),
      CREATE_IN('hpc'),
    );
    expect(result.matched).toBe(true);
    expect(JSON.parse(networksOf(result))).toEqual(expectedNetworks);
  });

  test('a pod that names its networks is left alone', () => {
    const own = pod({
      containers: [requesting('beta.hpe.com/cxi')],
      annotations: { [NETWORKS_ANNOTATION]: 'hsn0-ipvlan' },
    });
    const result = mutate(policy, own, CREATE_IN('hpc'));
    expect(result.matched).toBe(false);
    expect(result.pod).toEqual(own);
  });

  test('pods without the resource are untouched', () => {
    for (const other of [
      pod({}),
      pod({ containers: [requesting('nvidia.com/gpu')] }),
      pod({ annotations: { x: 'y' } }),
    ]) {
      const result = mutate(policy, other, CREATE_IN('hpc'));
      expect(result.matched).toBe(false);
      expect(result.pod).toEqual(other);
    }
  });

  test('follows the configured resource name and NICs', () => {
    const custom = synthObjects({
      cxi: {
        resourceName: 'hpe.com/slingshot',
        nics: [{ master: 'hsn2', mode: 'l2', range: '10.1.0.0/24' }],
      },
    });
    const customPolicy = find(custom, 'MutatingAdmissionPolicy', 'kube-device-plugins-cxi-networks');
    expect(
      mutate(customPolicy, pod({ containers: [requesting('beta.hpe.com/cxi')] }), CREATE_IN('hpc')).matched,
    ).toBe(false);
    const result = mutate(
      customPolicy,
      pod({ containers: [requesting('hpe.com/slingshot')] }),
      CREATE_IN('hpc'),
    );
    expect(JSON.parse(networksOf(result))).toEqual([
      { interface: 'hsn2', name: 'kube-device-plugins-hsn2-ipvlan', namespace: 'kube-system' },
    ]);
  });
});

describe('CEX project ValidatingAdmissionPolicy', () => {
  // Sets: ep11-set → project finance, accel → project ml.
  const policy = find(
    synthObjects(VALUE_SETS['everything-customised']),
    'ValidatingAdmissionPolicy',
    'kube-device-plugins-cex-projects',
  );

  test("a pod in the set's project is admitted", () => {
    const result = validate(
      policy,
      pod({ containers: [requesting('cex.s390.ibm.com/ep11-set')] }),
      CREATE_IN('finance'),
    );
    expect(result).toEqual({ matched: true, allowed: true, messages: [] });
  });

  test('a pod in another namespace is denied, naming the set and its project', () => {
    const result = validate(
      policy,
      pod({ containers: [requesting('cex.s390.ibm.com/ep11-set', 'limits')] }),
      CREATE_IN('ml'),
    );
    expect(result.allowed).toBe(false);
    expect(result.messages).toEqual([
      'namespace ml may not use CEX config sets of other projects: cex.s390.ibm.com/ep11-set (project finance)',
    ]);
  });

  test('init containers count too', () => {
    const mixed = pod({
      containers: [requesting('cex.s390.ibm.com/ep11-set')],
      initContainers: [requesting('cex.s390.ibm.com/accel')],
    });
    const result = validate(policy, mixed, CREATE_IN('finance'));
    expect(result.allowed).toBe(false);
    expect(result.messages[0]).toContain('cex.s390.ibm.com/accel (project ml)');
  });

  test('pods without CEX resources, or with sets the config does not know, are not its business', () => {
    expect(
      validate(policy, pod({ containers: [requesting('nvidia.com/gpu')] }), CREATE_IN('ml')).matched,
    ).toBe(false);
    expect(
      validate(policy, pod({ containers: [requesting('cex.s390.ibm.com/other')] }), CREATE_IN('ml')).allowed,
    ).toBe(true);
  });

  test('with no sets configured every CEX pod is admitted', () => {
    const empty = find(synthObjects(), 'ValidatingAdmissionPolicy', 'kube-device-plugins-cex-projects');
    expect(
      validate(empty, pod({ containers: [requesting('cex.s390.ibm.com/x')] }), CREATE_IN('ml')).allowed,
    ).toBe(true);
  });
});

test('every policy of every value set runs end to end on a pod requesting everything', () => {
  const policies = Object.values(VALUE_SETS)
    .flatMap((values) => synthObjects(values))
    .filter((o): o is K8sObject => /AdmissionPolicy$/.test(o.kind))
    // The helm test's own guard matches only its ServiceAccount (below).
    .filter((o) => o.metadata.labels?.['app.kubernetes.io/component'] !== 'test');
  expect(policies.map((p) => p.kind).sort()).toEqual(
    expect.arrayContaining(['MutatingAdmissionPolicy', 'ValidatingAdmissionPolicy']),
  );
  const greedy = pod({
    containers: [requesting('beta.hpe.com/cxi'), requesting('hpe.com/slingshot', 'limits')],
    initContainers: [requesting('cex.s390.ibm.com/s1'), requesting('cex.s390.ibm.com/ep11-set', 'limits')],
  });
  for (const policy of policies) {
    const run = policy.kind === 'MutatingAdmissionPolicy' ? mutate : validate;
    expect(() => run(policy, greedy, CREATE_IN('x'))).not.toThrow();
    expect(run(policy, greedy, CREATE_IN('x')).matched).toBe(true);
  }
});

describe('helm test: the test account creates pods only as a dry run', () => {
  const guard = find(synthObjects(), 'ValidatingAdmissionPolicy', 'kube-device-plugins-test');
  const account = 'system:serviceaccount:kube-system:kube-device-plugins-test';
  const any = pod({ containers: [requesting('beta.hpe.com/cxi', 'limits')] });

  test('its real creates are refused, naming the account', () => {
    const result = validate(guard, any, { ...CREATE_IN('kube-system'), username: account });
    expect(result).toEqual({
      matched: true,
      allowed: false,
      messages: [`${account} may only create pods as a dry run (helm test)`],
    });
  });

  test('its dry runs, and everyone else, pass', () => {
    expect(
      validate(guard, any, { ...CREATE_IN('kube-system'), username: account, dryRun: true }).allowed,
    ).toBe(true);
    expect(validate(guard, any, CREATE_IN('kube-system')).matched).toBe(false);
  });
});
