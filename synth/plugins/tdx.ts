/**
 * Intel TDX guest plugin (replaces CCNP's device plugin): hands `/dev/tdx_guest` and the CCNP socket directory
 * to pods. Reads host /dev; creates the UDS dir; optionally reads configfs-tsm.
 */
import * as path from 'path';
import { Construct } from 'constructs';
import { labelMap, NODE_LABELS } from '../../nfd-rules';
import { withDefaults } from '../common';
import { DRA_API_VERSION, DeviceMode, draPodSettings } from '../dra';
import { DevicePluginDaemonSet, DevicePluginOptions, HOST_PATHS } from '../daemonset';
import { defineDerivation, derive, isSymbolic } from '../helm/symbolic';

export interface TdxPluginProps extends DevicePluginOptions {
  /** `devicePlugin` (default) or `dra`: run as a DRA driver (see synth/dra.ts for what else it needs). */
  readonly mode?: DeviceMode;
  /** DRA mode: the group/version of resource.k8s.io the cluster serves ('' = none: DRA mode refused). */
  readonly draApi?: string;
  /** Default `tdx.intel.com/tdx-guest`. */
  readonly resourceName?: string;
  /** Interchangeable IDs advertised for the one guest device (pods per node). Default 110. */
  readonly sharedCount?: number;
  /** Host directory of the CCNP sockets, mounted into pods. Default `/run/ccnp/uds`. */
  readonly udsDir?: string;
  /** When set (e.g. `tdx.intel.com/ccnp-uds`), the UDS dir is also its own resource. Default off (''). */
  readonly udsResourceName?: string;
  /** Also mount the configfs-tsm report dir, for kernels that expose TDX quotes there. Default false. */
  readonly tsmReport?: boolean;
}

export const TDX_DEFAULTS = {
  mode: 'devicePlugin' as DeviceMode,
  resourceName: 'tdx.intel.com/tdx-guest',
  sharedCount: 110,
  udsDir: '/run/ccnp/uds',
  udsResourceName: '',
  tsmReport: false,
  httpPort: 8081,
  nodeSelector: labelMap(NODE_LABELS.tdx),
};

/** The parent of an absolute path (Go's path.Dir, i.e. Sprig's `dir`, for paths without a trailing `/`). */
export const parentDirectory = defineDerivation({
  name: 'kdp.parentDirectory',
  compute: ({ path: child }: { path: string }) => path.posix.dirname(child),
  template: '{{- dir .path -}}',
});

export class TdxPlugin extends Construct {
  readonly daemonSet: DevicePluginDaemonSet;

  constructor(scope: Construct, id: string, props: TdxPluginProps = {}) {
    super(scope, id);
    const p = withDefaults(TDX_DEFAULTS, props);
    // The parent is mounted read-write: for a top-level dir that would be the host's root (values.schema.json
    // says the same for the chart).
    if (
      !isSymbolic(p.udsDir) &&
      (!path.posix.isAbsolute(p.udsDir) || parentDirectory.compute({ path: p.udsDir }) === '/')
    )
      throw new Error(
        `TdxPlugin: udsDir "${p.udsDir}" must be an absolute path at least two levels deep (e.g. /run/ccnp/uds): its parent is mounted read-write`,
      );
    this.daemonSet = new DevicePluginDaemonSet(this, 'daemonset', {
      ...p,
      plugin: 'tdx',
      dra: draPodSettings(this, 'tdx', p.mode, p.draApi ?? DRA_API_VERSION),
      args: [
        `--resource-name=${p.resourceName}`,
        `--shared-count=${p.sharedCount}`,
        `--uds-dir=${p.udsDir}`,
        `--uds-resource-name=${p.udsResourceName}`,
        `--tsm-report=${p.tsmReport}`,
      ],
      hostPaths: [
        HOST_PATHS.dev,
        // The parent, not the dir itself: the kubelet would create a missing dir 0755, the plugin makes it 0757
        // (any pod's CCNP client may create its socket) and re-creates it if something removes it.
        {
          name: 'ccnp',
          path: derive(parentDirectory, { path: p.udsDir }),
          type: 'DirectoryOrCreate',
          readOnly: false,
        },
        {
          name: 'configfs',
          path: '/sys/kernel/config',
          type: 'Directory',
          readOnly: true,
          when: p.tsmReport,
        },
      ],
    });
  }
}
