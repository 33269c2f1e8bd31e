/**
 * The real-node scenarios, in order. Each starts its plugin(s) on the host, sends pods through the API server
 * and the scheduler, and checks from inside the container (its own shell prints what it sees) or from the host
 * (nsenter into the container's network namespace). Device stand-ins are real char devices made with mknod,
 * since runc needs a real node at each host path.
 */
import { NODE_NAME } from './node';
import {
  Context,
  Scenario,
  check,
  createPod,
  deletePod,
  ensureNamespace,
  runningWithLog,
  startPlugin,
  waitAllocatable,
  waitPod,
} from './pods';

const KVM = 'github.com.ihcsim/kvm';

/** Deletes the listed pods, ignoring the ones already gone. */
async function deleteAll(ctx: Context, namespace: string, names: string[]): Promise<void> {
  for (const name of names) await deletePod(ctx.node, namespace, name).catch(() => undefined);
}

const kvm: Scenario = {
  name: 'kvm: /dev/kvm rw in a scheduled pod; over-asking refused',
  async run(ctx) {
    const { node } = ctx;
    const ns = 'e2e-kvm';
    await ensureNamespace(node, ns);
    // The real /dev/kvm (this machine has one), 4 shares so that 5 is more than advertised.
    startPlugin(ctx, 'kvm', ['--devfs-root=/dev', '--shared-count=4']);
    await waitAllocatable(node, KVM, 4);
    try {
      await createPod(node, {
        namespace: ns,
        name: 'kvm',
        limits: { [KVM]: '1' },
        script:
          'ls -l /dev/kvm; if exec 3<>/dev/kvm; then echo KVM-RW-OPEN; fi; echo KDP-DONE; exec sleep 3600',
      });
      const { pod, log } = await runningWithLog(node, ns, 'kvm');
      check(pod.spec.nodeName === NODE_NAME, `scheduled to ${pod.spec.nodeName}`);
      check(log.includes('KVM-RW-OPEN'), `/dev/kvm did not open read-write in the container:\n${log}`);
      check(/^c\S+ .* 10,\s+232 /m.test(log), `/dev/kvm in the container is not char 10:232:\n${log}`);
      // More than advertised: the scheduler keeps it Pending, naming the resource…
      await createPod(node, {
        namespace: ns,
        name: 'kvm-too-many',
        limits: { [KVM]: '5' },
        script: 'exec sleep 3600',
      });
      const pending = await waitPod(node, ns, 'kvm-too-many', 'Unschedulable', (p) =>
        (p.status?.conditions ?? []).some((c) => c.type === 'PodScheduled' && c.reason === 'Unschedulable'),
      );
      const why = pending.status!.conditions!.find((c) => c.type === 'PodScheduled')!.message ?? '';
      check(why.includes(`Insufficient ${KVM}`), `scheduler's reason does not name ${KVM}: ${why}`);
      // …and bound straight to the node, the kubelet's own admission rejects it, naming the resource.
      await createPod(node, {
        namespace: ns,
        name: 'kvm-too-many-bound',
        nodeName: NODE_NAME,
        limits: { [KVM]: '5' },
        script: 'exec sleep 3600',
      });
      const rejected = await waitPod(
        node,
        ns,
        'kvm-too-many-bound',
        'rejected',
        (p) => p.status?.phase === 'Failed',
      );
      const reason = `${rejected.status!.reason}: ${rejected.status!.message}`;
      check(
        reason.includes(KVM) && /requested:? 5/i.test(reason),
        `kubelet's rejection does not say why: ${reason}`,
      );
      return `rw open in container; scheduler: "${why}"; kubelet: "${reason}"`;
    } finally {
      await deleteAll(ctx, ns, ['kvm', 'kvm-too-many', 'kvm-too-many-bound']);
    }
  },
};

export const SCENARIOS: Scenario[] = [kvm];
