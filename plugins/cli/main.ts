/**
 * `kube-device-plugins <plugin> [flags]`. Each plugin family lives in plugins/<name>/ and exports its
 * PluginCommand as `command` from plugins/<name>/command.ts; ./families.ts is their typed registry.
 */
// First, before the heavy modules below load: a SIGTERM during start-up must exit 0 (see the module).
import './early-signals';
import { runCommand } from './command';
import { loadCommand, PLUGIN_NAMES } from './families';

export { loadCommand, PLUGIN_NAMES } from './families';

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
