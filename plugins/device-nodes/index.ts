/** The shared device-node engine of the tdx, kvm and devnode families. */
export * from './resource';
export { nodeState, scanGlob, type KeyCollision } from './scan';
export {
  compileGlob,
  matchGlob,
  globBaseDir,
  globWatchDirs,
  withAncestors,
  GlobError,
  type Glob,
} from './glob';
export { SHARED_COUNT_FLAG, MAX_SHARED_COUNT, checkedResourceName } from './flags';
