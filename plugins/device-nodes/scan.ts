/** Building blocks for NodeSet.scan: probe one node, or every node a glob matches. */
import * as path from 'path';
import { probeDeviceNode, type DeviceNodeProbeOptions } from '../framework';
import { globBaseDir, matchGlob, type Glob } from './glob';
import type { NodeState } from './resource';

/** The state of the node at `<devfsRoot>/<rel>`. */
export function nodeState(devfsRoot: string, rel: string, probe: DeviceNodeProbeOptions = {}): NodeState {
  const result = probeDeviceNode(path.join(devfsRoot, rel), probe);
  return {
    rel,
    health: result.health,
    ...(result.reason ? { reason: result.reason } : {}),
    ...(result.note ? { note: result.note } : {}),
    ...(result.major !== undefined
      ? { devno: `${result.major}:${result.minor}`, major: result.major, minor: result.minor }
      : {}),
  };
}

/** Two nodes whose paths give one key (`x_y/z` and `x/y_z` → `x_y_z`): `kept` is served, `hidden` is not. */
export interface KeyCollision {
  key: string;
  kept: string;
  hidden: string;
}

/**
 * Every node the glob matches, keyed by its path below the glob's fixed directory with `/` as `_`:
 * `dri/renderD*` → `renderD128`; a wildcard directory stays in the key (`a/card0` → `a_card0`).
 * When two paths give one key, the first by path (byte order, as matchGlob sorts) keeps it and the other
 * is left out and reported to `onCollision` (on every scan: the caller decides how often to log).
 */
export function scanGlob(
  devfsRoot: string,
  glob: Glob,
  probe: DeviceNodeProbeOptions = {},
  onCollision?: (collision: KeyCollision) => void,
): Map<string, NodeState> {
  const base = globBaseDir(glob);
  const nodes = new Map<string, NodeState>();
  for (const rel of matchGlob(devfsRoot, glob)) {
    const key = (base ? rel.slice(base.length + 1) : rel).replace(/\//g, '_');
    const kept = nodes.get(key);
    if (kept) {
      onCollision?.({ key, kept: kept.rel, hidden: rel });
      continue;
    }
    nodes.set(key, nodeState(devfsRoot, rel, probe));
  }
  return nodes;
}
