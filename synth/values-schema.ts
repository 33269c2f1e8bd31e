/**
 * values.schema.json, written as code. Helm checks values against it on install, upgrade, template and lint,
 * so a typo or a wrong type fails with the value's path instead of a broken manifest. It also drives the
 * generated values.yaml comments, the chart README and the symbolic values of template mode.
 *
 * Strings that end up inside JSON or CEL literals (names, paths, NICs) have patterns without quotes or
 * backslashes, so they can be substituted verbatim.
 */
import { CEX_CONFIG_SET_SCHEMA } from './cex-config';
import { CEX_SETTINGS } from '../plugins/catalogue/cex';
import { COMMON_FLAGS } from '../plugins/catalogue/common';
import { CXI_SETTINGS } from '../plugins/catalogue/cxi';
import { NETDEVICE_SETTINGS } from '../plugins/catalogue/netdevice';
import { KVM_SETTINGS } from '../plugins/catalogue/kvm';
import { TDX_SETTINGS } from '../plugins/catalogue/tdx';
import { chartSettings, settingRef, type EnvSetting, type FlagSpec } from '../plugins/catalogue/setting';

export interface JsonSchema {
  description?: string;
  type?: string | string[];
  enum?: unknown[];
  pattern?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  properties?: Record<string, JsonSchema>;
  additionalProperties?: boolean | JsonSchema;
  required?: string[];
  items?: JsonSchema;
  [keyword: string]: unknown;
}

/**
 * An object with fixed keys, which values.yaml, the README and template mode descend into. Free-form maps
 * (nodeSelector, labels) and lists are taken whole.
 */
export function hasFixedKeys(schema: JsonSchema): boolean {
  return (
    schema.type === 'object' &&
    schema.properties !== undefined &&
    schema.additionalProperties === false &&
    !TAKEN_WHOLE.has(schema)
  );
}

/** Objects with fixed keys that are still passed on whole (affinity, updateStrategy: API objects). */
const TAKEN_WHOLE = new WeakSet<JsonSchema>();

function takenWhole(schema: JsonSchema): JsonSchema {
  TAKEN_WHOLE.add(schema);
  return schema;
}

const str = (description: string, pattern?: string): JsonSchema => ({
  description,
  type: 'string',
  ...(pattern && { pattern }),
});
const int = (description: string, minimum: number, maximum?: number): JsonSchema => ({
  description,
  type: 'integer',
  minimum,
  ...(maximum !== undefined && { maximum }),
});
const bool = (description: string): JsonSchema => ({ description, type: 'boolean' });
const oneOf = (description: string, values: string[]): JsonSchema => ({
  description,
  type: 'string',
  enum: values,
});

/** An object whose keys are all required and no others allowed (Helm merges values.yaml in, so all exist). */
function section(description: string, properties: Record<string, JsonSchema>): JsonSchema {
  return {
    description,
    type: 'object',
    additionalProperties: false,
    required: Object.keys(properties),
    properties,
  };
}

const PATTERNS = {
  /** Extended resource name: `<DNS subdomain>/<name>`, the name 1-63 characters (see {@link resourceName}). */
  resourceName:
    '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$',
  /** A resource name, or empty for "off". */
  optionalResourceName:
    '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$',
  /** An absolute path without `//`, `/` at the end, or characters that would need quoting. */
  absolutePath: '^(/[A-Za-z0-9_.@+-]+)+$',
  /** The same, at least two levels deep (its parent directory is mounted). */
  nestedPath: '^(/[A-Za-z0-9_.@+-]+){2,}$',
  /** A duration as the plugins' flags take it: one positive number (they refuse 0) and a unit. */
  duration: '^([0-9]*[1-9][0-9]*(\\.[0-9]+)?|[0-9]+\\.[0-9]*[1-9][0-9]*)(ms|s|m|h)$',
  /** A Prometheus duration, as the PodMonitor CRD takes it: units in order, integers only (`30s`, `1m30s`). */
  prometheusDuration:
    '^(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?$',
  /** Kubernetes quantity. */
  quantity: '^[+-]?([0-9]+(\\.[0-9]*)?|\\.[0-9]+)(([KMGTPE]i)|[numkMGTPE]|[eE][+-]?[0-9]+)?$',
  interfaceName: '^[A-Za-z0-9_.-]{1,15}$',
  cidr: '^([0-9]{1,3}\\.){3}[0-9]{1,3}/[0-9]{1,2}$|^[0-9A-Fa-f:]+/[0-9]{1,3}$',
  /** A devnode glob as the plugin compiles it: relative, no empty, `.` or `..` segment. */
  devnodeGlob: '^(\\.\\.[^/]+|\\.[^./][^/]*|[^./][^/]*)(/(\\.\\.[^/]+|\\.[^./][^/]*|[^./][^/]*))*$',
  /**
   * A devnode containerPath template: absolute, no `..` segment, `{name}` and `{path}` the only placeholders
   * (no other `{` or `}`). A segment is `.`, or three dots and more, or up to two dots then anything else.
   */
  devnodeContainerPath:
    '^(/(\\.|\\.\\.\\.([^/{}]|\\{name\\}|\\{path\\})*|\\.?\\.?([^/{}.]|\\{name\\}|\\{path\\})([^/{}]|\\{name\\}|\\{path\\})*)?)+$',
};

