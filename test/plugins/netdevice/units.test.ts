/** The pure parts, no root needed: selection rules, event filter, spec building, flag checks. */
import { cdiSpecErrors } from '../../../plugins/framework';
import { helpText, startPlugin } from '../../../plugins/cli/command';
import { UsageError } from '../../../plugins/framework/flags';
import { selectInterfaces } from '../../../plugins/netdevice/candidates';
import { command } from '../../../plugins/netdevice/command';
import { toHostLink, type HostLink } from '../../../plugins/netdevice/ip';
import { isRelevantEvent } from '../../../plugins/netdevice/monitor';
import { netdeviceCdiSpec, specFileName } from '../../../plugins/netdevice/spec';
import { cdiSchemaErrors } from '../../helpers/cdi-schema';
import { upstreamAvailable } from '../../helpers/upstream';

const link = (name: string, extra: Partial<HostLink> = {}): HostLink => ({
  name,
  up: true,
  loopback: false,
  ...extra,
});

describe('selectInterfaces', () => {
  const links = [
    link('lo', { loopback: true }),
    link('eth0'),
    link('eth1', { master: 'br0' }),
    link('eth2'),
    link('eth2.100', { lower: 'eth2', kind: 'vlan' }),
    link('eth3', { lower: 'eth4', kind: 'veth' }), // a veth's peer is not a lower device
    link('eth4', { lower: 'eth3', kind: 'veth', up: false }),
    link('eth5_'), // not a valid CDI device name
    link('ens9'),
  ];

  test('offers what the regex matches, minus loopback, default-route links, uplinks and lower devices', () => {
    const { candidates, excluded } = selectInterfaces(links, new Set(['eth0']), /^(lo|eth)/);
    expect([...candidates.keys()]).toEqual(['eth2.100', 'eth3', 'eth4']); // a VLAN itself may be offered
    expect(Object.fromEntries(excluded)).toEqual({
      lo: 'loopback',
      eth0: 'carries a default route',
      eth1: 'uplink of br0',
      eth2: 'lower device of eth2.100',
      eth5_: 'name is not a valid CDI device name',
    });
  });

  test('interfaces the regex does not match are neither offered nor reported', () => {
    const { candidates, excluded } = selectInterfaces(links, new Set(), /^ens/);
    expect([...candidates.keys()]).toEqual(['ens9']);
    expect(excluded.size).toBe(0);
  });
});

test('toHostLink reads the fields of `ip -json -details link show`', () => {
  expect(
    toHostLink({
      ifname: 'kdpv0',
      link: 'kdpv1',
      master: 'kdpb',
      flags: ['BROADCAST', 'MULTICAST', 'UP'],
      link_type: 'ether',
      linkinfo: { info_kind: 'veth' },
    }),
  ).toEqual({ name: 'kdpv0', up: true, loopback: false, master: 'kdpb', lower: 'kdpv1', kind: 'veth' });
  // A VXLAN names its underlay device in linkinfo.info_data, not in `link`.
  expect(
    toHostLink({
      ifname: 'vx0',
      flags: ['BROADCAST', 'MULTICAST'],
      linkinfo: { info_kind: 'vxlan', info_data: { link: 'eth1' } },
    }),
  ).toEqual({ name: 'vx0', up: false, loopback: false, lower: 'eth1', kind: 'vxlan' });
  expect(toHostLink({ ifname: 'lo', flags: ['LOOPBACK', 'UP'], link_type: 'loopback' })).toEqual({
    name: 'lo',
    up: true,
    loopback: true,
  });
});

test('isRelevantEvent: every link event, only default-route route events', () => {
  expect(isRelevantEvent('[LINK]11: kdpm0@kdpm1: <BROADCAST,MULTICAST,UP> mtu 1500 qdisc noqueue')).toBe(
    true,
  );
  expect(isRelevantEvent('[LINK]Deleted 11: kdpm0@NONE: <BROADCAST,MULTICAST> mtu 1500')).toBe(true);
  expect(isRelevantEvent('[ROUTE]default via 10.98.0.2 dev kdpm0 table 123 linkdown')).toBe(true);
  expect(isRelevantEvent('[ROUTE]Deleted default via fd00::1 dev eth0 metric 1024 pref medium')).toBe(true);
  expect(isRelevantEvent('[ROUTE]10.98.0.0/24 dev kdpm0 proto kernel scope link src 10.98.0.1')).toBe(false);
  expect(isRelevantEvent('[ROUTE]local 10.98.0.1 dev kdpm0 table local proto kernel scope host')).toBe(false);
});

