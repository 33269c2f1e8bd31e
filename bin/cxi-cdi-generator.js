#!/usr/bin/env node
// Entry point of the `cxi-cdi-generator` bin: run `npm run build` first (it compiles into dist/).
require('../dist/plugins/cxi/generator-main.js').main(process.argv.slice(2));