/**
 * A resource name as the plugins take it (plugins/framework/names.ts `resourceNameErrors`, the kubelet's rules):
 * besides the pattern's shape, nothing in a `kubernetes.io` namespace (reserved for native resources), nothing
 * starting with `requests.`, and a prefix of at most 244 characters (`requests.<prefix>` is a DNS subdomain).
 * Go's regexp has no lookahead, so those are patterns the value must not match.
 */
const resourceName = (description: string, optional = false): JsonSchema => ({
  ...str(description, optional ? PATTERNS.optionalResourceName : PATTERNS.resourceName),
  not: { anyOf: [{ pattern: 'kubernetes\\.io/' }, { pattern: '^requests\\.' }, { pattern: '^[^/]{245,}/' }] },
});

/**
 * The schema of each setting a family's catalogue gives the chart (plugins/catalogue/): its description is the
 * setting's chart help and flag, its bounds the flag's, so the chart refuses what the flag parser would.
 */
function settingSchemas(catalogue: readonly (FlagSpec | EnvSetting)[]): Record<string, JsonSchema> {
  const schemas: Record<string, JsonSchema> = {};
  for (const setting of chartSettings(catalogue)) {
    const description = setting.chart.description ?? `${setting.chart.help} (${settingRef(setting)}).`;
    const format = setting.chart.format;
    switch (setting.type) {
      case 'int':
        if (setting.min === undefined)
          throw new Error(`${settingRef(setting)}: a chart integer needs a minimum`);
        schemas[setting.chart.key] = int(description, setting.min, setting.max);
        break;
      case 'bool':
        schemas[setting.chart.key] = bool(description);
        break;
      case 'duration':
        schemas[setting.chart.key] = str(description, PATTERNS.duration);
        break;
      case 'enum':
        schemas[setting.chart.key] = oneOf(description, [...(setting.choices ?? [])]);
        break;
      case 'regex':
        // Helm checks it compiles (Go regexp): an unbalanced one would make the plugin exit at start-up.
        schemas[setting.chart.key] = { description, type: 'string', minLength: 1, format: 'regex' };
        break;
      default:
        schemas[setting.chart.key] =
          format === 'resourceName' || format === 'optionalResourceName'
            ? resourceName(description, format === 'optionalResourceName')
            : str(description, format && PATTERNS[format]);
    }
  }
  return schemas;
}

const stringMap = (description: string): JsonSchema => ({
  description,
  type: 'object',
  additionalProperties: { type: 'string' },
});

/** Label values: at most 63 characters, alphanumeric at both ends, `-_.` between (or empty). */
const labelMap = (description: string): JsonSchema => ({
  description,
  type: 'object',
  additionalProperties: {
    type: 'string',
    maxLength: 63,
    pattern: '^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$',
  },
});

/** A DNS-1123 label, or empty. */
const optionalDnsLabel = (description: string): JsonSchema => ({
  ...str(description, '^([a-z0-9]([-a-z0-9]*[a-z0-9])?)?$'),
  maxLength: 63,
});

