/**
 * A family in DRA mode as the chart runs it: `node dist/plugins/cli/main.js <family> --mode dra …`, a real
 * process with its own kubeconfig, kubelet root dir and CDI dir, its logs kept in a file.
 */
import * as http from 'http';
import * as path from 'path';
import { PluginProcess, REPO_ROOT } from '../plugin-process';

const CLI = path.join(REPO_ROOT, 'dist', 'plugins', 'cli', 'main.js');

export interface DriverSettings {
  family: string;
  driverName: string;
  nodeName: string;
  kubeconfig: string;
  kubeletRootDir: string;
  cdiDir: string;
  /** host:port of /healthz, /readyz, /metrics. */
  httpAddr: string;
  /** The family's own flags (fixture roots, config). */
  args: string[];
}

export class DriverProcess extends PluginProcess {
  constructor(
    readonly settings: DriverSettings,
    logFile: string,
  ) {
    const s = settings;
    const args = [
      '--mode=dra',
      `--dra-driver-name=${s.driverName}`,
      `--node-name=${s.nodeName}`,
      `--kubeconfig=${s.kubeconfig}`,
      `--kubelet-root-dir=${s.kubeletRootDir}`,
      `--cdi-dir=${s.cdiDir}`,
      `--http-addr=${s.httpAddr}`,
      ...s.args,
    ];
    super(s.family, args, {}, logFile, CLI);
  }

  /** GET /readyz: its status code (0 when nothing answers). */
  readyz(): Promise<number> {
    return new Promise((resolve) => {
      const request = http.get(`http://${this.settings.httpAddr}/readyz`, { timeout: 2000 }, (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      });
      request.on('error', () => resolve(0));
      request.on('timeout', () => (request.destroy(), resolve(0)));
    });
  }

  /** Waits until /readyz answers 200 (registered with the kubelet, slice in sync). */
  async waitReady(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = 0;
    while (Date.now() < deadline) {
      if (!this.running) throw new Error(`the ${this.settings.family} driver exited (${this.exitCode})`);
      last = await this.readyz();
      if (last === 200) return;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(
      `the ${this.settings.family} driver's /readyz is ${last || 'not answering'} after ${timeoutMs / 1000} s`,
    );
  }
}
