/**
 * Run an async task on demand, never twice at once: requests that arrive while it runs collapse into
 * one more run afterwards, and a short debounce folds a burst of events (e.g. netlink) into a single scan.
 */
export class SerialTask {
  private running?: Promise<void>;
  private again = false;
  private timer?: NodeJS.Timeout;
  private stopped = false;

  constructor(
    private readonly task: () => Promise<void>,
    private readonly debounceMs: number,
    /** Where errors of requested (not awaited) runs go. */
    private readonly onError: (err: unknown) => void,
  ) {}

  /** Ask for a run soon. */
  request(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.runNow().catch(this.onError);
    }, this.debounceMs);
  }

  /** Run now (or right after the current run) and resolve when that run is over. Errors propagate. */
  async runNow(): Promise<void> {
    while (this.running) {
      this.again = true;
      await this.running.catch(() => undefined);
    }
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.again = false;
    const run = this.task();
    this.running = run;
    try {
      await run;
    } finally {
      this.running = undefined;
      if (this.again) this.request();
    }
  }

  /** No more runs; resolves once a run in progress is over. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running?.catch(() => undefined);
  }
}
