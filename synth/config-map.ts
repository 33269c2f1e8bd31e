import { k8s } from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { componentLabels } from './release';

export interface ConfigFileProps {
  readonly name: string;
  readonly namespace: string;
  /** The plugin it configures (component label). */
  readonly component: string;
  readonly fileName: string;
  readonly content: string;
}

/** A ConfigMap holding one configuration file. */
export class ConfigFile extends k8s.KubeConfigMap {
  constructor(scope: Construct, id: string, props: ConfigFileProps) {
    super(scope, id, {
      metadata: {
        name: props.name,
        namespace: props.namespace,
        labels: componentLabels(scope, props.component),
      },
      data: { [props.fileName]: props.content },
    });
  }
}
