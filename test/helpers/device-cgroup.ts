/**
 * A real device cgroup for tests of the EPERM rule: an unprivileged plugin container may not open device
 * nodes, and the open fails with EPERM. `withDeviceDenied` moves the calling thread (the one running the
 * test) into a fresh cgroup-v1 `devices` cgroup that denies one char device, runs `fn`, and moves the thread
 * back, so only synchronous code inside `fn` sees the rule. Needs root and the cgroup-v1 devices controller
 * (cgroup v2 does device control with BPF programs only).
 */
import * as fs from 'fs';
import * as path from 'path';
import { isRoot, testUnless } from './root';

const DEVICES_ROOT = '/sys/fs/cgroup/devices';

/** Why device cgroups cannot be made here, or undefined when they can. */
export function deviceCgroupUnavailable(): string | undefined {
  if (!isRoot()) return 'device cgroups need root';
  if (!fs.existsSync(path.join(DEVICES_ROOT, 'devices.deny')))
    return `no cgroup-v1 devices controller at ${DEVICES_ROOT}`;
  if (!ownDevicesCgroup()) return 'this process is in no cgroup-v1 devices cgroup';
  return undefined;
}

/** `test` for device-cgroup tests: skipped with a printed reason where they cannot run, never under CI. */
export function testWithDeviceCgroup(name: string, fn: () => void | Promise<void>): void {
  testUnless(deviceCgroupUnavailable(), name, fn);
}

/** Run `fn` with this thread unable to open char device `major:minor` (EPERM), as in a container. */
export function withDeviceDenied<T>(device: { major: number; minor: number }, fn: () => T): T {
  const own = ownDevicesCgroup();
  if (own === undefined) throw new Error('this process is in no cgroup-v1 devices cgroup');
  const dir = fs.mkdtempSync(path.join(DEVICES_ROOT, own, 'kdp-test-'));
  try {
    fs.writeFileSync(path.join(dir, 'devices.deny'), `c ${device.major}:${device.minor} rwm`);
    // `tasks`, not `cgroup.procs`: only the main thread (where the test's JavaScript runs) moves.
    fs.writeFileSync(path.join(dir, 'tasks'), String(process.pid));
    try {
      return fn();
    } finally {
      fs.writeFileSync(path.join(DEVICES_ROOT, own, 'tasks'), String(process.pid));
    }
  } finally {
    fs.rmdirSync(dir);
  }
}

/** This process's devices cgroup, relative to the controller's mount. */
function ownDevicesCgroup(): string | undefined {
  for (const line of fs.readFileSync('/proc/self/cgroup', 'utf8').split('\n')) {
    const [, controllers, cgroup] = line.split(':');
    if (controllers?.split(',').includes('devices')) return cgroup;
  }
  return undefined;
}
