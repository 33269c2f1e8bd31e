/**
 * Change detection for plugins: watch directories with inotify (fs.watch), back it with a poll, and
 * publish a device list only when it really changed. Device families only supply `scan()`.
 */
import * as fs from 'fs';
import type { Device, DeviceListener } from './types';
import type { Logger } from './log';

export interface WatchOptions {
  /** Directories to watch (non-existent ones are polled until they appear). */
  dirs: string[];
  /** Called (debounced) after any change in those directories, and on every poll tick. */
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
  const watchers = new Map<string, fs.FSWatcher>();
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  const fire = () => {
    if (closed || timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      if (!closed) onChange();
    }, debounceMs);
  };
  const ensureWatchers = () => {
    for (const dir of dirs) {
      if (watchers.has(dir)) continue;
      try {
        const watcher = fs.watch(dir, fire);
        watcher.on('error', () => {
          watcher.close();
          watchers.delete(dir); // e.g. the directory was removed; the poll re-attaches it
          fire();
        });
        watchers.set(dir, watcher);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
          options.log?.warn('cannot watch directory', { dir, error: err as Error });
      }
    }
  };
  ensureWatchers();
  const poll = pollMs > 0 ? setInterval(() => (ensureWatchers(), fire()), pollMs) : undefined;
  poll?.unref();
  return {
    close() {
      closed = true;
      clearTimeout(timer);
      clearInterval(poll);
      for (const w of watchers.values()) w.close();
      watchers.clear();
    },
  };
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
