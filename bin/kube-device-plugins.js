#!/usr/bin/env node
// Entry point of the `kube-device-plugins` bin: run `npm run build` first (it compiles into dist/).
require('../dist/plugins/cli/main.js').main(process.argv.slice(2));
