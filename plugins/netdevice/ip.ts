/**
 * What the host's network namespace looks like, read through iproute2 (`ip -json`): Node.js has no
 * netlink sockets, and `ip` is the one tool every node with network devices has.
 */
import { execFile } from 'child_process';

/** The iproute2 binary, found on PATH (the image must ship iproute2). */
export const IP_COMMAND = 'ip';
const IP_TIMEOUT_MS = 5000;

/** One link of the host network namespace, reduced to what candidate selection and health need. */
export interface HostLink {
  name: string;
  /** Administratively up (IFF_UP). */
  up: boolean;
  loopback: boolean;
  /** The bridge, bond, team or VRF this link is enslaved to. */
  master?: string;
  /**
   * `link`: the lower device of a VLAN/macvlan/…, or the peer of a veth in the same namespace; for a VXLAN,
   * its underlay device (`linkinfo.info_data.link`).
   */
  lower?: string;
  /** `linkinfo.info_kind`: veth, vlan, macvlan, bridge, … (absent for plain hardware NICs). */
  kind?: string;
}

interface WireLink {
  ifname: string;
  flags?: string[];
  link_type?: string;
  master?: string;
  link?: string | null;
  /** VXLAN (and IP tunnels) name their underlay device here, not in `link`. */
  linkinfo?: { info_kind?: string; info_data?: { link?: unknown } };
}

interface WireRoute {
  dev?: string;
  nexthops?: { dev?: string }[];
}

/** Run `ip` with `args` and return its stdout; the error names the command and carries ip's own message. */
export function runIp(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      IP_COMMAND,
      args,
      { timeout: IP_TIMEOUT_MS, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (!err) return resolve(stdout);
        const why = String(stderr).trim() || err.message;
        reject(
          Object.assign(new Error(`${IP_COMMAND} ${args.join(' ')} failed: ${why}`), { code: err.code }),
        );
      },
    );
  });
}

function parseJsonList<T>(text: string, what: string): T[] {
  if (text.trim() === '') return [];
  const parsed: unknown = JSON.parse(text);
  if (!Array.isArray(parsed)) throw new Error(`unexpected output from ip for ${what}: not a JSON list`);
  return parsed as T[];
}

export function toHostLink(wire: WireLink): HostLink {
  const flags = wire.flags ?? [];
  const underlay = wire.linkinfo?.info_data?.link;
  const lower = wire.link || (typeof underlay === 'string' && underlay ? underlay : undefined);
  return {
    name: wire.ifname,
    up: flags.includes('UP'),
    loopback: flags.includes('LOOPBACK') || wire.link_type === 'loopback',
    ...(wire.master ? { master: wire.master } : {}),
    ...(lower ? { lower } : {}),
    ...(wire.linkinfo?.info_kind ? { kind: wire.linkinfo.info_kind } : {}),
  };
}

/** Every link in this process's network namespace. */
export async function readLinks(): Promise<HostLink[]> {
  const links = parseJsonList<WireLink>(await runIp(['-json', '-details', 'link', 'show']), 'links');
  return links.map(toHostLink);
}

/**
 * Interfaces that carry a default route, IPv4 or IPv6, in any routing table (policy routing included):
 * taking one of those away would cut the node off.
 */
export async function readDefaultRouteInterfaces(): Promise<Set<string>> {
  const devices = new Set<string>();
  for (const family of ['-4', '-6']) {
    let text: string;
    try {
      text = await runIp(['-json', family, 'route', 'show', 'table', 'all', 'default']);
    } catch (err) {
      // A kernel without IPv6 has no IPv6 default route either.
      if (family === '-6' && /not supported/i.test((err as Error).message)) continue;
      throw err;
    }
    for (const route of parseJsonList<WireRoute>(text, 'default routes')) {
      if (route.dev) devices.add(route.dev);
      for (const hop of route.nexthops ?? []) if (hop.dev) devices.add(hop.dev);
    }
  }
  return devices;
}
