/**
 * `kube-device-plugins <plugin> [flags]`. Each plugin family lives in plugins/<name>/ and exports its
 * PluginCommand as `command` from plugins/<name>/command.ts.
 */
// First, before the heavy modules below load: a SIGTERM during start-up must exit 0 (see the module).
import './early-signals';
import * as path from 'path';
import * as fs from 'fs';
import { runCommand, type PluginCommand } from './command';

export const PLUGIN_NAMES = ['tdx', 'kvm', 'devnode', 'cxi', 'netdevice', 'cex'] as const;

export function loadCommand(name: string): PluginCommand | undefined {
  if (!(PLUGIN_NAMES as readonly string[]).includes(name)) return undefined;
  const modulePath = path.join(__dirname, '..', name, 'command');
  if (!['.js', '.ts'].some((ext) => fs.existsSync(modulePath + ext))) return undefined;
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- modules found at run time by file name
  return (require(modulePath) as { command: PluginCommand }).command;
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
