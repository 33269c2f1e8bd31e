/**
 * Node Feature Discovery's NodeFeatureRule (nfd.k8s-sigs.io/v1alpha1), typed for the parts we use.
 * Format: https://kubernetes-sigs.github.io/node-feature-discovery/stable/usage/customization-guide.html
 */
import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';

export type MatchOp =
  'In' | 'NotIn' | 'InRegexp' | 'Exists' | 'DoesNotExist' | 'Gt' | 'Lt' | 'GtLt' | 'IsTrue' | 'IsFalse';

export interface MatchExpression {
  readonly op: MatchOp;
  readonly value?: string[];
}

/** One term of `matchFeatures`: all its expressions must hold (and `matchName`, when given). */
export interface FeatureMatcher {
  /** e.g. `cpu.security`, `pci.device`, `kernel.enabledmodule`. */
  readonly feature: string;
  readonly matchExpressions?: Record<string, MatchExpression>;
  readonly matchName?: MatchExpression;
}

export interface NfdRule {
  readonly name: string;
  readonly labels: Record<string, string>;
  /** Logical AND of the terms. */
  readonly matchFeatures?: FeatureMatcher[];
  /** Logical OR of the alternatives (each a `matchFeatures` AND). */
  readonly matchAny?: Array<{ readonly matchFeatures: FeatureMatcher[] }>;
}

export const NODE_FEATURE_RULE_API_VERSION = 'nfd.k8s-sigs.io/v1alpha1';

export interface NodeFeatureRuleProps {
  /** Cluster-scoped object name. */
  readonly name: string;
  readonly labels?: Record<string, string>;
  readonly rules: NfdRule[];
}

export class NodeFeatureRule extends ApiObject {
  constructor(scope: Construct, id: string, props: NodeFeatureRuleProps) {
    super(scope, id, {
      apiVersion: NODE_FEATURE_RULE_API_VERSION,
      kind: 'NodeFeatureRule',
      metadata: { name: props.name, ...(props.labels && { labels: props.labels }) },
      spec: { rules: props.rules },
    });
  }
}
