/**
 * A benchmark scenario (bench/scenarios/<name>.ts exports `bench`). `npm run bench` runs them all and
 * writes BENCHMARKS.md with the machine, the command and every figure.
 */
export interface BenchRow {
  metric: string;
  value: string;
  /** The target from the issue, e.g. "≤ 50 ms", when there is one. */
  target?: string;
  /** Whether the target was met (undefined when there is no target). */
  met?: boolean;
}

export interface BenchScenario {
  name: string;
  run(): Promise<BenchRow[]>;
  /** What the figures mean and how they were taken, printed under the table. */
  notes?: string[];
  /** Why it cannot run here, or undefined. */
  unavailable?(): string | undefined;
}

/** p-th percentile (0-100) of a list of numbers, nearest-rank. */
export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

export function ms(value: number): string {
  return `${value.toFixed(value < 10 ? 2 : 1)} ms`;
}

export function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
