/**
 * Configs as a ConfigMap delivers them, at their limits: a config directory deleted and made again is
 * followed at once (not at the 30 s poll), a file over the ConfigMap limit (1 MiB) is refused before it
 * is read and the last good config kept, and a config naming more resources than one process serves is
 * refused with a clear error.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as yaml from 'js-yaml';
import { command } from '../../../plugins/devnode/command';
import { MAX_CONFIG_BYTES, MAX_RESOURCES_PER_PROCESS } from '../../../plugins/framework';
import { eventually } from '../../helpers/tmp';
import { describeAsRoot, useFamilySandbox } from '../device-nodes/helpers';

const CRAND = 'github.com.ihcsim/crand';

describeAsRoot('devnode config limits (crand fixture)', () => {
  const sb = useFamilySandbox(command, 'devnode');
  const ids = () => (sb.box.kubelet.resource(CRAND)?.devices ?? []).map((d) => d.id).join();
  const logged = (msg: string) => sb.plugin!.logs.filter((l) => l.msg === msg);
  const config = (glob: string) => yaml.dump({ resources: [{ name: CRAND, glob }] });

  test('a config directory deleted and made again is followed at once (no 30 s poll)', async () => {
    const dir = path.join(sb.box.root, 'cm');
    const file = path.join(dir, 'devnode.yaml');
    fs.mkdirSync(dir);
    fs.writeFileSync(file, config('crand*'));
    await sb.start([`--config=${file}`]); // the config poll stays at its 30 s default
    await sb.box.kubelet.waitForRegistration(CRAND);
    expect(ids()).toBe('crand0,crand1,crand2');

    fs.rmSync(dir, { recursive: true });
    await eventually(
      () => logged('cannot read the config; keeping the last good one').length > 0,
      5000,
      'read error',
    );
    fs.mkdirSync(dir);
    fs.writeFileSync(file, config('crand1'));
    await sb.box.kubelet.waitFor(() => ids() === 'crand1', 5000, 'the re-made directory to be followed');
  });

  test('a config over 1 MiB is refused before reading, naming the file; the last good one is kept', async () => {
    const file = path.join(sb.box.root, 'devnode.yaml');
    fs.writeFileSync(file, config('crand*'));
    await sb.start([`--config=${file}`]);
    await sb.box.kubelet.waitForRegistration(CRAND);

    // A valid YAML document padded with a comment past the limit: only its size is wrong.
    const big = config('crand0') + '#'.repeat(MAX_CONFIG_BYTES);
    fs.writeFileSync(file, big);
    await eventually(
      () => logged('cannot read the config; keeping the last good one').length > 0,
      5000,
      'refusal',
    );
    expect(logged('cannot read the config; keeping the last good one')[0]).toMatchObject({
      file,
      error: expect.stringContaining(
        `${file} is ${big.length} bytes, over the ${MAX_CONFIG_BYTES}-byte limit`,
      ),
    });
    expect(ids()).toBe('crand0,crand1,crand2');
    fs.writeFileSync(file, config('crand2'));
    await sb.box.kubelet.waitFor(() => ids() === 'crand2', 5000, 'the good config after the big one');
  });

  test('at start, an oversized config or one with too many resources is a usage error saying why', async () => {
    const file = path.join(sb.box.root, 'devnode.yaml');
    fs.writeFileSync(file, 'x'.repeat(MAX_CONFIG_BYTES + 1));
    await expect(sb.start([`--config=${file}`])).rejects.toMatchObject({
      name: 'UsageError',
      message: expect.stringMatching(/invalid --config: .* over the 1048576-byte limit of a ConfigMap/),
    });
    const many = Array.from({ length: MAX_RESOURCES_PER_PROCESS + 1 }, (_, i) => ({
      name: `r${i}.example.com/crand`,
      glob: 'crand0',
    }));
    fs.writeFileSync(file, yaml.dump({ resources: many }));
    await expect(sb.start([`--config=${file}`])).rejects.toMatchObject({
      name: 'UsageError',
      message: expect.stringContaining(
        `names 65 resources, more than the ${MAX_RESOURCES_PER_PROCESS} one process serves`,
      ),
    });
    expect(fs.readdirSync(sb.box.devicePluginDir).filter((f) => f.startsWith('kdp-'))).toEqual([]);
  });
});
