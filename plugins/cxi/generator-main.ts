/**
 * `cxi-cdi-generator`: writes the `hpe.com/cxi` CDI spec for this node's Slingshot NICs (upstream's
 * flags: --cdi-dir, --env-vars, -n/--dry-run, -v/--version, -V/--verbose). Exit 0 on success, 2 on a
 * bad flag or root, 1 when the spec cannot be produced (nothing is written then).
 */
import * as fs from 'fs';
import * as path from 'path';
import * as yaml from 'js-yaml';
import { createLogger, COMMON_FLAGS, formatHelp, parseFlags, UsageError, type FlagSpec } from '../framework';
import { specNicNames } from './cdi-spec';
import { CXI_ROOT_FLAG, OFI_ROOT_FLAG, requireDirectory } from './config';
import { generateCxiSpec, GeneratorError, type GeneratorResult } from './generator';

const NAME = 'cxi-cdi-generator';

const commonFlag = (name: string) => COMMON_FLAGS.find((f) => f.name === name)!;

export const GENERATOR_FLAGS: FlagSpec[] = [
  { name: 'cdi-dir', env: 'CDI_DIR', type: 'string', default: '/etc/cdi', help: 'CDI spec directory' },
  {
    name: 'env-vars',
    env: 'CXI_ENV_VARS',
    type: 'string',
    default: '',
    help: 'YAML file "env: [KEY=VALUE, …]" whose variables the spec sets in every container',
  },
  {
    name: 'dry-run',
    short: 'n',
    env: 'CXI_DRY_RUN',
    type: 'bool',
    default: false,
    help: 'print the spec to stdout, write nothing',
  },
  {
    name: 'verbose',
    short: 'V',
    env: 'CXI_VERBOSE',
    type: 'int',
    min: 0,
    max: 10,
    default: 0,
    help: 'log detail: 0 a summary, 1 or more every NIC, library and variable',
  },
  {
    name: 'version',
    short: 'v',
    env: 'CXI_SHOW_VERSION',
    type: 'bool',
    default: false,
    help: 'print the version',
  },
  commonFlag('sysfs-root'),
  commonFlag('devfs-root'),
  OFI_ROOT_FLAG,
  CXI_ROOT_FLAG,
];

export interface GeneratorIo {
  env: NodeJS.ProcessEnv;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

/** The version of this distribution (package.json, found above this file in src and in dist). */
export function version(): string {
  for (let dir = __dirname; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    if (fs.existsSync(file))
      return (JSON.parse(fs.readFileSync(file, 'utf8')) as { version: string }).version;
  }
  return 'unknown';
}

function summary(result: GeneratorResult): string {
  switch (result.action) {
    case 'written':
      return 'CDI spec written';
    case 'unchanged':
      return 'CDI spec already up to date';
    case 'removed':
      return 'no CXI NIC left: CDI spec removed';
    case 'nothing':
      return 'no CXI NIC found: no CDI spec written';
    case 'dry-run':
      return 'dry run: nothing written';
  }
}

/** NIC names for a log line: `0,1,10`, or `none`. */
function list(names: string[]): string {
  return names.length ? names.join(',') : 'none';
}

/** Run the generator; returns the exit code. */
export function runGenerator(argv: string[], io: GeneratorIo): number {
  let values;
  try {
    const parsed = parseFlags(GENERATOR_FLAGS, argv, io.env);
    if (parsed.help) {
      io.stdout(
        formatHelp(`${NAME} [flags]`, 'Writes the hpe.com/cxi CDI spec for this node.', GENERATOR_FLAGS),
      );
      return 0;
    }
    if (parsed.positionals.length) throw new UsageError(`unexpected argument ${parsed.positionals[0]}`);
    values = parsed.values;
    if (values.version) {
      io.stdout(`HPE Slingshot CDI Generator (kube-device-plugins) version ${version()}\n`);
      return 0;
    }
    requireDirectory(values.sysfsRoot as string, 'sysfs-root', 'SYSFS_ROOT');
    requireDirectory(values.devfsRoot as string, 'devfs-root', 'DEVFS_ROOT');
    // A dry run writes nothing, so a missing library dir (any non-HPE host: /opt/cray/lib64) is warned
    // about below and its mounts left out of the printed spec; a real run still refuses it (exit 2).
    if (values.dryRun !== true) {
      requireDirectory(values.ofiRoot as string, 'ofi-root', 'OFI_ROOT');
      requireDirectory(values.cxiRoot as string, 'cxi-root', 'CXI_ROOT');
    }
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    io.stderr(`${NAME}: ${err.message}\nrun '${NAME} --help' for the flags\n`);
    return 2;
  }
  const log = createLogger({
    level: (values.verbose as number) > 0 ? 'debug' : 'info',
    format: 'text',
    write: (line) => io.stderr(line + '\n'),
  }).with({ component: NAME });
  for (const [dir, flag] of [
    [values.ofiRoot, '--ofi-root (OFI_ROOT)'],
    [values.cxiRoot, '--cxi-root (CXI_ROOT)'],
  ] as const) {
    if (!fs.statSync(dir as string, { throwIfNoEntry: false })?.isDirectory())
      log.warn('dry run: library directory missing; its libraries are left out of the spec', {
        flag,
        dir: dir as string,
      });
  }
  try {
    const result = generateCxiSpec({
      sysfsRoot: values.sysfsRoot as string,
      devfsRoot: values.devfsRoot as string,
      ofiRoot: values.ofiRoot as string,
      cxiRoot: values.cxiRoot as string,
      cdiDir: values.cdiDir as string,
      envVarsFile: (values.envVars as string) || undefined,
      dryRun: values.dryRun === true,
      log,
    });
    if (result.action === 'dry-run' && result.spec)
      io.stdout(yaml.dump(result.spec, { noRefs: true, lineWidth: -1 }));
    log.info(summary(result), {
      file: result.file,
      nics: specNicNames(result.spec).length,
      added: list(result.added),
      removed: list(result.removed),
    });
    return 0;
  } catch (err) {
    log.error(err instanceof GeneratorError ? err.message : 'cannot write the CDI spec', {
      ...(err instanceof GeneratorError ? {} : { error: err as Error }),
    });
    return 1;
  }
}

export function main(argv: string[]): void {
  process.exitCode = runGenerator(argv, {
    env: process.env,
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
  });
}
