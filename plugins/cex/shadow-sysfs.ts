/**
 * The shadow sysfs: per device ID, a small copy of /sys/bus/ap and /sys/devices/ap that shows only
 * the allocated APQN, mounted read-only over both dirs in the container so `lszcrypt` and friends see
 * the restricted world /dev/z90crypt gives them. Layout as upstream (shadowsysfs.go):
 *
 *   <base>/sysfs-<id>/bus/ap/            copied bus attributes, masks naming only this APQN,
 *                         devices/, drivers/cex4card/, drivers/cex4queue/   (links into devices/ap)
 *   <base>/sysfs-<id>/devices/ap/cardXX/           copied card attributes, load 0, counters
 *   <base>/sysfs-<id>/devices/ap/cardXX/XX.YYYY/   copied queue attributes, load 0, counters
 *   <base>/sysfs-<id>/tmp_bus -> <APSYSFS_DEVSDIR>/cardXX/XX.YYYY           (live mode only)
 *
 * Static mode: counters are fixed (online 1, the others 0). Live mode: the card's online and
 * counter files are links into the queue dir, and the real queue dir is mounted over the shadow one
 * (via tmp_bus), so they show the host's live values.
 */
import * as fs from 'fs';
import * as path from 'path';
import { SHADOW_DIR_PATTERN, cardDirName, queueDirName, shadowDirName } from './ids';

export interface ShadowOptions {
  /** SHADOWSYSFS_BASEDIR */
  baseDir: string;
  /** APSYSFS_BUSDIR: the host's /sys/bus/ap. */
  apBusDir: string;
  /** APSYSFS_DEVSDIR: the host's /sys/devices/ap. */
  apDevsDir: string;
}

export interface ShadowTree {
  dir: string;
  /** Mounted over /sys/bus/ap. */
  busDir: string;
  /** Mounted over /sys/devices/ap. */
  devicesDir: string;
  /** Live mode: mounted over /sys/bus/ap/devices/XX.YYYY (a link to the host's queue dir). */
  liveQueue?: { hostPath: string; queue: string };
}

const BUS_FILES = ['ap_interrupts', 'ap_max_domain_id', 'poll_thread', 'poll_timeout'];
const BUS_FILES_OPTIONAL = ['ap_max_adapter_id'];
const CARD_FILES = ['ap_functions', 'depth', 'hwtype', 'raw_hwtype', 'type'];
const CARD_FILES_OPTIONAL = ['API_ordinalnr', 'FW_version', 'op_modes', 'serialnr'];
const QUEUE_FILES = ['interrupt', 'reset'];
const QUEUE_FILES_OPTIONAL = ['mkvps', 'op_modes'];
/** What a static shadow shows for an APQN's state and counters. */
const STATIC_COUNTERS: Record<string, string> = {
  online: '1',
  pendingq_count: '0',
  request_count: '0',
  requestq_count: '0',
};
const TEMP_PREFIX = '.tmp-';

export class ShadowSysfs {
  constructor(private readonly opts: ShadowOptions) {}

  get baseDir(): string {
    return this.opts.baseDir;
  }

  /** Create the base dir when missing (as upstream) and drop half-built trees of an earlier run. */
  init(): void {
    const base = this.opts.baseDir;
    fs.mkdirSync(base, { recursive: true, mode: 0o755 });
    if (!fs.statSync(base).isDirectory()) throw new Error(`${base} (SHADOWSYSFS_BASEDIR) is not a directory`);
    fs.accessSync(base, fs.constants.R_OK | fs.constants.W_OK | fs.constants.X_OK);
    for (const name of fs.readdirSync(base))
      if (name.startsWith(TEMP_PREFIX)) fs.rmSync(path.join(base, name), { recursive: true, force: true });
  }

  dirFor(id: string): string {
    return path.join(this.opts.baseDir, shadowDirName(id));
  }

  /** Device IDs that have a shadow dir. */
  list(): string[] {
    try {
      return fs
        .readdirSync(this.opts.baseDir)
        .map((name) => SHADOW_DIR_PATTERN.exec(name)?.[1])
        .filter((id): id is string => id !== undefined);
    } catch {
      return [];
    }
  }

  remove(id: string): void {
    fs.rmSync(this.dirFor(id), { recursive: true, force: true });
  }

  /**
   * (Re)build the tree for `id`. It is assembled in a temp dir and renamed into place, so a tree
   * under its final name is always complete.
   */
  build(id: string, adapter: number, domain: number, live: boolean): ShadowTree {
    const final = this.dirFor(id);
    const temp = fs.mkdtempSync(path.join(this.opts.baseDir, `${TEMP_PREFIX}${id}-`));
    try {
      this.populate(new TreeWriter(temp), adapter, domain, live);
      openDirs(temp);
      fs.rmSync(final, { recursive: true, force: true });
      fs.renameSync(temp, final);
    } catch (err) {
      fs.rmSync(temp, { recursive: true, force: true });
      throw new Error(`cannot build the shadow sysfs for ${id}: ${(err as Error).message}`);
    }
    const queue = queueDirName(adapter, domain);
    return {
      dir: final,
      busDir: path.join(final, 'bus', 'ap'),
      devicesDir: path.join(final, 'devices', 'ap'),
      liveQueue: live ? { hostPath: path.join(final, 'tmp_bus'), queue } : undefined,
    };
  }

