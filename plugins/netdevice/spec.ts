/**
 * The CDI spec that tells the container runtime how to hand each interface to a container, in one of
 * two modes:
 * - `netdevices`: CDI 1.1.0 `containerEdits.netDevices`; the runtime moves the link itself (OCI
 *   `linux.netDevices`: runc 1.4+ or crun, under an engine whose CDI library reads CDI 1.1.0).
 * - `hooks`: for runtimes without that support, OCI hooks run our POSIX-shell hook program from the
 *   host's hook directory: createRuntime moves the link in, poststop brings it back.
 */
import * as path from 'path';
import { NETDEVICE_CDI_MODES, NETDEVICE_SETTINGS } from '../catalogue/netdevice';
import { buildCdiSpec, cdiSpecFileName, type CdiContainerEdits, type CdiSpec } from '../framework';

export const CDI_KIND = 'networking.k8s.io/netdevice';
export const DEFAULT_RESOURCE_NAME = NETDEVICE_SETTINGS[0].default;
export const CDI_MODES = NETDEVICE_CDI_MODES;
export type CdiMode = (typeof CDI_MODES)[number];

/** File name of the hook program, in the repo (plugins/netdevice/hooks/) and on the host (--hook-dir). */
export const HOOK_PROGRAM = 'netdevice-hook.sh';
/** Seconds a runtime lets one hook run: moving a link takes milliseconds; a hung hook must not hang pods. */
export const HOOK_TIMEOUT_SECONDS = 10;
/** Runtimes may start hooks with an empty environment; the hook needs ip and nsenter on its PATH. */
const HOOK_ENV = ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'];

export function netdeviceCdiSpec(interfaces: string[], mode: CdiMode, hookDir: string): CdiSpec {
  return buildCdiSpec({
    kind: CDI_KIND,
    devices: interfaces.map((name) => ({ name, containerEdits: containerEdits(name, mode, hookDir) })),
  });
}

function containerEdits(name: string, mode: CdiMode, hookDir: string): CdiContainerEdits {
  if (mode === 'netdevices') return { netDevices: [{ hostInterfaceName: name, name }] };
  return {
    hooks: (['createRuntime', 'poststop'] as const).map((hookName) => ({
      hookName,
      path: path.join(hookDir, HOOK_PROGRAM),
      args: [HOOK_PROGRAM, hookName, name],
      env: HOOK_ENV,
      timeout: HOOK_TIMEOUT_SECONDS,
    })),
  };
}

/**
 * One spec file per resource: two DaemonSets serving different interface sets under different resource
 * names must not overwrite each other's spec (they share the kind, never a device name).
 */
export function specFileName(resourceName: string): string {
  const base = cdiSpecFileName(CDI_KIND);
  if (resourceName === DEFAULT_RESOURCE_NAME) return base;
  return base.replace(/\.yaml$/, `_${resourceName.replace(/[^A-Za-z0-9_.-]/g, '_')}.yaml`);
}
