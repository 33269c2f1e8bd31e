/**
 * The whole bundle as one cdk8s chart: every enabled plugin with its NodeFeatureRule, the CXI networks and
 * policy, the CEX policy, the PodMonitor. The cdk8s app builds it from plain values; `npm run synth` builds it
 * from symbolic values to write the Helm chart (see helm/symbolic.ts), so both say exactly the same.
 */
import { Chart } from 'cdk8s';
import { Construct } from 'constructs';
import {
  NfdRule,
  NodeFeatureRule,
  cexRule,
  cxiNicRule,
  kvmRule,
  netdeviceRule,
  tdxGuestRule,
} from '../nfd-rules';
import { CexProjectPolicy } from '../policies/cex-projects';
import { CxiNetworksPolicy } from '../policies/cxi-networks';
import { ClusterApis, DEFAULT_CLUSTER_APIS } from './cluster-apis';
import { DEFAULT_NAMESPACE } from './common';
import { DevicePluginOptions } from './daemonset';
import { DeviceMode, DraDriver, DraFamily, DraUninstall, draDrivers, isDraMode } from './dra';
import {
  Condition,
  allOf,
  concatLists,
  derive,
  forEach,
  gate,
  mergeMaps,
  nonEmpty,
  orDefault,
} from './helm/symbolic';
import { CxiNetworkAttachment, cxiNetworksAnnotation } from './multus';
import { CexPlugin } from './plugins/cex';
import { CxiPlugin } from './plugins/cxi';
import {
  DEVNODE_CONFIG_DIR,
  DEVNODE_CONFIG_FLAG,
  DevnodePlugin,
  devnodeConfigMapName,
} from './plugins/devnode';
import { KvmPlugin } from './plugins/kvm';
import { NetdevicePlugin } from './plugins/netdevice';
import { TdxPlugin } from './plugins/tdx';
import { ChartTest } from './chart-test';
import { PluginPodMonitor } from './pod-monitor';
import { Release, componentLabels, imageReference, objectName, release, setRelease } from './release';
import { ChartValues, PluginValues, defaultValues } from './values';

export interface KubeDevicePluginsChartProps {
  /** Default: the chart's default values. */
  readonly values?: ChartValues;
  /** Default `kube-system`. */
  readonly namespace?: string;
  /** The optional APIs the target cluster serves. Default: all of them. */
  readonly apis?: ClusterApis;
  /** Default `kube-device-plugins`: object names start with `kube-device-plugins-` (see release.ts). */
  readonly releaseName?: string;
  /** `app.kubernetes.io/managed-by`. Default `cdk8s`. */
  readonly managedBy?: string;
  /** The whole release (template mode passes tokens); default: from the values and the two props above. */
  readonly release?: Release;
}

