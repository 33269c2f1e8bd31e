// tsc does not copy non-TypeScript files: put the .proto files where dist/ code loads them from.
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..');
const target = path.join(root, 'dist', 'proto');
fs.mkdirSync(target, { recursive: true });
for (const file of fs.readdirSync(path.join(root, 'proto'))) {
  if (file.endsWith('.proto')) fs.copyFileSync(path.join(root, 'proto', file), path.join(target, file));
}
