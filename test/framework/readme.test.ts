/** Keep the README true: its flag reference is exactly what the commands declare. */
import * as fs from 'fs';
import * as path from 'path';
import { renderReadme } from '../../plugins/cli/docs';
import { COMMON_FLAGS } from '../../plugins/cli/command';
import { NODE_RUNTIME_FLAGS } from '../../plugins/catalogue/node-flags';

const readme = fs.readFileSync(path.join(__dirname, '..', '..', 'README.md'), 'utf8');

test('the flag reference in README.md matches the commands (regenerate: node dist/plugins/cli/docs.js --write)', () => {
  expect(readme).toBe(renderReadme(readme));
});

test('README.md lists every common flag with its env var', () => {
  for (const flag of COMMON_FLAGS) expect(readme).toContain(`| \`--${flag.name}\` | \`${flag.env}\` |`);
});

test('the image entrypoint runs node with the same runtime flags as the DaemonSets', () => {
  const dockerfile = fs.readFileSync(path.join(__dirname, '..', '..', 'Dockerfile'), 'utf8');
  const entrypoint = /^ENTRYPOINT (\[.*\])$/m.exec(dockerfile);
  expect(JSON.parse(entrypoint![1])).toEqual([
    'node',
    ...NODE_RUNTIME_FLAGS,
    '/app/bin/kube-device-plugins.js',
  ]);
});