export class KubeDevicePluginsChart extends Chart {
  constructor(scope: Construct, id: string, props: KubeDevicePluginsChartProps = {}) {
    super(scope, id);
    const values = props.values ?? defaultValues();
    const namespace = props.namespace ?? DEFAULT_NAMESPACE;
    const apis = props.apis ?? DEFAULT_CLUSTER_APIS;
    const chartRelease =
      props.release ??
      release({
        releaseName: props.releaseName,
        managedBy: props.managedBy,
        nameOverride: values.nameOverride,
        fullnameOverride: values.fullnameOverride,
      });
    setRelease(this, chartRelease);

    const image = derive(imageReference, {
      repository: values.image.repository,
      tag: values.image.tag,
      digest: values.image.digest,
      appVersion: chartRelease.appVersion,
    });
    // A plugin's own pod settings win over the global ones; maps merge, tolerations add up.
    const options = (plugin: PluginValues): DevicePluginOptions => ({
      namespace,
      image,
      imagePullPolicy: values.image.pullPolicy,
      imagePullSecrets: values.imagePullSecrets,
      kubeletRootDir: values.kubeletRootDir,
      podAnnotations: mergeMaps(values.podAnnotations, plugin.podAnnotations),
      podLabels: mergeMaps(values.podLabels, plugin.podLabels),
      affinity: orDefault(plugin.affinity, values.affinity, 'yaml'),
      priorityClassName: orDefault(plugin.priorityClassName, values.priorityClassName, 'str'),
      updateStrategy: orDefault(plugin.updateStrategy, values.updateStrategy, 'yaml'),
      logLevel: values.logLevel,
      logFormat: values.logFormat,
      httpPort: plugin.httpPort,
      nodeSelector: plugin.nodeSelector,
      tolerations: concatLists(plugin.tolerations, values.tolerations),
      resources: plugin.resources,
    });
    const nodeFeatureRule = (
      scope: Construct,
      component: string,
      rule: NfdRule,
      ...conditions: Condition[]
    ) => {
      const rules = gate(scope, 'nfd', values.nfd.enabled, nonEmpty(apis.nodeFeatureRule), ...conditions);
      if (!rules) return;
      new NodeFeatureRule(rules, 'rule', {
        name: objectName(rules, component),
        labels: componentLabels(rules, component),
        rules: [rule],
      });
    };

    // DRA mode: the driver's ServiceAccount, RBAC, DeviceClass and slice policy, and the uninstall hook, each
    // in a scope of its own (one template file per component and kind).
    const draApi = apis.dynamicResourceAllocation;
    const draObjects = (family: DraFamily, plugin: PluginValues & { mode: DeviceMode }) => {
      const conditions = [plugin.enabled, isDraMode(plugin.mode), nonEmpty(draApi)];
      const driver = gate(this, `${family}-dra`, ...conditions);
      if (driver) new DraDriver(driver, 'driver', { family, namespace });
      const uninstall = gate(this, `${family}-dra-uninstall`, ...conditions);
      if (uninstall) {
        new DraUninstall(uninstall, 'uninstall', {
          family,
          namespace,
          image,
          imagePullPolicy: values.image.pullPolicy,
          imagePullSecrets: values.imagePullSecrets,
          logLevel: values.logLevel,
          logFormat: values.logFormat,
          // devnode requires --config, even for the one-shot.
          ...(family === 'devnode' && {
            args: [DEVNODE_CONFIG_FLAG],
            configMap: { name: devnodeConfigMapName(uninstall), mountPath: DEVNODE_CONFIG_DIR },
          }),
        });
      }
    };

    const tdx = gate(this, 'tdx', values.tdx.enabled);
    if (tdx) {
      new TdxPlugin(tdx, 'plugin', { ...values.tdx, ...options(values.tdx), draApi });
      nodeFeatureRule(tdx, 'tdx', tdxGuestRule());
    }
    draObjects('tdx', values.tdx);

    const kvm = gate(this, 'kvm', values.kvm.enabled);
    if (kvm) {
      new KvmPlugin(kvm, 'plugin', { ...values.kvm, ...options(values.kvm), draApi });
      nodeFeatureRule(kvm, 'kvm', kvmRule());
    }
    draObjects('kvm', values.kvm);

    const devnode = gate(this, 'devnode', values.devnode.enabled);
    if (devnode)
      new DevnodePlugin(devnode, 'plugin', { ...values.devnode, ...options(values.devnode), draApi });
    draObjects('devnode', values.devnode);

    const cxi = gate(this, 'cxi', values.cxi.enabled);
    if (cxi) {
      new CxiPlugin(cxi, 'plugin', { ...values.cxi, ...options(values.cxi) });
      nodeFeatureRule(cxi, 'cxi', cxiNicRule());
      const networks = gate(cxi, 'networks', nonEmpty(apis.networkAttachmentDefinition));
      if (networks) {
        forEach(
          networks,
          'nic',
          values.cxi.nics,
          (scope, nic) =>
            new CxiNetworkAttachment(scope, 'nad', { namespace, nic, allNics: values.cxi.nics }),
        );
      }
      const policy = gate(
        cxi,
        'policy',
        values.policies.enabled,
        nonEmpty(values.cxi.nics),
        nonEmpty(apis.mutatingAdmissionPolicy),
      );
      if (policy) {
        new CxiNetworksPolicy(policy, 'networks', {
          networks: derive(cxiNetworksAnnotation, {
            nics: values.cxi.nics,
            fullname: chartRelease.fullname,
            namespace,
          }),
          resourceName: values.cxi.resourceName,
          apiVersion: apis.mutatingAdmissionPolicy,
        });
      }
    }

    const netdevice = gate(this, 'netdevice', values.netdevice.enabled);
    if (netdevice) {
      new NetdevicePlugin(netdevice, 'plugin', { ...values.netdevice, ...options(values.netdevice) });
      nodeFeatureRule(
        netdevice,
        'netdevice',
        netdeviceRule(values.netdevice.interfaces),
        values.netdevice.nfdRule,
      );
    }

    const cex = gate(this, 'cex', values.cex.enabled);
    if (cex) {
      new CexPlugin(cex, 'plugin', { ...values.cex, ...options(values.cex) });
      nodeFeatureRule(cex, 'cex', cexRule());
      const policy = gate(cex, 'policy', values.policies.enabled);
      if (policy) new CexProjectPolicy(policy, 'projects', { sets: values.cex.configSets });
    }

    const monitoring = gate(this, 'monitoring', values.podMonitor.enabled, nonEmpty(apis.podMonitor));
    if (monitoring) {
      new PluginPodMonitor(monitoring, 'pod-monitor', {
        namespace,
        labels: values.podMonitor.labels,
        interval: values.podMonitor.interval,
      });
    }

    const tests = gate(this, 'tests', values.tests.enabled);
    if (tests) {
      new ChartTest(tests, 'test', {
        namespace,
        image,
        imagePullPolicy: values.image.pullPolicy,
        imagePullSecrets: values.imagePullSecrets,
        plugins: {
          tdx: values.tdx,
          kvm: values.kvm,
          devnode: values.devnode,
          cxi: values.cxi,
          netdevice: values.netdevice,
          cex: values.cex,
        },
        cxiNetworks: {
          value: derive(cxiNetworksAnnotation, {
            nics: values.cxi.nics,
            fullname: chartRelease.fullname,
            namespace,
          }),
          installed: allOf(
            values.cxi.enabled,
            values.policies.enabled,
            nonEmpty(values.cxi.nics),
            nonEmpty(apis.mutatingAdmissionPolicy),
          ),
        },
        draDrivers: draDrivers({ tdx: values.tdx.mode, kvm: values.kvm.mode, devnode: values.devnode.mode }),
        timeoutSeconds: values.tests.timeoutSeconds,
      });
    }
  }
}
