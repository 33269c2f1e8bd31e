/**
 * Prometheus metrics for the kubelet contract. Each PluginManager gets its own registry so several
 * managers (tests, the demo) never share counters; plugins may register their own metrics on it.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Device } from './types';

export class FrameworkMetrics {
  readonly registry = new Registry();
  readonly registrations = new Counter({
    name: 'kdp_registrations_total',
    help: 'Successful registrations with the kubelet',
    labelNames: ['resource'],
    registers: [this.registry],
  });
  readonly reregistrations = new Counter({
    name: 'kdp_reregistrations_total',
    help: 'Registrations after the first (kubelet or plugin restarts)',
    labelNames: ['resource'],
    registers: [this.registry],
  });
  readonly registrationFailures = new Counter({
    name: 'kdp_registration_failures_total',
    help: 'Failed registration attempts',
    labelNames: ['resource'],
    registers: [this.registry],
  });
  readonly devices = new Gauge({
    name: 'kdp_devices',
    help: 'Devices advertised, by health',
    labelNames: ['resource', 'health'],
    registers: [this.registry],
  });
  readonly streams = new Gauge({
    name: 'kdp_list_and_watch_streams',
    help: 'Open ListAndWatch streams',
    labelNames: ['resource'],
    registers: [this.registry],
  });
  readonly allocations = new Counter({
    name: 'kdp_allocations_total',
    help: 'Container allocations served',
    labelNames: ['resource'],
    registers: [this.registry],
  });
  readonly allocationErrors = new Counter({
    name: 'kdp_allocation_errors_total',
    help: 'Allocate requests that failed, by reason',
    labelNames: ['resource', 'reason'],
    registers: [this.registry],
  });
  readonly allocateSeconds = new Histogram({
    name: 'kdp_allocate_duration_seconds',
    help: 'Allocate RPC latency',
    labelNames: ['resource'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1, 5],
    registers: [this.registry],
  });

  constructor(options: { processMetrics?: boolean } = {}) {
    if (options.processMetrics) collectDefaultMetrics({ register: this.registry });
  }

  setDevices(resource: string, devices: Device[]): void {
    const healthy = devices.filter((d) => d.health === 'Healthy').length;
    this.devices.set({ resource, health: 'Healthy' }, healthy);
    this.devices.set({ resource, health: 'Unhealthy' }, devices.length - healthy);
  }

  forget(resource: string): void {
    for (const health of ['Healthy', 'Unhealthy']) this.devices.remove({ resource, health });
    this.streams.remove({ resource });
  }
}
