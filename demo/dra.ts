/**
 * `npm run demo`, DRA part: the kvm family started by the real CLI code with `--mode dra`, on
 * fixtures/kvm. The kubelet side is simulated (simulator/dra-kubelet.ts: a plugin watcher with
 * protobufjs clients, real unix sockets); the API server is an IN-MEMORY stand-in
 * (simulator/dra-api.ts) for ResourceSlices and ResourceClaims. The same flow against a real
 * kube-apiserver is test/framework/dra-process.test.ts.
 */
import * as fs from 'fs';
import * as path from 'path';
import { fixturesUnavailable, startOnFixture } from '../plugins/device-nodes/fixture';
import { readCdiSpec } from '../plugins/framework';
import { command } from '../plugins/kvm/command';
import { ClaimStore, MemoryApi } from '../simulator/dra-api';
import { FakePluginWatcher } from '../simulator/dra-kubelet';

const NODE = 'demo-node';
const DRIVER = 'kvm.kube-device-plugins.io';

async function waitFor(what: string, predicate: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Runs the DRA scenario in `workDir`; throws when a step fails. */
export async function runDraDemo(workDir: string): Promise<void> {
  const why = fixturesUnavailable();
  if (why) {
    console.log(`kvm in DRA mode: skipped (${why})`);
    return;
  }
  console.log('kvm in DRA mode (API server: in-memory stand-in; kubelet: simulated plugin watcher):');
  const claims = new ClaimStore();
  const sliceApi = new MemoryApi();
  const root = path.join(workDir, 'kvm-dra');
  const kubeletRoot = path.join(root, 'kubelet');
  const { running } = await startOnFixture(
    command,
    root,
    path.join(root, 'dp'),
    ['--mode=dra', `--node-name=${NODE}`, `--kubelet-root-dir=${kubeletRoot}`],
    { env: {}, dra: { claims, sliceApi } },
  );
  const kubelet = new FakePluginWatcher();
  try {
    const info = await kubelet.register(path.join(kubeletRoot, 'plugins_registry', `${DRIVER}-reg.sock`));
    console.log(`  registered: ${info.name}, ${info.supported_versions.join(' ')}`);
    await waitFor('the ResourceSlice', () => running.dra?.ready() === true);
    for (const slice of sliceApi.slices.values())
      for (const device of slice.devices)
        console.log(
          `  ResourceSlice pool ${slice.pool.name} gen ${slice.pool.generation}: ${device.name} ` +
            `${JSON.stringify(device.attributes)}${device.allowMultipleAllocations ? ' allowMultipleAllocations' : ''}`,
        );
    // Two pods' claims, both allocated the one shared /dev/kvm device.
    const result = { driver: DRIVER, pool: NODE, device: 'kvm', request: 'kvm' };
    const a = claims.add('default', 'vm-a', 'c0ffee00-0000-4000-8000-00000000000a', [result]);
    const b = claims.add('default', 'vm-b', 'c0ffee00-0000-4000-8000-00000000000b', [result]);
    const dra = kubelet.dra('v1', info.endpoint);
    const prepared = await dra.prepare([a, b]);
    for (const claim of [a, b]) {
      const answer = prepared.claims[claim.uid];
      if (answer.error) throw new Error(`prepare ${claim.name}: ${answer.error}`);
      const ids = (answer.devices as { cdi_device_ids: string[] }[]).flatMap((d) => d.cdi_device_ids);
      console.log(`  NodePrepareResources ${claim.name}: ${ids.join(', ')}`);
    }
    const cdiDir = path.join(root, 'cdi');
    for (const file of fs.readdirSync(cdiDir).sort()) {
      const spec = readCdiSpec(path.join(cdiDir, file));
      const nodes = spec?.devices.flatMap((d) => d.containerEdits.deviceNodes ?? []).map((n) => n.path);
      console.log(`    CDI spec ${file}: device nodes ${nodes?.join(', ')}`);
    }
    const unprepared = await dra.unprepare([a, b]);
    const errors = Object.values(unprepared.claims).filter((c) => c.error);
    if (errors.length) throw new Error(`unprepare: ${errors.map((e) => e.error).join('; ')}`);
    console.log(`  NodeUnprepareResources: CDI specs left ${fs.readdirSync(cdiDir).length}`);
  } finally {
    kubelet.close();
    await running.stop();
  }
}
