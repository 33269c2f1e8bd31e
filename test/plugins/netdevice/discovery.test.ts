/**
 * Discovery and health on the real host: test veths selected by --interfaces, the exclusion rules,
 * and live link changes reaching the kubelet simulator through netlink events.
 */
import { hostDefaultRouteInterfaces, ip, describeNet } from './net';
import { eventually, sleep } from '../../helpers/tmp';
import { logRecords, netdeviceSuite, RESOURCE, sees } from './harness';

/** Netlink events only: a rescan period this long proves the 1 s figure does not come from polling. */
const EVENTS_ONLY = ['--rescan-interval', '1h'];

describeNet('netdevice discovery on the host', () => {
  const suite = netdeviceSuite();

  test('offers matching interfaces with link-state health; never loopback, default-route links or uplinks', async () => {
    const { net } = suite;
    const up = net.veth().host;
    const down = net.veth().host;
    ip('link', 'set', up, 'up');

    const enslaved = net.veth().host; // uplink of a bridge
    const bridge = net.track(`${net.prefix}br`);
    ip('link', 'add', bridge, 'type', 'bridge');
    ip('link', 'set', enslaved, 'master', bridge);

    const lower = net.veth().host; // a macvlan is stacked on it
    ip('link', 'add', 'link', lower, 'name', net.track(`${net.prefix}mv`), 'type', 'macvlan');

    const underlay = net.veth().host; // a VXLAN runs over it (named in linkinfo, not in `link`)
    ip(
      'link',
      'add',
      net.track(`${net.prefix}vx`),
      'type',
      'vxlan',
      'id',
      '42',
      'dev',
      underlay,
      'dstport',
      '4789',
    );

    const routed = net.veth().host; // a default route in a policy-routing table
    ip('addr', 'add', '10.213.7.1/24', 'dev', routed);
    ip('link', 'set', routed, 'up');
    ip('route', 'add', 'default', 'via', '10.213.7.2', 'dev', routed, 'table', '2713');

    const routed6 = net.veth().host; // an IPv6-only default route
    ip('link', 'set', routed6, 'up');
    ip('-6', 'route', 'add', 'default', 'via', 'fe80::1', 'dev', routed6, 'table', '2714');

    const hostDefaults = hostDefaultRouteInterfaces();
    if (hostDefaults.length === 0)
      console.warn('this host has no default route; only the test route is checked');
    const names = ['lo', ...hostDefaults, `${net.prefix}a\\d+`];
    const nd = await suite.start(['--interfaces', `^(${names.join('|')})$`, ...EVENTS_ONLY]);

    expect(nd.seen()).toEqual([`${down}:Unhealthy`, `${up}:Healthy`].sort());
    const reasons = Object.fromEntries(
      logRecords(nd, 'matches --interfaces but is not offered').map((r) => [r.device, r.reason]),
    );
    expect(reasons).toEqual({
      lo: 'loopback',
      ...Object.fromEntries(hostDefaults.map((d) => [d, 'carries a default route'])),
      [routed]: 'carries a default route',
      [routed6]: 'carries a default route',
      [enslaved]: `uplink of ${bridge}`,
      [lower]: `lower device of ${net.prefix}mv`,
      [underlay]: `lower device of ${net.prefix}vx`,
    });
  });

  test('link add, up, down and removal reach the kubelet within 1 s, always as full lists', async () => {
    const { net } = suite;
    const first = net.veth().host;
    ip('link', 'set', first, 'up');
    const nd = await suite.startOffering([...EVENTS_ONLY]);
    const { kubelet } = nd;
    const lists: string[][] = [];
    kubelet.on('update', (_resource: string, devices: { id: string }[]) =>
      lists.push(devices.map((d) => d.id)),
    );
    expect(nd.seen()).toEqual([`${first}:Healthy`]);

    const second = net.veth().host;
    await kubelet.waitFor(sees(nd, `${first}:Healthy`, `${second}:Unhealthy`), 1000, 'the new link');
    ip('link', 'set', second, 'up');
    await kubelet.waitFor(sees(nd, `${first}:Healthy`, `${second}:Healthy`), 1000, 'link up');
    ip('link', 'set', first, 'down');
    await kubelet.waitFor(sees(nd, `${first}:Unhealthy`, `${second}:Healthy`), 1000, 'link down');
    ip('link', 'del', second);
    await kubelet.waitFor(sees(nd, `${first}:Unhealthy`), 1000, 'link removal');

    // Every update was the whole list: the untouched interface is in each one.
    expect(lists.length).toBeGreaterThanOrEqual(4);
    for (const list of lists) expect(list).toContain(first);
    expect(kubelet.resource(RESOURCE)!.updates).toBe(lists.length + 1);
  });

  test('a default route arriving on an offered interface withdraws it live; its removal brings it back', async () => {
    const { net } = suite;
    const link = net.veth().host;
    ip('addr', 'add', '10.213.8.1/24', 'dev', link);
    ip('link', 'set', link, 'up');
    const nd = await suite.startOffering(EVENTS_ONLY);
    expect(nd.seen()).toEqual([`${link}:Healthy`]);
    ip('route', 'add', 'default', 'via', '10.213.8.2', 'dev', link, 'table', '2715');
    await nd.kubelet.waitFor(sees(nd), 1000, 'the route event to withdraw it');
    ip('route', 'del', 'default', 'via', '10.213.8.2', 'dev', link, 'table', '2715');
    await nd.kubelet.waitFor(sees(nd, `${link}:Healthy`), 1000, 'the route removal to bring it back');
  });

  test('a periodic rescan alone picks changes up when netlink events are lost', async () => {
    const { net } = suite;
    const link = net.veth().host;
    const nd = await suite.startOffering(['--rescan-interval', '200ms']);
    nd.plugin['monitor']?.stop(); // no more events: only the rescan can notice
    ip('link', 'set', link, 'up');
    await nd.kubelet.waitFor(sees(nd, `${link}:Healthy`), 3000, 'the rescan to see the link up');
  });

  test('the ip monitor child is restarted when it dies, and events keep arriving', async () => {
    const { net } = suite;
    const link = net.veth().host;
    const nd = await suite.startOffering([...EVENTS_ONLY]);
    const firstPid = nd.plugin.monitorPid!;
    process.kill(firstPid, 'SIGKILL');
    const plugin = nd.plugin;
    await eventually(() => plugin.monitorRestarts === 1 && plugin.monitorPid !== undefined, 3000, 'restart');
    expect(plugin.monitorPid).not.toBe(firstPid);
    expect(logRecords(nd, 'link monitor (ip monitor) ended')[0]).toMatchObject({ signal: 'SIGKILL' });

    await sleep(100); // let the new child subscribe
    ip('link', 'set', link, 'up');
    await nd.kubelet.waitFor(sees(nd, `${link}:Healthy`), 1000, 'an event through the new monitor');
  });
});
