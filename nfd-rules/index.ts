export * from './node-feature-rule';
export * from './rules';
