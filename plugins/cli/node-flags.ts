/**
 * The Node.js flags every plugin container runs with (see BENCHMARKS.md for the figures behind them).
 * A device plugin is a small, mostly idle agent on every node: memory matters more than peak speed.
 * - `--max-semi-space-size=1`: a 1 MB young generation. Under load the default lets it grow to tens of
 *   MB that are never handed back (RSS after 10,000 allocations: ~105 MB → ~55 MB).
 * - `--lite-mode`: no optimising JIT and lazily allocated feedback; saves ~7 MB idle. Allocate stays
 *   around a millisecond.
 * - `--no-expose-wasm`: lite mode disables WebAssembly anyway; saying so silences V8's warning.
 */
export const NODE_RUNTIME_FLAGS = ['--max-semi-space-size=1', '--lite-mode', '--no-expose-wasm'];
