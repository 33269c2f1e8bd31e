/**
 * zcrypt multiple device nodes (ZCRYPT_CLASSDIR, normally /sys/class/zcrypt). Writing a name to
 * `create` makes the kernel add `<classdir>/<name>` (with apmask, aqmask and ioctlmask) and the
 * device node `/dev/<name>`; writing it to `destroy` removes both. A fresh node grants nothing until
 * its masks are written, so a container sees exactly one APQN through it.
 */
import * as fs from 'fs';
import * as path from 'path';
import { ZCRYPT_NODE_PATTERN } from './ids';

export interface ZcryptOptions {
  classDir: string;
  /** Where the device nodes appear (the --devfs-root). */
  devfsRoot: string;
  /** How long to wait for udev/devtmpfs to make /dev/<name>; checks back off from 5 ms. */
  nodeTimeoutMs?: number;
}

/** The kernel's limit for a zcrypt node name (ZCDN_MAX_NAME, 32 with the terminating NUL). */
const MAX_NAME = 31;
const NODE_MODE = 0o666;
const ALL_IOCTLS = Array.from({ length: 256 }, (_, i) => `+${i}`).join(',');

export class ZcryptNodes {
  readonly nodeTimeoutMs: number;

  constructor(private readonly opts: ZcryptOptions) {
    this.nodeTimeoutMs = opts.nodeTimeoutMs ?? 6400;
  }

  /** The kernel offers multiple nodes only when the class dir has `create`. */
  supported(): boolean {
    return fs.existsSync(path.join(this.opts.classDir, 'create'));
  }

  devicePath(name: string): string {
    return path.join(this.opts.devfsRoot, name);
  }

  exists(name: string): boolean {
    return fs.existsSync(path.join(this.opts.classDir, name)) && fs.existsSync(this.devicePath(name));
  }

  /** Names of our nodes (`zcrypt-apqn-…`) the kernel currently has. */
  list(): string[] {
    try {
      return fs.readdirSync(this.opts.classDir).filter((name) => ZCRYPT_NODE_PATTERN.test(name));
    } catch {
      return [];
    }
  }

  /**
   * Make sure node `name` exists and grants exactly APQN (adapter, domain) with every ioctl.
   * Reuses an existing node (its masks are re-applied: they are additive, and a plugin that died
   * half-way may have left them unset). On failure the node is destroyed, as upstream: the kubelet
   * hands a device ID to one container at a time, so nobody else can be using it.
   * Returns whether the node was created by this call.
   */
  async ensure(name: string, adapter: number, domain: number): Promise<boolean> {
    if (name.length > MAX_NAME) throw new Error(`zcrypt node name ${name} is longer than ${MAX_NAME}`);
    const created = !fs.existsSync(path.join(this.opts.classDir, name));
    try {
      if (created) await writeAttribute(path.join(this.opts.classDir, 'create'), name);
      await this.waitForNode(name);
      await fs.promises.chmod(this.devicePath(name), NODE_MODE);
      const dir = path.join(this.opts.classDir, name);
      await writeAttribute(path.join(dir, 'apmask'), `+${adapter}`);
      await writeAttribute(path.join(dir, 'aqmask'), `+${domain}`);
      await writeAttribute(path.join(dir, 'ioctlmask'), ALL_IOCTLS);
    } catch (err) {
      await this.destroy(name).catch(() => undefined);
      throw err;
    }
    return created;
  }

  async destroy(name: string): Promise<void> {
    if (!fs.existsSync(path.join(this.opts.classDir, name))) return;
    await writeAttribute(path.join(this.opts.classDir, 'destroy'), name);
  }

  /**
   * Wait for the sysfs entry and /dev node, up to the timeout: re-check whenever the devfs dir changes
   * (inotify) and, as a safety net, after growing pauses (5, 10, 20 … ms) as upstream.
   */
  private async waitForNode(name: string): Promise<void> {
    if (this.exists(name)) return;
    const deadline = Date.now() + this.nodeTimeoutMs;
    let wake: () => void = () => undefined;
    let watcher: fs.FSWatcher | undefined;
    try {
      watcher = fs.watch(this.opts.devfsRoot, () => wake());
      watcher.on('error', () => undefined);
    } catch {
      // No inotify here: the pauses alone will do.
    }
    try {
      for (let pause = 5; !this.exists(name); pause *= 2) {
        const left = deadline - Date.now();
        if (left <= 0)
          throw new Error(
            `device node ${this.devicePath(name)} did not appear within ${this.nodeTimeoutMs} ms of creating it`,
          );
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.min(pause, left));
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    } finally {
      watcher?.close();
    }
  }
}

/**
 * Write a sysfs attribute the way `echo value > file` does, but never block: O_NONBLOCK makes a
 * missing reader (an emulated attribute) fail at once instead of hanging the Allocate.
 */
async function writeAttribute(file: string, value: string): Promise<void> {
  const { O_WRONLY, O_TRUNC, O_NONBLOCK } = fs.constants;
  let handle: fs.promises.FileHandle | undefined;
  try {
    handle = await fs.promises.open(file, O_WRONLY | O_TRUNC | O_NONBLOCK);
    await handle.write(`${value}\n`);
  } catch (err) {
    throw new Error(`cannot write "${value.slice(0, 40)}" to ${file}: ${(err as Error).message}`);
  } finally {
    await handle?.close();
  }
}
