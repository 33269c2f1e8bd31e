#!/usr/bin/env node
// Entry point of the `kube-device-plugins` bin: run `npm run build` first (it compiles into dist/).
// Signal handlers first, before the heavy modules load: a SIGTERM during start-up must exit 0.
require('../dist/plugins/cli/early-signals.js');
require('../dist/plugins/cli/main.js').main(process.argv.slice(2));
