/**
 * The Node.js flags every plugin container runs with (see BENCHMARKS.md, "Node LTS", for the figures).
 * A device plugin is a small, mostly idle agent on every node: memory matters more than peak speed.
 * - `--max-semi-space-size=1`: a 1 MB young generation. Under load the default lets it grow to tens of
 *   MB that are never handed back.
 * - `--lite-mode`: V8's memory-saving mode (no optimising or baseline compiler, feedback allocated lazily,
 *   bytecode flushed sooner). On Node 26 it holds RSS after 10,000 Allocates at ~68 MB where `--no-opt`
 *   let it climb to ~117 MB. It also turns WebAssembly off, which nothing here uses.
 */
export const NODE_RUNTIME_FLAGS = ['--max-semi-space-size=1', '--lite-mode'];
