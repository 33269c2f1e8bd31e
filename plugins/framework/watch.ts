/**
 * Change detection for plugins: watch directories with inotify (fs.watch), back it with a poll, and
 * publish a device list only when it really changed. Device families only supply `scan()`.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { Device, DeviceListener } from './types';
import type { Logger } from './log';

export interface WatchOptions {
  /** Directories to watch (non-existent ones are polled until they appear). */
  dirs: string[];
  /** Called (debounced) after any change in those directories, and on every poll tick. Errors are logged. */
  onChange: () => void;
  /** Poll interval as a safety net for lost events and for files inotify cannot see (sysfs). 0 = none. */
  pollMs?: number;
  /** Debounce for bursts of events. */
  debounceMs?: number;
  log?: Logger;
}

export interface Watch {
  close(): void;
}

export function watchDirs(options: WatchOptions): Watch {
  const { dirs, onChange, pollMs = 0, debounceMs = 5 } = options;
  const watchers = new Map<string, { watcher: fs.FSWatcher; identity: string }>();
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  const fire = () => {
    if (closed || timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      if (closed) return;
      ensureWatchers();
      // A throw here would end the daemon (it runs from a timer): log it and keep watching.
      try {
        onChange();
      } catch (err) {
        options.log?.error('handling a change failed; will retry on the next event or poll', {
          error: err as Error,
        });
      }
    }, debounceMs);
  };
  /**
   * Watch every directory that exists, and watch again one that was removed and made anew (its old
   * inotify watch died with the old inode, and Node reports no error for that). A directory that does
   * not exist is waited for by watching its nearest existing ancestor, so its (re)creation is seen at
   * once, not at the next poll (a ConfigMap volume's directory can be deleted and made again).
   */
  function ensureWatchers(): void {
    for (const dir of dirs) {
      const target = watchTarget(dir);
      const identity = target && `${target.path}|${target.identity}`;
      const current = watchers.get(dir);
      if (current && current.identity === identity) continue;
      current?.watcher.close();
      watchers.delete(dir);
      if (target === undefined || identity === undefined) continue;
      try {
        const watcher = fs.watch(target.path, fire);
        watcher.on('error', () => {
          watcher.close();
          watchers.delete(dir); // e.g. the directory was removed; the next event or poll re-attaches it
          fire();
        });
        watchers.set(dir, { watcher, identity });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
          options.log?.warn('cannot watch directory', { dir, error: err as Error });
      }
    }
  }
  ensureWatchers();
  const poll = pollMs > 0 ? setInterval(() => (ensureWatchers(), fire()), pollMs) : undefined;
  poll?.unref();
  return {
    close() {
      closed = true;
      clearTimeout(timer);
      clearInterval(poll);
      for (const w of watchers.values()) w.watcher.close();
      watchers.clear();
    },
  };
}

/** `dir` itself when it exists, else its nearest existing ancestor (undefined when none can be found). */
function watchTarget(dir: string): { path: string; identity: string } | undefined {
  for (let current = path.resolve(dir); ; current = path.dirname(current)) {
    const identity = dirIdentity(current);
    if (identity !== undefined) return { path: current, identity };
    if (path.dirname(current) === current) return undefined;
  }
}

/** inode + birth time: a directory made again gets a new identity even when the inode number is reused. */
function dirIdentity(dir: string): string | undefined {
  try {
    const st = fs.statSync(dir, { bigint: true });
    return st.isDirectory() ? `${st.dev}:${st.ino}:${st.birthtimeNs}` : undefined;
  } catch {
    return undefined;
  }
}

/** Wraps `publish` so that only lists different from the last one are sent. */
export function publishOnChange(publish: DeviceListener): (devices: Device[]) => boolean {
  let last: string | undefined;
  return (devices) => {
    const key = JSON.stringify(devices.map((d) => [d.id, d.health, d.numaNodes ?? []]));
    if (key === last) return false;
    last = key;
    publish(devices);
    return true;
  };
}

/** Sharing: `count` interchangeable IDs `<base>-0 … <base>-<count-1>`, all with the same health. */
export function sharedDevices(
  base: string,
  count: number,
  health: Device['health'],
  numaNodes?: number[],
): Device[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `${base}-${i}`,
    health,
    ...(numaNodes ? { numaNodes } : {}),
  }));
}
