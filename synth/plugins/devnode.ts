/**
 * Generic device-node plugin: resources defined by globs of host device nodes, from a config file shipped in
 * a ConfigMap (hot-reloaded by the plugin when the ConfigMap changes). It reads host /dev and nothing else:
 * it writes no CDI spec (Allocate names the nodes themselves), so it gets no CDI directory.
 */
import { Construct } from 'constructs';
import { labelMap, NODE_LABELS } from '../../nfd-rules';
import { withDefaults } from '../common';
import { DRA_API_VERSION, DeviceMode, draPodSettings } from '../dra';
import { objectName } from '../release';
import { DevicePluginDaemonSet, DevicePluginOptions, HOST_PATHS } from '../daemonset';
import { goJson } from '../helm/go-json';
import { defineDerivation, derive } from '../helm/symbolic';

export interface DevnodeResource {
  /** Resource name, e.g. `example.com/crand`. */
  readonly name: string;
  /** Glob of device nodes under /dev, e.g. `crand*`. */
  readonly glob: string;
  /** Path template of the node in the container (default: its host path). */
  readonly containerPath?: string;
  /** cgroup permissions, e.g. `rw` or `rwm`. */
  readonly permissions?: string;
  /** Pods that may share one node. */
  readonly shareCount?: number;
}

/** The plugin's config file. */
export interface DevnodeConfig {
  readonly resources: DevnodeResource[];
}

/** The example of ihcsim's demo: character clones of /dev/random named crand0..2. */
export const DEVNODE_EXAMPLE: DevnodeConfig = { resources: [{ name: 'example.com/crand', glob: 'crand*' }] };

export interface DevnodePluginProps extends DevicePluginOptions {
  /** `devicePlugin` (default) or `dra`: run as a DRA driver (see synth/dra.ts for what else it needs). */
  readonly mode?: DeviceMode;
  /** DRA mode: the group/version of resource.k8s.io the cluster serves ('' = none: DRA mode refused). */
  readonly draApi?: string;
  /** Default: the crand example. */
  readonly config?: DevnodeConfig;
}

export const DEVNODE_DEFAULTS = {
  mode: 'devicePlugin' as DeviceMode,
  config: DEVNODE_EXAMPLE,
  httpPort: 8083,
  nodeSelector: labelMap(NODE_LABELS.devnode),
};

/** JSON is YAML too: the plugin reads the file either way, and JSON is what Helm can write byte-exactly. */
export const DEVNODE_CONFIG_DIR = '/etc/kube-device-plugins';
const CONFIG_FILE = 'devnode.json';
/** `--config`, which the plugin requires (the DRA uninstall Job passes it too). */
export const DEVNODE_CONFIG_FLAG = `--config=${DEVNODE_CONFIG_DIR}/${CONFIG_FILE}`;

/**
 * The config file. A resource name twice makes the plugin refuse the file (and exit at start-up), and no JSON
 * Schema can say it: the constructs throw and the chart fails, with the same message.
 */
export const devnodeConfigJson = defineDerivation({
  name: 'kdp.devnode.configJson',
  compute: ({ resources }: { resources: readonly DevnodeResource[] }) => {
    const names = new Set<string>();
    for (const resource of resources) {
      if (names.has(resource.name))
        throw new Error(
          `devnode.config.resources: resource "${resource.name}" appears more than once; resource names must be unique`,
        );
      names.add(resource.name);
    }
    return goJson({ resources }, true);
  },
  template: `{{- $names := dict -}}
{{- range .resources -}}
{{- if hasKey $names .name -}}
{{- fail (printf "devnode.config.resources: resource %q appears more than once; resource names must be unique" .name) -}}
{{- end -}}
{{- $_ := set $names .name true -}}
{{- end -}}
{{- dict "resources" .resources | toPrettyJson -}}`,
});

/** The ConfigMap holding the config file. */
export function devnodeConfigMapName(scope: Construct): string {
  return objectName(scope, 'devnode');
}

export class DevnodePlugin extends Construct {
  readonly daemonSet: DevicePluginDaemonSet;

  constructor(scope: Construct, id: string, props: DevnodePluginProps = {}) {
    super(scope, id);
    const p = withDefaults(DEVNODE_DEFAULTS, props);
    this.daemonSet = new DevicePluginDaemonSet(this, 'daemonset', {
      ...p,
      plugin: 'devnode',
      dra: draPodSettings(this, 'devnode', p.mode, p.draApi ?? DRA_API_VERSION),
      args: [DEVNODE_CONFIG_FLAG],
      hostPaths: [HOST_PATHS.dev],
      configFile: {
        configMapName: devnodeConfigMapName(this),
        mountPath: DEVNODE_CONFIG_DIR,
        fileName: CONFIG_FILE,
        content: derive(devnodeConfigJson, { resources: p.config.resources }),
      },
    });
  }
}
