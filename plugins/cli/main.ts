/**
 * `kube-device-plugins <plugin> [flags]`. Each plugin family lives in plugins/<name>/ and exports its
 * PluginCommand as `command` from plugins/<name>/command.ts.
 */
// First, before the heavy modules below load: a SIGTERM during start-up must exit 0 (see the module).
import './early-signals';
import { runCommand, type PluginCommand } from './command';

export const PLUGIN_NAMES = ['tdx', 'kvm', 'devnode', 'cxi', 'netdevice', 'cex'] as const;
type PluginName = (typeof PLUGIN_NAMES)[number];

/**
 * Each family's command module, required only when that family runs. A table of static `require`s rather
 * than a path built at run time, so that the bundler (scripts/bundle.js) sees every family; in the bundle
 * each stays a module that is executed on its first `require`, as here.
 */
/* eslint-disable @typescript-eslint/no-require-imports -- loaded on demand, one family per process */
const FAMILIES: Record<PluginName, () => { command: PluginCommand }> = {
  tdx: () => require('../tdx/command'),
  kvm: () => require('../kvm/command'),
  devnode: () => require('../devnode/command'),
  cxi: () => require('../cxi/command'),
  netdevice: () => require('../netdevice/command'),
  cex: () => require('../cex/command'),
};
/* eslint-enable @typescript-eslint/no-require-imports */

export function loadCommand(name: string): PluginCommand | undefined {
  if (!(PLUGIN_NAMES as readonly string[]).includes(name)) return undefined;
  return FAMILIES[name as PluginName]().command;
}

function usage(): string {
  return [
    'Usage: kube-device-plugins <plugin> [flags]',
    '',
    `Plugins: ${PLUGIN_NAMES.join(', ')}`,
    "Run 'kube-device-plugins <plugin> --help' for a plugin's flags.",
    '',
  ].join('\n');
}

export function main(argv: string[]): void {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    if (!name) process.exitCode = 2;
    return;
  }
  const command = loadCommand(name);
  if (!command) {
    process.stderr.write(`kube-device-plugins: unknown plugin "${name}"\n${usage()}`);
    process.exit(2);
  }
  runCommand(command, rest).catch((err: Error) => {
    process.stderr.write(`kube-device-plugins ${name}: ${err.message}\n`);
    process.exit(1);
  });
}

if (require.main === module) main(process.argv.slice(2));
