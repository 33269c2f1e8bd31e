#!/usr/bin/env node
// Entry point of the chart's `helm test` check (chart-test/main.ts): run `npm run build` first.
require('../dist/chart-test/main.js')
  .main()
  .then((code) => process.exit(code));
