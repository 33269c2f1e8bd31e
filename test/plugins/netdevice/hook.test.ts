/**
 * The OCI hook program, for real: a network namespace as the "pod", a fake OCI bundle whose config.json
 * names it, the OCI state on stdin. createRuntime must move the link in with its addresses, MTU and up
 * state; poststop must bring it back with them; bad input must change nothing.
 */
import { spawn, spawnSync, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { eventually, removeDir, tempDir } from '../../helpers/tmp';
import { describeNet, HOOK, ip, linkState, NetFixture, type LinkState } from './net';

const V4 = '10.213.9.1/24';
const V6 = 'fd00:213:9::1/64';

interface HookRun {
  status: number | null;
  stderr: string;
}

describeNet('netdevice OCI hook', () => {
  let net: NetFixture;
  let work: string;
  let stateDir: string;
  let link: string;
  let podNs: string;
  let sleeper: ChildProcess | undefined;

  beforeEach(() => {
    net = new NetFixture();
    work = tempDir('kdh-');
    stateDir = path.join(work, 'state');
    link = net.veth().host;
    ip('addr', 'add', V4, 'brd', '+', 'dev', link);
    ip('addr', 'add', V6, 'dev', link, 'nodad');
    ip('link', 'set', link, 'mtu', '1400', 'up');
    podNs = net.netns();
  });
  afterEach(() => {
    sleeper?.kill('SIGKILL');
    sleeper = undefined;
    net.cleanup();
    removeDir(work);
  });

  const configured: LinkState = { name: '', up: true, mtu: 1400, addresses: [V4, V6].sort() };
  const expectConfigured = (state: LinkState | undefined) =>
    expect(state).toEqual({ ...configured, name: link });

  /** A bundle dir whose config.json has these linux.namespaces (undefined: no linux section at all). */
  function bundle(namespaces?: { type: string; path?: string }[]): string {
    const dir = fs.mkdtempSync(path.join(work, 'b'));
    const config = {
      ociVersion: '1.2.0',
      process: { args: ['sleep'] },
      ...(namespaces ? { linux: { namespaces } } : {}),
    };
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config, null, 2));
    return dir;
  }
  const podBundle = () =>
    bundle([{ type: 'pid' }, { type: 'network', path: `/var/run/netns/${podNs}` }, { type: 'mount' }]);
  const ociState = (bundleDir: string, pid = process.pid) =>
    JSON.stringify({ ociVersion: '1.2.0', id: 'ctr-1', status: 'creating', pid, bundle: bundleDir });

  function runHook(stage: string, ifname: string, stdin: string): HookRun {
    const res = spawnSync('sh', [HOOK, stage, ifname], {
      input: stdin,
      encoding: 'utf8',
      env: { ...process.env, NETDEVICE_HOOK_STATE_DIR: stateDir },
    });
    return { status: res.status, stderr: res.stderr };
  }

  test('createRuntime moves the link into the pod with its addresses, MTU and up state; poststop brings it back', () => {
    const state = ociState(podBundle());
    const created = runHook('createRuntime', link, state);
    expect(created).toEqual({ status: 0, stderr: expect.stringMatching(/moved into \/var\/run\/netns\//) });
    expect(linkState(link)).toBeUndefined();
    expectConfigured(linkState(link, podNs));

    const stopped = runHook('poststop', link, state.replace('creating', 'stopped'));
    expect(stopped).toEqual({ status: 0, stderr: expect.stringMatching(/back on the host/) });
    expect(linkState(link, podNs)).toBeUndefined();
    expectConfigured(linkState(link));
    expect(fs.readdirSync(stateDir)).toEqual([]); // nothing left behind
  });

  test('a namespace the runtime created for the process is found through the pid', async () => {
    sleeper = spawn('unshare', ['--net', 'sleep', '30'], { stdio: 'ignore' });
    const nsPath = `/proc/${sleeper.pid}/ns/net`;
    await waitForOwnNetns(nsPath);
    const state = ociState(bundle([{ type: 'pid' }, { type: 'network' }]), sleeper.pid);
    expect(runHook('createRuntime', link, state).status).toBe(0);
    expectConfigured(linkState(link, nsPath));

    // The process ends and takes the namespace, and the veth, with it: poststop finds nothing to return.
    sleeper.kill('SIGKILL');
    await new Promise((resolve) => sleeper!.once('exit', resolve));
    await eventually(() => !ip('-o', 'link').includes(`${net.prefix}b0`), 5000, 'the veth to be destroyed');
    const stopped = runHook('poststop', link, state);
    expect(stopped.status).toBe(1);
    expect(stopped.stderr).toMatch(/neither in the container's network namespace \(gone\) nor on the host/);
  });

  /** Bad input, each made fresh per test: [stage, OCI state on stdin, exit status, message on stderr]. */
  const badInputs: Record<string, () => [string, string, number, RegExp]> = {
    'no state on stdin': () => ['createRuntime', '', 2, /no OCI state on stdin/],
    'a state without a bundle': () => [
      'createRuntime',
      '{"ociVersion":"1.2.0","id":"x"}',
      2,
      /names no bundle/,
    ],
    'a missing bundle': () => [
      'createRuntime',
      ociState('/nonexistent/bundle'),
      2,
      /bundle \/nonexistent\/bundle does not exist/,
    ],
    'a bundle without config.json': () => [
      'poststop',
      ociState(fs.mkdtempSync(path.join(work, 'e'))),
      2,
      /has no readable config.json/,
    ],
    'a config.json without namespaces': () => [
      'createRuntime',
      ociState(bundle()),
      2,
      /has no linux.namespaces/,
    ],
    'a network namespace that does not exist': () => [
      'createRuntime',
      ociState(bundle([{ type: 'network', path: '/var/run/netns/kdp-nope' }])),
      2,
      /network namespace \/var\/run\/netns\/kdp-nope does not exist/,
    ],
    'an unknown stage': () => [
      'prestart',
      ociState(podBundle()),
      2,
      /usage: netdevice-hook.sh createRuntime\|poststop/,
    ],
  };
  test.each(Object.keys(badInputs))('%s: exits non-zero with the reason and changes nothing', (name) => {
    const [stage, stdin, status, message] = badInputs[name]();
    const before = linkState(link);
    const run = runHook(stage, link, stdin);
    expect(run.status).toBe(status);
    expect(run.stderr).toMatch(message);
    expect(linkState(link)).toEqual(before);
    expect(linkState(link, podNs)).toBeUndefined();
    expect(fs.existsSync(stateDir) ? fs.readdirSync(stateDir) : []).toEqual([]);
  });

  test('a link that is gone: createRuntime and poststop fail with the reason', () => {
    const state = ociState(podBundle());
    const created = runHook('createRuntime', `${net.prefix}zz`, state);
    expect(created.status).toBe(1);
    expect(created.stderr).toMatch(/link kdt\w+zz is not in the host network namespace/);
    const stopped = runHook('poststop', `${net.prefix}zz`, state);
    expect(stopped.status).toBe(1);
    expect(stopped.stderr).toMatch(/is neither in the container's network namespace .* nor on the host/);
    expectConfigured(linkState(link));
  });

  test('a container sharing the host network namespace: nothing to move, success', () => {
    const hostShared = ociState(bundle([{ type: 'pid' }, { type: 'mount' }]));
    const run = runHook('createRuntime', link, hostShared);
    expect(run).toEqual({
      status: 0,
      stderr: expect.stringMatching(/shares the runtime's network namespace/),
    });
    expectConfigured(linkState(link));
  });

  test('when the link cannot be configured inside the pod, it is put back on the host as it was', () => {
    // No IPv6 in the pod's namespace: its IPv6 address cannot follow it there.
    ip('netns', 'exec', podNs, 'sh', '-c', 'echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6');
    const run = runHook('createRuntime', link, ociState(podBundle()));
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/cannot configure .* moving it back to the host/);
    expect(linkState(link, podNs)).toBeUndefined();
    expectConfigured(linkState(link));
    expect(fs.readdirSync(stateDir)).toEqual([]);
  });

  test('a second createRuntime for a link already in the pod is a no-op', () => {
    const state = ociState(podBundle());
    expect(runHook('createRuntime', link, state).status).toBe(0);
    const again = runHook('createRuntime', link, state);
    expect(again).toEqual({
      status: 0,
      stderr: expect.stringMatching(/already in the container's network namespace/),
    });
    expectConfigured(linkState(link, podNs));
  });

  test('uses only POSIX sh, iproute2 and util-linux, and is executable', () => {
    const text = fs.readFileSync(HOOK, 'utf8');
    expect(text.startsWith('#!/bin/sh\n')).toBe(true);
    expect(fs.statSync(HOOK).mode & 0o111).toBe(0o111);
    expect(spawnSync('sh', ['-n', HOOK]).status).toBe(0);
    const code = text
      .split('\n')
      .filter((line) => !line.trim().startsWith('#'))
      .join('\n');
    // No other interpreter or JSON tool is called; no bash-only syntax ([[ ]], local).
    expect(code).not.toMatch(/(^|[|;&(`]|\$\()\s*(node|jq|python3?|perl|bash|awk|grep)\b/m);
    expect(code).not.toMatch(/\[\[ |^\s*local\s/m);
  });
});

/** Wait until `nsPath` is a namespace other than ours (unshare has switched). */
function waitForOwnNetns(nsPath: string): Promise<void> {
  const own = fs.statSync('/proc/self/ns/net').ino;
  return eventually(() => fs.statSync(nsPath, { throwIfNoEntry: false })?.ino !== own, 5000, 'unshare');
}
