/**
 * Real network fixtures for the netdevice tests: veth pairs and network namespaces with unique short
 * names, always removed again. They need root; elsewhere the suites skip with a printed reason, but
 * never under CI=true.
 */
import { execFileSync } from 'child_process';
import * as crypto from 'crypto';
import * as path from 'path';
import { ipSync as ip, vethUnavailable } from '../../../simulator/devices/netdevice';

export { ip };

export const HOOK = path.resolve(__dirname, '../../../plugins/netdevice/hooks/netdevice-hook.sh');

/** Why these tests cannot run here, or undefined when they can; never an excuse under CI=true. */
export function netUnavailable(): string | undefined {
  const why = vethUnavailable();
  if (why && process.env.CI === 'true') throw new Error(`CI=true but the netdevice tests cannot run: ${why}`);
  return why;
}

/** `describe` for suites that touch the real network stack; skips loudly where that is impossible. */
export function describeNet(name: string, fn: () => void): void {
  const why = netUnavailable();
  if (why) {
    console.warn(`SKIPPED "${name}": ${why}`);
    describe.skip(name, fn);
  } else {
    describe(name, fn);
  }
}

export interface LinkState {
  name: string;
  up: boolean;
  mtu: number;
  addresses: string[];
}

/** Veth pairs and namespaces made by one test, all named `<prefix><n>` so a regex can select them. */
export class NetFixture {
  /** Unique per fixture, 8 characters: names stay within IFNAMSIZ (15). */
  readonly prefix = `kdt${crypto.randomBytes(3).toString('hex').slice(0, 5)}`;
  private counter = 0;
  private readonly links: string[] = [];
  private readonly namespaces: string[] = [];

  /** A veth pair `<prefix>a<n>` / `<prefix>b<n>`; the `a` side is the one tests offer. */
  veth(): { host: string; peer: string } {
    const n = this.counter++;
    const host = `${this.prefix}a${n}`;
    const peer = `${this.prefix}b${n}`;
    this.links.push(host);
    ip('link', 'add', host, 'type', 'veth', 'peer', 'name', peer);
    return { host, peer };
  }

  /** `count` veth pairs, each `a` side administratively up; returns the `a` sides. */
  upVeths(count: number): string[] {
    return Array.from({ length: count }, () => {
      const { host } = this.veth();
      ip('link', 'set', host, 'up');
      return host;
    });
  }

  /** A named network namespace (/var/run/netns/<name>). */
  netns(): string {
    const name = `${this.prefix}n${this.counter++}`;
    this.namespaces.push(name);
    ip('netns', 'add', name);
    return name;
  }

  /** Track a link created some other way (bridges, macvlans) for clean-up. */
  track(name: string): string {
    this.links.push(name);
    return name;
  }

  /** Delete everything, ignoring what is already gone; veth peers go with their pair. */
  cleanup(): void {
    for (const name of this.links.reverse()) tryIp('link', 'del', name);
    for (const ns of this.namespaces) tryIp('netns', 'del', ns);
    this.links.length = 0;
    this.namespaces.length = 0;
  }
}

function tryIp(...args: string[]): void {
  try {
    ip(...args);
  } catch {
    // already gone
  }
}

/** `ip` in network namespace `ns`: a name under /var/run/netns, or a path such as /proc/<pid>/ns/net. */
export function ipIn(ns: string | undefined, ...args: string[]): string {
  if (!ns) return ip(...args);
  if (!ns.includes('/')) return ip('-n', ns, ...args);
  return execFileSync('nsenter', [`--net=${ns}`, 'ip', ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** A link's state in the host namespace (or in `ns`), or undefined when it is not there. */
export function linkState(name: string, ns?: string): LinkState | undefined {
  let links: { ifname: string; flags: string[]; mtu: number }[];
  try {
    links = JSON.parse(ipIn(ns, '-json', 'link', 'show', 'dev', name));
  } catch {
    return undefined;
  }
  const addrs = JSON.parse(ipIn(ns, '-json', 'addr', 'show', 'dev', name)) as {
    addr_info: { local: string; prefixlen: number; scope: string }[];
  }[];
  return {
    name,
    up: links[0].flags.includes('UP'),
    mtu: links[0].mtu,
    addresses: addrs[0].addr_info
      .filter((a) => a.scope !== 'link')
      .map((a) => `${a.local}/${a.prefixlen}`)
      .sort(),
  };
}

/** Interfaces carrying a default route on this host (IPv4 or IPv6, main table). */
export function hostDefaultRouteInterfaces(): string[] {
  const devs = new Set<string>();
  for (const family of ['-4', '-6']) {
    for (const r of JSON.parse(ip('-json', family, 'route', 'show', 'default')) as { dev?: string }[])
      if (r.dev) devs.add(r.dev);
  }
  return [...devs];
}
