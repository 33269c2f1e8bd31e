#!/usr/bin/env node
// Entry point of the `kube-device-plugins` bin: run `npm run build` first. It runs the bundle (one file:
// scripts/bundle.js builds it from plugins/cli/entry.ts), which installs the early signal handlers first.
require('../dist/bundle/kube-device-plugins.js');
