/**
 * A throw-away veth pair for the demo and the benchmark (dummy links are not available everywhere;
 * veths are). Needs root and iproute2; `vethUnavailable` says why not, for the scenario runners.
 */
import { execFileSync } from 'child_process';
import * as crypto from 'crypto';

export function ipSync(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export function vethUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root to create a veth pair';
  try {
    ipSync('-V');
  } catch {
    return 'iproute2 (ip) is not installed';
  }
  return undefined;
}

export interface VethPair {
  /** The end the plugin offers. */
  host: string;
  peer: string;
  remove(): void;
}

/** `<prefix><random>a` / `…b`: unique, and within IFNAMSIZ for prefixes up to 8 characters. */
export function createVethPair(prefix: string): VethPair {
  const base = `${prefix}${crypto.randomBytes(3).toString('hex')}`;
  const host = `${base}a`;
  const peer = `${base}b`;
  ipSync('link', 'add', host, 'type', 'veth', 'peer', 'name', peer);
  return {
    host,
    peer,
    remove() {
      try {
        ipSync('link', 'del', host); // takes the peer with it
      } catch {
        // already gone
      }
    },
  };
}
