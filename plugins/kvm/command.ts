/** `kube-device-plugins kvm`: hand /dev/kvm to many pods at once (replaces ihcsim's kvm plugin). */
import { KVM_SETTINGS } from '../catalogue/kvm';
import { definePlugin, draFlags } from '../framework';
import { checkedResourceName } from '../device-nodes';
import { createKvmResource } from './plugin';

export const command = definePlugin({
  name: 'kvm',
  summary:
    'Advertises <devfs-root>/kvm as --shared-count interchangeable devices; Allocate returns /dev/kvm (rw) ' +
    'and, with --cdi, the fully-qualified CDI device name. With --mode dra: one device `kvm` in the ' +
    "node's ResourceSlice that many claims may hold at once (per-claim CDI specs; --cdi does not apply).",
  dra: true,
  flags: [...KVM_SETTINGS, ...draFlags('kvm')],
  async run(ctx) {
    const resourceName = checkedResourceName(ctx.options.resourceName, 'resource-name');
    const dra = ctx.mode === 'dra';
    const resource = createKvmResource({
      resourceName,
      devfsRoot: ctx.common.devfsRoot,
      shareCount: ctx.options.sharedCount,
      // In DRA mode the driver writes one CDI spec per claim; the family's own spec is not used.
      cdiDir: ctx.options.cdi && !dra ? ctx.common.cdiDir : undefined,
      log: ctx.log.with({ resource: resourceName }),
      sharing: dra ? 'allocations' : 'ids',
    });
    await ctx.resources.addResource(resource);
  },
});
