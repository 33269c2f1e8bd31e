// Lints the tree in the current directory with the repository's eslint.config.mjs through the ESLint API
// and prints one JSON array of { file, ruleId, message }. Run by boundaries.test.ts in a child process whose
// cwd is the tree, because the layer zones (import/no-restricted-paths) are relative to the process's cwd.
import * as path from 'node:path';
import process from 'node:process';
import { ESLint } from 'eslint';

const configFile = process.argv[2];
const eslint = new ESLint({ cwd: process.cwd(), overrideConfigFile: configFile });
const results = await eslint.lintFiles(['.']);
const found = results.flatMap((result) =>
  result.messages.map((m) => ({
    file: path.relative(process.cwd(), result.filePath),
    ruleId: m.ruleId,
    message: m.message,
  })),
);
process.stdout.write(JSON.stringify(found));
