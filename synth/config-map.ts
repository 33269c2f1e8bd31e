import { ApiObject } from 'cdk8s';
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
export class ConfigFile extends ApiObject {
  constructor(scope: Construct, id: string, props: ConfigFileProps) {
    super(scope, id, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name: props.name,
        namespace: props.namespace,
        labels: componentLabels(scope, props.component),
      },
      data: { [props.fileName]: props.content },
    });
  }
}