const tolerations = (description: string): JsonSchema => ({
  description,
  type: 'array',
  items: {
    type: 'object',
    additionalProperties: false,
    properties: {
      key: { type: 'string' },
      operator: { enum: ['Exists', 'Equal'] },
      value: { type: 'string' },
      effect: { enum: ['NoSchedule', 'PreferNoSchedule', 'NoExecute'] },
      tolerationSeconds: { type: 'integer' },
    },
    // The API server refuses a value with `Exists` (it matches any value).
    if: { required: ['operator'], properties: { operator: { const: 'Exists' } } },
    then: { properties: { value: { const: '' } } },
  },
});

/** Pod affinity as the API takes it; only the top-level keys are checked here (the API server checks the rest). */
const affinity = (description: string): JsonSchema =>
  takenWhole({
    description,
    type: 'object',
    additionalProperties: false,
    properties: {
      nodeAffinity: { type: 'object' },
      podAffinity: { type: 'object' },
      podAntiAffinity: { type: 'object' },
    },
  });

const updateStrategy = (description: string): JsonSchema =>
  takenWhole({
    description,
    type: 'object',
    additionalProperties: false,
    properties: {
      type: { enum: ['RollingUpdate', 'OnDelete'] },
      rollingUpdate: {
        type: 'object',
        additionalProperties: false,
        properties: {
          maxUnavailable: { type: ['integer', 'string'], pattern: '^[0-9]+%?$', minimum: 0 },
          maxSurge: { type: ['integer', 'string'], pattern: '^[0-9]+%?$', minimum: 0 },
        },
      },
    },
  });

/** A PriorityClass name (DNS subdomain), or empty. */
const priorityClassName = (description: string): JsonSchema => ({
  ...str(description, '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*)?$'),
  maxLength: 253,
});

/** The pod settings given globally and per plugin. */
function podSettings(scope: 'global' | 'plugin'): Record<string, JsonSchema> {
  const plugin = scope === 'plugin';
  return {
    podAnnotations: {
      ...stringMap(
        plugin ? 'Pod annotations, over the global podAnnotations.' : 'Annotations of every plugin pod.',
      ),
    },
    podLabels: labelMap(
      plugin
        ? "Pod labels, over the global podLabels (the chart's own labels win)."
        : "Labels of every plugin pod (the chart's own labels win).",
    ),
    affinity: affinity(plugin ? 'Pod affinity; {} = the global affinity.' : 'Affinity of every plugin pod.'),
    ...(plugin
      ? {}
      : {
          tolerations: tolerations(
            "Tolerations added to every plugin's own (plugins tolerate every taint by default).",
          ),
        }),
    priorityClassName: priorityClassName(
      plugin
        ? 'PriorityClass of the pods; "" = the global priorityClassName.'
        : 'PriorityClass of every plugin pod: system-node-critical, so a plugin is not evicted before the pods using its devices ("" = none).',
    ),
    updateStrategy: updateStrategy(
      plugin
        ? 'DaemonSet update strategy; {} = the global updateStrategy.'
        : 'DaemonSet update strategy of every plugin.',
    ),
  };
}

const quantities: JsonSchema = {
  type: 'object',
  additionalProperties: { type: ['string', 'number'], pattern: PATTERNS.quantity },
};

/** The keys every plugin section has besides its own. */
function plugin(
  name: string,
  description: string,
  own: Record<string, JsonSchema>,
  labelSource = 'its NodeFeatureRule sets',
): JsonSchema {
  return section(description, {
    enabled: bool(`Deploy the ${name} plugin.`),
    ...own,
    httpPort: int(
      `Port of the plugin's /healthz, /readyz and /metrics (distinct per plugin: netdevice uses the host network).`,
      1,
      65535,
    ),
    nodeSelector: stringMap(`Nodes the ${name} DaemonSet runs on. The default is the label ${labelSource}.`),
    tolerations: tolerations(
      'Tolerations of the DaemonSet pods (default: every taint, as node agents do), plus the global ones. With operator Exists, value is empty.',
    ),
    ...podSettings('plugin'),
    resources: {
      description:
        'Container resources. Defaults from BENCHMARKS.md: a plugin (Node 26) uses ~56 MiB idle, ~64 MiB after 10,000 Allocates and 69 MiB at the peak of 5,000 concurrent ones (request 72Mi: the loaded figure + ~12%; limit 128Mi: the peak × 1.85); no CPU limit, as throttling only delays a kubelet call.',
      type: 'object',
      additionalProperties: false,
      properties: { requests: quantities, limits: quantities },
    },
  });
}

