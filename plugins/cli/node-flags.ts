/**
 * The Node.js flags every plugin container runs with (see BENCHMARKS.md for the figures behind them).
 * A device plugin is a small, mostly idle agent on every node: memory matters more than peak speed.
 * - `--max-semi-space-size=1`: a 1 MB young generation. Under load the default lets it grow to tens of
 *   MB that are never handed back (RSS after 10,000 allocations: ~105 MB → under 70 MB).
 * - `--no-opt`: no optimising compiler (TurboFan); the interpreter and baseline compiler are plenty for a
 *   few kubelet calls a minute, and optimised code and its feedback cost ~5 MB idle. (`--lite-mode`
 *   saves ~2 MB more but slows start-up past the 300 ms registration target.)
 */
export const NODE_RUNTIME_FLAGS = ['--max-semi-space-size=1', '--no-opt'];
