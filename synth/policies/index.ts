export * from './cel';
export * from './cex-projects';
export * from './cxi-networks';
