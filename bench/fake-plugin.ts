/**
 * A minimal plugin family for framework benchmarks, run as a real process:
 *   node dist/bench/fake-plugin.js --watch-dir DIR [common flags]
 * Every file in DIR is one Healthy device; files come and go through an inotify watch, exactly
 * like a devfs-backed plugin. It measures the framework, not any device family.
 */
import * as fs from 'fs';
import { publishOnChange, watchDirs, type Device } from '../plugins/framework';
import { runCommand, type PluginCommand } from '../plugins/cli/command';

export const RESOURCE = 'bench.example.com/dev';

const command: PluginCommand = {
  name: 'bench',
  summary: 'files in --watch-dir are devices',
  flags: [
    {
      name: 'watch-dir',
      env: 'WATCH_DIR',
      type: 'string',
      required: true,
      help: 'directory whose files are devices',
    },
  ],
  async run(ctx) {
    const dir = ctx.options.watchDir as string;
    const scan = (): Device[] => {
      try {
        return fs.readdirSync(dir).map((id) => ({ id, health: 'Healthy' }));
      } catch {
        return []; // the directory is gone: no devices
      }
    };
    let watch: { close(): void } | undefined;
    await ctx.manager.addResource({
      resourceName: RESOURCE,
      start(publish) {
        const send = publishOnChange(publish);
        send(scan());
        watch = watchDirs({ dirs: [dir], onChange: () => send(scan()), debounceMs: 1 });
      },
      stop: () => watch?.close(),
      allocate: (ids) => ({
        devices: ids.map((id) => ({
          containerPath: `/dev/${id}`,
          hostPath: `${dir}/${id}`,
          permissions: 'rw',
        })),
      }),
    });
  },
};

if (require.main === module) void runCommand(command, process.argv.slice(2));
