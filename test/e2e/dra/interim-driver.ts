/**
 * A family in DRA mode for the e2e tier while `kube-device-plugins <family> --mode dra` does not exist
 * yet: the family's own CLI command (its flags, its discovery, its resources) runs against a shim that
 * collects the resources it adds, and `startDraMode` (the framework's DRA mode) serves them instead of
 * the device-plugin manager. Once the CLI has `--mode dra`, the tier runs the CLI (driver-process.ts).
 *
 * Usage: node interim-driver.js <family> [family and common flags]
 * DRA settings from the environment: KDP_DRA_DRIVER, NODE_NAME, KUBECONFIG, KUBELET_ROOT_DIR, CDI_DIR.
 */
import * as http from 'http';
import { parseFlags } from '../../../plugins/cli/flags';
import { COMMON_FLAGS, type CommonOptions, type PluginContext } from '../../../plugins/cli/command';
import { loadCommand } from '../../../plugins/cli/main';
import { createLogger, type ResourcePlugin } from '../../../plugins/framework';
import { startDraMode } from '../../../plugins/framework/dra';

async function main(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  const command = name ? loadCommand(name) : undefined;
  if (!command) throw new Error(`unknown family ${JSON.stringify(name)}`);
  const need = (key: string) => {
    const value = process.env[key];
    if (!value) throw new Error(`${key} is not set`);
    return value;
  };
  const parsed = parseFlags([...command.flags, ...COMMON_FLAGS], rest, process.env);
  const common = parsed.values as unknown as CommonOptions;
  const log = createLogger({ level: common.logLevel, format: 'json' }).with({ plugin: name });
  const resources: ResourcePlugin[] = [];
  const shutdown: (() => Promise<void> | void)[] = [];
  const ctx = {
    common,
    options: parsed.values,
    env: process.env,
    manager: { addResource: async (plugin: ResourcePlugin) => void resources.push(plugin) },
    log,
    onShutdown: (fn: () => Promise<void> | void) => shutdown.push(fn),
  } as unknown as PluginContext;
  await command.run(ctx);
  // What the CLI's DRA mode chooses for a shared node: one device many claims hold at once.
  for (const plugin of resources) {
    const options = (plugin as unknown as { options?: { sharing?: string } }).options;
    if (options && 'devfsRoot' in options) options.sharing = 'allocations';
  }
  const mode = await startDraMode({
    driverName: need('KDP_DRA_DRIVER'),
    nodeName: need('NODE_NAME'),
    kubeconfig: need('KUBECONFIG'),
    kubeletRootDir: need('KUBELET_ROOT_DIR'),
    cdiDir: common.cdiDir,
    resources: resources.map((plugin) => ({ plugin })),
    log,
    pollIntervalMs: 1000,
  });
  log.info('DRA driver started', { resources: resources.map((r) => r.resourceName) });
  // /readyz as the CLI serves it in DRA mode: registered with the kubelet and the slice in sync.
  let server: http.Server | undefined;
  if (common.httpAddr) {
    const at = common.httpAddr.lastIndexOf(':');
    server = http
      .createServer((req, res) => {
        const ok = req.url === '/healthz' || (req.url === '/readyz' && mode.ready());
        res.writeHead(ok ? 200 : 503).end(ok ? 'ok\n' : 'not ready\n');
      })
      .listen(Number(common.httpAddr.slice(at + 1)), common.httpAddr.slice(0, at) || '127.0.0.1');
  }
  const stop = async (signal: string) => {
    log.info('stopping', { signal });
    server?.close();
    for (const fn of shutdown.reverse()) await fn();
    await mode.stop(process.env.KDP_DRA_UNINSTALL === 'true');
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
}

main(process.argv.slice(2)).catch((err: Error) => {
  process.stderr.write(`interim-driver: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