/** `mode` of the families that have a DRA mode (synth/dra.ts). */
const mode = (driver: string): JsonSchema =>
  oneOf(
    `devicePlugin: a kubelet device plugin (extended resource). dra: a DRA driver named ${driver} (needs resource.k8s.io/v1, Kubernetes >= 1.34): ResourceSlices, a DeviceClass of that name, the kubelet's plugin dirs, a ServiceAccount with RBAC, a ResourceSlice node policy and an uninstall hook (docs/DRA.md).`,
    ['devicePlugin', 'dra'],
  );

export const VALUES_SCHEMA: JsonSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  title: 'kube-device-plugins values',
  type: 'object',
  additionalProperties: false,
  required: [
    'nameOverride',
    'fullnameOverride',
    'image',
    'imagePullSecrets',
    'kubeletRootDir',
    'podAnnotations',
    'podLabels',
    'affinity',
    'tolerations',
    'priorityClassName',
    'updateStrategy',
    'logLevel',
    'logFormat',
    'nfd',
    'policies',
    'podMonitor',
    'tests',
    'tdx',
    'kvm',
    'devnode',
    'cxi',
    'netdevice',
    'cex',
  ],
  properties: {
    global: {
      description: 'Values an umbrella chart shares with its subcharts (unused here).',
      type: 'object',
    },
    nameOverride: optionalDnsLabel(
      'Replaces the chart name in object names and the app.kubernetes.io/name label ("" = kube-device-plugins).',
    ),
    fullnameOverride: optionalDnsLabel(
      'Replaces the name prefix of every object ("" = the release name, plus the chart name unless the release name holds it).',
    ),
    image: section('The one image every plugin runs.', {
      repository: str('Image repository.', '^[a-z0-9][a-z0-9._/:-]*$'),
      tag: str('Image tag ("" = the chart appVersion).', '^([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?$'),
      digest: str(
        'Image digest, e.g. sha256:<64 hex digits>; when set it is used instead of the tag.',
        '^(sha256:[a-f0-9]{64})?$',
      ),
      pullPolicy: oneOf('Image pull policy.', ['IfNotPresent', 'Always', 'Never']),
    }),
    imagePullSecrets: {
      description: 'Secrets (in the release namespace) to pull the image with, e.g. [{name: regcred}].',
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name'],
        properties: { name: { type: 'string', pattern: '^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$', maxLength: 253 } },
      },
    },
    kubeletRootDir: str(
      "The kubelet's root directory on the nodes (k0s: /var/lib/k0s/kubelet, microk8s: /var/snap/microk8s/common/var/lib/kubelet); the device-plugins and pod-resources dirs (and in DRA mode plugins and plugins_registry) are under it.",
      PATTERNS.absolutePath,
    ),
    ...podSettings('global'),
    // logLevel, logFormat: the common flags' (plugins/catalogue/common.ts).
    ...settingSchemas(COMMON_FLAGS),
    nfd: section('Node Feature Discovery rules that label the nodes each plugin selects.', {
      enabled: bool(
        'Create a NodeFeatureRule per enabled plugin (only when the cluster serves nfd.k8s-sigs.io).',
      ),
    }),
    policies: section('Admission policies.', {
      enabled: bool(
        'CXI: MutatingAdmissionPolicy adding the Multus networks annotation (when the cluster serves it). CEX: ValidatingAdmissionPolicy keeping each config set to its project namespace.',
      ),
    }),
    podMonitor: section("A Prometheus Operator PodMonitor scraping every plugin's /metrics.", {
      enabled: bool('Create it (only when the cluster serves monitoring.coreos.com/v1 PodMonitor).'),
      interval: { ...str('Scrape interval, e.g. 30s or 1m30s.', PATTERNS.prometheusDuration), minLength: 2 },
      labels: stringMap('Labels of the PodMonitor (add the ones your Prometheus selects).'),
    }),
    tests: section('`helm test`: a pod that checks the release on the live cluster (see docs/deploy.md).', {
      enabled: bool(
        'Install the test pod hook and its RBAC (a ServiceAccount that may read DaemonSets and nodes, and create pods as a dry run only).',
      ),
      timeoutSeconds: int(
        'How long the test waits for plugin pods to be ready and resources allocatable.',
        0,
        3600,
      ),
    }),
    tdx: plugin('TDX guest', 'Intel TDX guest device (/dev/tdx_guest) and the CCNP socket dir.', {
      mode: mode('tdx.kube-device-plugins.io'),
      ...settingSchemas(TDX_SETTINGS),
    }),
    kvm: plugin('KVM', '/dev/kvm shared among pods.', {
      mode: mode('kvm.kube-device-plugins.io'),
      ...settingSchemas(KVM_SETTINGS),
    }),
    devnode: plugin(
      'device-node',
      'Generic device nodes, by glob under /dev (label nodes by hand).',
      {
        mode: mode('devnode.kube-device-plugins.io'),
        config: section("The plugin's config file, shipped in a ConfigMap (hot-reloaded).", {
          resources: {
            description:
              'The resources (at least one, names unique): each a glob of device nodes under /dev.',
            type: 'array',
            minItems: 1,
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['name', 'glob'],
              properties: {
                name: resourceName('Resource name.'),
                glob: str(
                  'Glob of device nodes, relative to /dev (e.g. dri/renderD*).',
                  PATTERNS.devnodeGlob,
                ),
                containerPath: str(
                  'Path in the container: absolute, {name} = node name, {path} = path under /dev (default /dev/{path}).',
                  PATTERNS.devnodeContainerPath,
                ),
                permissions: oneOf('cgroup permissions: r, w and m, each at most once (default rw).', [
                  'r',
                  'w',
                  'm',
                  'rw',
                  'wr',
                  'rm',
                  'mr',
                  'wm',
                  'mw',
                  'rwm',
                  'rmw',
                  'wrm',
                  'wmr',
                  'mrw',
                  'mwr',
                ]),
                shareCount: int('Pods per device node (default 1).', 1, 10000),
              },
            },
          },
        }),
      },
      'you put on the nodes by hand (there is no NodeFeatureRule for devnode)',
    ),
    cxi: plugin('CXI', 'HPE Slingshot NICs.', {
      ...settingSchemas(CXI_SETTINGS),
      nics: {
        description:
          'One Multus NetworkAttachmentDefinition (ipvlan + Whereabouts, named <release>-<master>-ipvlan) per NIC, and the policy that attaches CXI pods to them; [] (the default) = none. IP ranges are site-specific; upstream uses e.g. [{master: hsn0, mode: l2, range: 10.150.10.1/28}, {master: hsn1, mode: l2, range: 10.150.11.1/28}].',
        type: 'array',
        items: {
          type: 'object',
          additionalProperties: false,
          required: ['master', 'mode', 'range'],
          properties: {
            master: str('Host interface, e.g. hsn0.', PATTERNS.interfaceName),
            mode: oneOf('ipvlan mode.', ['l2', 'l3', 'l3s']),
            range: str('Whereabouts IP range in CIDR notation.', PATTERNS.cidr),
          },
        },
      },
    }),
    netdevice: plugin(
      'netdevice',
      'Host network interfaces moved into pods (opt-in per node).',
      {
        ...settingSchemas(NETDEVICE_SETTINGS),
        nfdRule: bool(
          'Label nodes having a physical NIC that matches `interfaces` (else label nodes by hand).',
        ),
      },
      'its optional NodeFeatureRule sets (netdevice.nfdRule), or you put on the nodes by hand',
    ),
    cex: plugin('CEX', "IBM Z CryptoExpress adapters (APQNs), configured as IBM's k8s-cex-dev-plugin.", {
      configSets: {
        description: 'The crypto config sets (ConfigMap cex-resources-config, file cex_resources.json).',
        type: 'array',
        items: CEX_CONFIG_SET_SCHEMA,
      },
      ...settingSchemas(CEX_SETTINGS),
    }),
  },
};
