/** KVM plugin (replaces ihcsim's): shares `/dev/kvm` among pods, with a CDI spec by default. */
import { Construct } from 'constructs';
import { labelMap, NODE_LABELS } from '../../nfd-rules';
import { withDefaults } from '../common';
import { DRA_API_VERSION, DeviceMode, draPodSettings } from '../dra';
import { DevicePluginDaemonSet, DevicePluginOptions, HOST_PATHS } from '../daemonset';

export interface KvmPluginProps extends DevicePluginOptions {
  /** `devicePlugin` (default) or `dra`: run as a DRA driver (see synth/dra.ts for what else it needs). */
  readonly mode?: DeviceMode;
  /** DRA mode: the group/version of resource.k8s.io the cluster serves ('' = none: DRA mode refused). */
  readonly draApi?: string;
  /** Default `github.com.ihcsim/kvm` (e.g. `devices.kubevirt.io/kvm` for KubeVirt). */
  readonly resourceName?: string;
  /** IDs advertised for the one `/dev/kvm` (pods per node). Default 110. */
  readonly sharedCount?: number;
  /** Write a CDI spec and return CDI device names. Default true. */
  readonly cdi?: boolean;
}

export const KVM_DEFAULTS = {
  mode: 'devicePlugin' as DeviceMode,
  resourceName: 'github.com.ihcsim/kvm',
  sharedCount: 110,
  cdi: true,
  httpPort: 8082,
  nodeSelector: labelMap(NODE_LABELS.kvm),
};

export class KvmPlugin extends Construct {
  readonly daemonSet: DevicePluginDaemonSet;

  constructor(scope: Construct, id: string, props: KvmPluginProps = {}) {
    super(scope, id);
    const p = withDefaults(KVM_DEFAULTS, props);
    this.daemonSet = new DevicePluginDaemonSet(this, 'daemonset', {
      ...p,
      plugin: 'kvm',
      dra: draPodSettings(this, 'kvm', p.mode, p.draApi ?? DRA_API_VERSION),
      args: [`--resource-name=${p.resourceName}`, `--shared-count=${p.sharedCount}`, `--cdi=${p.cdi}`],
      hostPaths: [HOST_PATHS.dev, { ...HOST_PATHS.cdi, when: p.cdi }],
    });
  }
}
