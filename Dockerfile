# syntax=docker/dockerfile:1
#
# The one image every kube-device-plugins DaemonSet runs:
#   node /app/bin/kube-device-plugins.js <plugin> [flags]   the plugins (tdx, kvm, devnode, cxi, netdevice, cex),
#                                                           one bundled file: dist/bundle/kube-device-plugins.js
#   node /app/bin/cxi-cdi-generator.js                      CXI's CDI spec generator (init container)
#   /app/plugins/netdevice/hooks/netdevice-hook.sh          netdevice's OCI hook (copied onto the host)
#
#   docker build -t ghcr.io/kube-device-plugins/kube-device-plugins:0.1.0 .

FROM node:26-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci
COPY . .
RUN npm run build

FROM node:26-slim
# iproute2 and util-linux (nsenter): what netdevice's hook needs where it runs, shipped here so the image
# holds everything the hook is tested against.
RUN apt-get update \
 && apt-get install -y --no-install-recommends iproute2 util-linux \
 && rm -rf /var/lib/apt/lists/*
# The CXI DaemonSet mounts the host's /usr/lib64 (libcxi) at the same path, so the paths it hands to the
# kubelet stay true. On Debian /lib64 is a link to /usr/lib64, where the ELF loader's path lives: give /lib64
# its own link to the loader first, so the host's directory cannot replace it. One process does it, because no
# dynamically linked program can start while /lib64 is gone.
RUN node -e " \
  const fs = require('fs'); \
  if (process.arch !== 'x64' || !fs.lstatSync('/lib64').isSymbolicLink()) process.exit(0); \
  const loader = fs.realpathSync('/lib64/ld-linux-x86-64.so.2'); \
  fs.unlinkSync('/lib64'); fs.mkdirSync('/lib64'); fs.symlinkSync(loader, '/lib64/ld-linux-x86-64.so.2');" \
 && node --version

WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force
# Only what the DaemonSets and the chart's `helm test` pod run: the plugins' bundle, the CXI generator (in
# dist/plugins) and chart-test, with their bins. Not the simulator, demo, bench, fault tier or synth, nor
# proto/ (the wire tables are compiled in). `node scripts/image-app.js` measures the result (README).
COPY --from=build /src/dist/bundle ./dist/bundle
COPY --from=build /src/dist/plugins ./dist/plugins
COPY --from=build /src/dist/chart-test ./dist/chart-test
COPY bin ./bin
COPY --chmod=0755 plugins/netdevice/hooks/netdevice-hook.sh ./plugins/netdevice/hooks/netdevice-hook.sh

# Node's compile cache: V8 code for the bundle the bin runs (dist/bundle/kube-device-plugins.js, scripts/bundle.js)
# and for the generator, compiled here so that a plugin starts without compiling its JavaScript (BENCHMARKS.md,
# "vs-go"). The cache is keyed by the Node version and the V8 flags, so it is filled with the runtime flags; at
# run time it is only read (the root filesystem is read-only).
ENV NODE_COMPILE_CACHE=/app/.compile-cache
RUN for plugin in tdx kvm devnode cxi netdevice cex; do \
      node --max-semi-space-size=1 --lite-mode /app/bin/kube-device-plugins.js "$plugin" --help >/dev/null || exit 1; \
    done \
 && node --max-semi-space-size=1 --lite-mode /app/bin/cxi-cdi-generator.js --help >/dev/null \
 && test -n "$(ls -A /app/.compile-cache)"

# The DaemonSets set command and args; this default shows the usage.
# The Node flags are NODE_RUNTIME_FLAGS (plugins/catalogue/node-flags.ts), as in the DaemonSets.
ENTRYPOINT ["node", "--max-semi-space-size=1", "--lite-mode", "/app/bin/kube-device-plugins.js"]
CMD ["--help"]