describe('netdeviceCdiSpec', () => {
  const expectValid = (spec: ReturnType<typeof netdeviceCdiSpec>) => {
    expect(cdiSpecErrors(spec)).toEqual([]);
    if (upstreamAvailable()) expect(cdiSchemaErrors(spec)).toEqual([]);
    else console.warn('upstream CDI schema not present: checked against our own rules only');
  };

  test('netdevices mode needs CDI 1.1.0; hooks mode the lowest version its names allow', () => {
    const netdevices = netdeviceCdiSpec(['ens1f0', 'ens1f1'], 'netdevices', '/opt/cdi/bin');
    expectValid(netdevices);
    expect(netdevices.cdiVersion).toBe('1.1.0');
    const hooks = netdeviceCdiSpec(['ens1f0'], 'hooks', '/opt/cdi/bin');
    expectValid(hooks);
    expect(hooks.cdiVersion).toBe('0.3.0');
    expect(hooks.devices[0].containerEdits.hooks!.map((h) => [h.hookName, h.path, h.args])).toEqual([
      ['createRuntime', '/opt/cdi/bin/netdevice-hook.sh', ['netdevice-hook.sh', 'createRuntime', 'ens1f0']],
      ['poststop', '/opt/cdi/bin/netdevice-hook.sh', ['netdevice-hook.sh', 'poststop', 'ens1f0']],
    ]);
    // A name starting with a digit needs 0.5.0 in hooks mode.
    expect(netdeviceCdiSpec(['9net'], 'hooks', '/opt/cdi/bin').cdiVersion).toBe('0.5.0');
  });

  test('the default resource uses the conventional file name; others get their own', () => {
    expect(specFileName('networking.k8s.io/netdevice')).toBe('networking.k8s.io-netdevice.yaml');
    expect(specFileName('example.com/fast-nic')).toBe(
      'networking.k8s.io-netdevice_example.com_fast-nic.yaml',
    );
  });
});

describe('flags', () => {
  const start = (args: string[], env: NodeJS.ProcessEnv = {}) =>
    startPlugin(command, ['--device-plugin-dir', '/nonexistent/kdp', ...args], {
      env,
      logWrite: () => undefined,
    });

  test.each([
    [[], /--interfaces \(or INTERFACES\) is required/],
    [['--interfaces='], /--interfaces \(or INTERFACES\) must not be empty/],
    [['--interfaces', '('], /invalid value for --interfaces: "\(" is not a regular expression/],
    [['--interfaces', 'eth', '--cdi-mode', 'magic'], /--cdi-mode: "magic" is not one of netdevices, hooks/],
    [['--interfaces', 'eth', '--hook-dir', 'opt/cdi'], /--hook-dir: "opt\/cdi" is not an absolute path/],
    [['--interfaces', 'eth', '--resource-name', 'nic'], /--resource-name: "nic" has no domain prefix/],
    [['--interfaces', 'eth', '--rescan-interval', '0s'], /--rescan-interval: "0s" must be positive/],
    [['--interfaces', 'eth', '--move-grace-period', 'soon'], /--move-grace-period: "soon" is not a duration/],
  ])('%j is a usage error naming the flag', async (args, message) => {
    const started = start(args);
    await expect(started).rejects.toThrow(UsageError);
    await expect(started).rejects.toThrow(message);
  });

  test('every flag has its environment variable', async () => {
    await expect(start([], { INTERFACES: 'eth', CDI_MODE: 'magic' })).rejects.toThrow(
      /CDI_MODE \(env\): "magic" is not one of/,
    );
    const help = helpText(command);
    for (const [flag, env] of [
      ['--resource-name', 'NETDEVICE_RESOURCE_NAME'],
      ['--interfaces', 'INTERFACES'],
      ['--cdi-mode', 'CDI_MODE'],
      ['--hook-dir', 'HOOK_DIR'],
      ['--rescan-interval', 'NETDEVICE_RESCAN_INTERVAL'],
      ['--move-grace-period', 'NETDEVICE_MOVE_GRACE_PERIOD'],
      ['--cdi-dir', 'CDI_DIR'],
      ['--pod-resources-socket', 'POD_RESOURCES_SOCKET'],
    ]) {
      expect(help).toMatch(new RegExp(`${flag} .*\\[${env}\\]`));
    }
  });
});
