/** `kube-device-plugins kvm`: hand /dev/kvm to many pods at once (replaces ihcsim's kvm plugin). */
import type { PluginCommand } from '../cli/command';
import { draFlags } from '../cli/dra';
import { checkedResourceName, resourceNameFlag, SHARED_COUNT_FLAG } from '../device-nodes';
import { createKvmResource, DEFAULT_KVM_RESOURCE } from './plugin';

export const command: PluginCommand = {
  name: 'kvm',
  summary:
    'Advertises <devfs-root>/kvm as --shared-count interchangeable devices; Allocate returns /dev/kvm (rw) ' +
    'and, with --cdi, the fully-qualified CDI device name. With --mode dra: one device `kvm` in the ' +
    "node's ResourceSlice that many claims may hold at once (per-claim CDI specs; --cdi does not apply).",
  dra: true,
  flags: [
    resourceNameFlag('KVM_RESOURCE_NAME', DEFAULT_KVM_RESOURCE),
    SHARED_COUNT_FLAG,
    {
      name: 'cdi',
      env: 'CDI',
      type: 'bool',
      default: true,
      help: 'write a CDI spec to --cdi-dir and return the CDI device name in allocations (--cdi=false: off)',
    },
    ...draFlags('kvm'),
  ],
  async run(ctx) {
    const resourceName = checkedResourceName(ctx.options.resourceName, 'resource-name');
    const dra = ctx.mode === 'dra';
    const resource = createKvmResource({
      resourceName,
      devfsRoot: ctx.common.devfsRoot,
      shareCount: ctx.options.sharedCount as number,
      // In DRA mode the driver writes one CDI spec per claim; the family's own spec is not used.
      cdiDir: ctx.options.cdi && !dra ? ctx.common.cdiDir : undefined,
      log: ctx.log.with({ resource: resourceName }),
      sharing: dra ? 'allocations' : 'ids',
    });
    await ctx.resources.addResource(resource);
  },
};