  private populate(out: TreeWriter, adapter: number, domain: number, live: boolean): void {
    const card = cardDirName(adapter);
    const queue = queueDirName(adapter, domain);
    const hostCard = path.join(this.opts.apDevsDir, card);
    const hostQueue = path.join(hostCard, queue);

    // bus/ap: copied attributes and masks that show only this adapter and usage domain.
    out.copy(this.opts.apBusDir, 'bus/ap', BUS_FILES, BUS_FILES_OPTIONAL);
    out.file('bus/ap/ap_adapter_mask', mask256(false, [adapter]));
    out.file('bus/ap/ap_control_domain_mask', mask256(false, []));
    out.file('bus/ap/ap_domain', `${domain}\n`);
    out.file('bus/ap/apmask', mask256(true, []));
    out.file('bus/ap/ap_usage_domain_mask', mask256(false, [domain]));
    out.file('bus/ap/aqmask', mask256(true, []));

    // devices/ap/cardXX
    const cardDir = `devices/ap/${card}`;
    out.copy(hostCard, cardDir, CARD_FILES, CARD_FILES_OPTIONAL);
    out.file(`${cardDir}/load`, '0\n');
    for (const [name, value] of Object.entries(STATIC_COUNTERS)) {
      if (live) out.link(`${cardDir}/${name}`, `${queue}/${name}`);
      else out.file(`${cardDir}/${name}`, `${value}\n`);
    }
    out.link(`${cardDir}/driver`, '../../../bus/ap/drivers/cex4card');
    out.link(`${cardDir}/subsystem`, '../../../bus/ap');

    // devices/ap/cardXX/XX.YYYY (in live mode the host's queue dir is mounted over it)
    const queueDir = `${cardDir}/${queue}`;
    out.copy(hostQueue, queueDir, QUEUE_FILES, QUEUE_FILES_OPTIONAL);
    out.file(`${queueDir}/load`, '0\n');
    for (const [name, value] of Object.entries(STATIC_COUNTERS))
      out.file(`${queueDir}/${name}`, `${value}\n`);
    out.link(`${queueDir}/driver`, '../../../../bus/ap/drivers/cex4queue');
    out.link(`${queueDir}/subsystem`, '../../../../bus/ap');

    // bus/ap/devices and bus/ap/drivers link back into devices/ap.
    out.link(`bus/ap/devices/${card}`, `../../../devices/ap/${card}`);
    out.link(`bus/ap/devices/${queue}`, `../../../devices/ap/${card}/${queue}`);
    out.link(`bus/ap/drivers/cex4card/${card}`, `../../../../devices/ap/${card}`);
    out.link(`bus/ap/drivers/cex4queue/${queue}`, `../../../../devices/ap/${card}/${queue}`);

    if (live) {
      if (!fs.existsSync(hostQueue)) throw new Error(`${hostQueue} does not exist`);
      out.link('tmp_bus', hostQueue);
    }
  }
}

/** Dirs 0755 whatever the umask: containers read the tree as any user. */
function openDirs(dir: string): void {
  fs.chmodSync(dir, 0o755);
  for (const entry of fs.readdirSync(dir, { withFileTypes: true }))
    if (entry.isDirectory()) openDirs(path.join(dir, entry.name));
}

/** A 256-bit sysfs mask `0x…` (64 hex digits): all clear with `bits` set, or all set with `bits` clear. */
export function mask256(allSet: boolean, bits: number[]): string {
  const bytes = Buffer.alloc(32, allSet ? 0xff : 0x00);
  for (const bit of bits) {
    const flag = 0x80 >> (bit % 8);
    bytes[bit >> 3] = allSet ? bytes[bit >> 3] & ~flag : bytes[bit >> 3] | flag;
  }
  return `0x${bytes.toString('hex')}\n`;
}

/** Writes files (0444), dirs (0755) and links below a root, creating parents as needed. */
class TreeWriter {
  constructor(private readonly root: string) {}

  file(rel: string, content: string | Buffer): void {
    const target = this.prepare(rel);
    fs.writeFileSync(target, content, { mode: 0o444 });
    fs.chmodSync(target, 0o444);
  }

  link(rel: string, target: string): void {
    fs.symlinkSync(target, this.prepare(rel));
  }

  /** Copy `required` files (each must exist) and whichever `optional` ones exist. */
  copy(srcDir: string, destRel: string, required: string[], optional: string[]): void {
    for (const name of [...required, ...optional]) {
      const src = path.join(srcDir, name);
      let content: Buffer;
      try {
        content = fs.readFileSync(src);
      } catch (err) {
        if (optional.includes(name) && (err as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw new Error(`cannot read ${src}: ${(err as Error).message}`);
      }
      this.file(`${destRel}/${name}`, content);
    }
  }

  private prepare(rel: string): string {
    const target = path.join(this.root, rel);
    const parent = path.dirname(target);
    fs.mkdirSync(parent, { recursive: true, mode: 0o755 });
    return target;
  }
}
