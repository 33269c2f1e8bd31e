/** A Prometheus Operator PodMonitor (monitoring.coreos.com/v1) scraping every plugin's /metrics. */
import { ApiObject, JsonPatch } from 'cdk8s';
import { Construct } from 'constructs';
import { mergeMaps } from './helm/symbolic';
import { componentLabels, releaseOf } from './release';

export interface PluginPodMonitorProps {
  readonly namespace: string;
  /** Labels added to the PodMonitor's own: the ones your Prometheus' podMonitorSelector matches. */
  readonly labels: Record<string, string>;
  /** Scrape interval, e.g. `30s`. */
  readonly interval: string;
}

export class PluginPodMonitor extends ApiObject {
  constructor(scope: Construct, id: string, props: PluginPodMonitorProps) {
    const release = releaseOf(scope);
    super(scope, id, {
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'PodMonitor',
      metadata: { name: release.fullname, namespace: props.namespace },
      spec: {
        // This release's plugin pods.
        selector: {
          matchLabels: {
            'app.kubernetes.io/name': release.name,
            'app.kubernetes.io/instance': release.instance,
          },
        },
        namespaceSelector: { matchNames: [props.namespace] },
        // Series carry the plugin they come from.
        podTargetLabels: ['app.kubernetes.io/component'],
        podMetricsEndpoints: [{ port: 'http', path: '/metrics', interval: props.interval }],
      },
    });
    // cdk8s copies metadata.labels key by key; set the map whole, so a map from values.yaml passes intact.
    this.addJsonPatch(
      JsonPatch.add('/metadata/labels', mergeMaps(props.labels, componentLabels(scope, 'monitoring'))),
    );
  }
}
