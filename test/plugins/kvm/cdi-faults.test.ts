/**
 * A CDI dir that is full (a 64 KiB tmpfs, filled) or read-only, and a spec deleted while the plugin runs.
 * No temp file is ever left behind; errors name the spec's path; while the spec is not on disk,
 * Allocate refuses with FAILED_PRECONDITION (never a dangling CDI name) and /readyz answers 503 saying
 * why; the spec is written again as soon as it can be, and Allocate works again.
 */
import * as fs from 'fs';
import * as http from 'http';
import * as path from 'path';
import { command } from '../../../plugins/kvm/command';
import { fill, mountTmpfs, remount, unmountAll } from '../../helpers/mounts';
import { eventually } from '../../helpers/tmp';
import { describeAsRoot, useFamilySandbox } from '../device-nodes/helpers';

const RES = 'github.com.ihcsim/kvm';
const SPEC_FILE = 'github.com.ihcsim-kvm.yaml';

function readyz(
  server: http.Server,
): Promise<{ status: number; body: { ready: boolean; resources: { problem?: string }[] } }> {
  const { port } = server.address() as { port: number };
  return new Promise((resolve, reject) =>
    http
      .get({ host: '127.0.0.1', port, path: '/readyz' }, (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(body) }));
      })
      .on('error', reject),
  );
}

describeAsRoot('kvm CDI spec under faults (tmpfs CDI dir)', () => {
  afterEach(() => unmountAll()); // before the sandbox's clean-up, which removes the mount points
  const sb = useFamilySandbox(command, 'kvm');
  const spec = () => path.join(sb.box.cdiDir, SPEC_FILE);
  const leftovers = () => fs.readdirSync(sb.box.cdiDir).filter((f) => f.endsWith('.tmp'));
  const start = async () => {
    const plugin = await sb.start(['--http-addr=127.0.0.1:0']);
    await sb.box.kubelet.waitForRegistration(RES);
    return plugin;
  };
  const allocate = () => sb.box.kubelet.allocate(RES, [['kvm-0']]);

  test('full at start-up: serves with Allocate refused and /readyz 503; space back → spec written, Allocate works', async () => {
    mountTmpfs(sb.box.cdiDir);
    const filler = fill(sb.box.cdiDir);
    const plugin = await start(); // no exit 1 with a bare ENOSPC
    const logged = plugin.logs.find(
      (l) => l.msg === 'cannot write the CDI spec; allocations are refused until it is written',
    );
    expect(logged).toMatchObject({
      level: 'error',
      file: spec(),
      error: expect.stringContaining(`cannot write CDI spec ${spec()}: ENOSPC`),
    });
    expect(leftovers()).toEqual([]);
    await expect(allocate()).rejects.toMatchObject({
      code: 9,
      details: expect.stringMatching(
        new RegExp(`CDI spec ${spec()} cannot be written \\(.*ENOSPC.*\\); refusing`),
      ),
    });
    const notReady = await readyz(plugin.running.http!);
    expect(notReady.status).toBe(503);
    expect(notReady.body.resources[0].problem).toMatch(/cannot be written: .*ENOSPC/);

    fs.rmSync(filler);
    await eventually(() => fs.existsSync(spec()), 15_000, 'the spec to be written once space is back');
    const [res] = await allocate();
    expect(res.cdi_devices).toEqual([{ name: `${RES}=kvm` }]);
    expect((await readyz(plugin.running.http!)).status).toBe(200);
    expect(leftovers()).toEqual([]);
  });

  test('spec deleted while running: rewritten at once; deleted while full: Allocate refused until space is back', async () => {
    mountTmpfs(sb.box.cdiDir);
    await start();
    fs.rmSync(spec());
    await eventually(() => fs.existsSync(spec()), 5000, 'the watch to rewrite the deleted spec');

    const fillers = [fill(sb.box.cdiDir)];
    // In one tick (the plugin runs in this process): the space the spec frees is taken before its rewrite.
    fs.rmSync(spec());
    fillers.push(fill(sb.box.cdiDir));
    await expect(allocate()).rejects.toMatchObject({ code: 9, details: expect.stringContaining('ENOSPC') });
    expect(leftovers()).toEqual([]);
    for (const filler of fillers) fs.rmSync(filler);
    await eventually(() => fs.existsSync(spec()), 15_000, 'the spec back');
    const [res] = await allocate();
    expect(res.cdi_devices).toEqual([{ name: `${RES}=kvm` }]);
  });

  test('read-only CDI dir: EROFS named in the refusal; writable again → spec written', async () => {
    mountTmpfs(sb.box.cdiDir, '64k', true);
    const plugin = await start();
    await expect(allocate()).rejects.toMatchObject({
      code: 9,
      details: expect.stringContaining(`${spec()} cannot be written (cannot write CDI spec ${spec()}: EROFS`),
    });
    expect((await readyz(plugin.running.http!)).status).toBe(503);
    remount(sb.box.cdiDir, false);
    await eventually(() => fs.existsSync(spec()), 15_000, 'the spec once writable');
    await allocate();
  });
});
