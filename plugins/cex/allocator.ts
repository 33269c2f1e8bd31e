/**
 * What one container gets for one CEX device: its own zcrypt node (granting just that APQN) as
 * /dev/z90crypt, and the shadow sysfs mounted read-only over /sys/bus/ap and /sys/devices/ap (plus
 * the host's queue dir in live mode). Runs under the device ID's lock, shared with clean-up.
 */
import type { ContainerAllocation, Logger } from '../framework';
import { zcryptNodeName, type DeviceRef } from './ids';
import type { KeyedLock } from './keyed-lock';
import type { ResourceReaper } from './reaper';
import type { ShadowSysfs } from './shadow-sysfs';
import type { ZcryptNodes } from './zcrypt';

export interface AllocatorDeps {
  zcrypt: ZcryptNodes;
  shadow: ShadowSysfs;
  reaper: ResourceReaper;
  lock: KeyedLock;
  onNodeCreated?(): void;
}

export class CexAllocator {
  constructor(private readonly deps: AllocatorDeps) {}

  async allocate(id: string, ref: DeviceRef, live: boolean, log: Logger): Promise<ContainerAllocation> {
    const { zcrypt, shadow, reaper, lock } = this.deps;
    return lock.run(id, async () => {
      const node = zcryptNodeName(id);
      const created = await zcrypt.ensure(node, ref.adapter, ref.domain);
      if (created) this.deps.onNodeCreated?.();
      let tree;
      try {
        tree = shadow.build(id, ref.adapter, ref.domain, live);
      } catch (err) {
        await zcrypt.destroy(node).catch(() => undefined);
        throw err;
      }
      reaper.allocated(id);
      log.info('allocated CEX device', {
        deviceId: id,
        node: zcrypt.devicePath(node),
        nodeCreated: created,
        shadowSysfs: tree.dir,
        liveSysfs: live,
      });
      const mounts = [
        { containerPath: '/sys/bus/ap', hostPath: tree.busDir, readOnly: true },
        { containerPath: '/sys/devices/ap', hostPath: tree.devicesDir, readOnly: true },
      ];
      if (tree.liveQueue)
        mounts.push({
          containerPath: `/sys/bus/ap/devices/${tree.liveQueue.queue}`,
          hostPath: tree.liveQueue.hostPath,
          readOnly: true,
        });
      return {
        devices: [{ containerPath: '/dev/z90crypt', hostPath: zcrypt.devicePath(node), permissions: 'rw' }],
        mounts,
      };
    });
  }
}
