/**
 * kube-device-plugins as a cdk8s construct library: compose your own chart from the plugins, NFD rules and
 * policies, or take the whole bundle (KubeDevicePluginsChart). See synth/examples/custom-chart.ts.
 */
export * from './chart';
export * from './cex-config';
export * from './cluster-apis';
export * from './common';
export * from './config-map';
export * from './daemonset';
export * from './dra';
export * from './k8s-types';
export * from './multus';
export * from './plugins/cex';
export * from './plugins/cxi';
export * from './plugins/devnode';
export * from './plugins/kvm';
export * from './plugins/netdevice';
export * from './plugins/tdx';
export * from './pod-monitor';
export * from './values';
export * from '../nfd-rules';
export * from '../policies';
