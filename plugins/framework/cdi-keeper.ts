/**
 * Keeps one CDI spec on disk for as long as a plugin names its devices. A CDI dir can fill up, turn
 * read-only or lose the spec (a cleaned /var/run/cdi) while the plugin runs; a CDI name handed out then
 * would dangle, and the container would fail later in the runtime with a vaguer error. So:
 *  - a write that fails is retried with backoff (250 ms doubling to 10 s) until it succeeds;
 *  - the dir is watched (inotify + poll): a deleted spec is written again at once;
 *  - while the spec is not on disk, `problem()` says why (for /readyz) and `assertWritten()` refuses
 *    allocations with FAILED_PRECONDITION naming the spec's path and the reason.
 * Temp files are never left behind (writeCdiSpec removes its own on failure).
 */
import * as fs from 'fs';
import * as path from 'path';
import { CdiWriteError, cdiSpecFileName, removeCdiSpec, writeCdiSpec, type CdiSpec } from './cdi';
import type { Logger } from './log';
import { AllocationError, GrpcStatus } from './types';
import { watchDirs, type Watch } from './watch';

export interface CdiKeeperOptions {
  dir: string;
  kind: string;
  /** The spec's file name in `dir`; by default one per kind (a family serving several resources of
   *  one kind, like netdevice, names one per resource so instances never overwrite each other). */
  fileName?: string;
  log: Logger;
  /** Safety-net poll of the dir (inotify does the real work). */
  pollMs?: number;
  initialBackoffMs?: number;
  maxBackoffMs?: number;
}

export class CdiSpecKeeper {
  readonly file: string;
  private readonly fileName: string;
  private wanted?: CdiSpec;
  /** JSON of `wanted`, made once per set(): sync() runs on every Allocate and only compares it. */
  private wantedText?: string;
  /** What is on disk as far as we know (JSON of the spec); the initial value forces a first write/removal. */
  private written?: string = '\0unknown';
  private failure?: string;
  private attempts = 0;
  private retryTimer?: NodeJS.Timeout;
  private watch?: Watch;

  constructor(private readonly options: CdiKeeperOptions) {
    this.fileName = options.fileName ?? cdiSpecFileName(options.kind);
    this.file = path.join(options.dir, this.fileName);
  }

  /**
   * The spec to keep (undefined: none, the file is removed). Written now; a failed write is retried in
   * the background. An invalid spec is a bug, not a disk problem: that error is thrown.
   */
  set(spec: CdiSpec | undefined): void {
    this.wanted = spec;
    this.wantedText = spec && JSON.stringify(spec);
    this.watch ??= watchDirs({
      dirs: [this.options.dir],
      onChange: () => this.ensure(),
      pollMs: this.options.pollMs ?? 30_000,
      debounceMs: 5,
      log: this.options.log,
    });
    this.sync();
  }

  /** Why the wanted spec is not on disk, or undefined when it is (or none is wanted). */
  problem(): string | undefined {
    return this.failure;
  }

  /** Before a CDI name goes out: the spec must be on disk (written again first if it vanished). */
  assertWritten(): void {
    this.ensure();
    if (this.failure)
      throw new AllocationError(
        `CDI spec ${this.file} cannot be written (${this.failure}); refusing to hand out CDI names ` +
          'that would not resolve; retrying in the background',
        GrpcStatus.FAILED_PRECONDITION,
      );
  }

  close(): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.watch?.close();
    this.watch = undefined;
  }

  /** Rewrite the spec when it vanished from disk (or a retry is due). */
  private ensure(): void {
    if (this.wanted && !fs.existsSync(this.file)) {
      if (this.written !== undefined)
        this.options.log.warn('CDI spec file vanished; writing it again', { file: this.file });
      this.written = undefined;
    }
    this.sync();
  }

  private sync(): void {
    const text = this.wantedText;
    if (text === this.written && !this.failure) return;
    const { dir, kind, log } = this.options;
    try {
      if (this.wanted) writeCdiSpec(dir, this.wanted, this.fileName);
      else removeCdiSpec(dir, kind, this.fileName);
    } catch (err) {
      if (!(err instanceof CdiWriteError)) throw err;
      this.written = undefined;
      const first = this.failure === undefined;
      this.failure = (err as Error).message;
      this.attempts += 1;
      const delay = Math.min(
        (this.options.initialBackoffMs ?? 250) * 2 ** (this.attempts - 1),
        this.options.maxBackoffMs ?? 10_000,
      );
      if (first)
        log.error('cannot write the CDI spec; allocations are refused until it is written', {
          file: this.file,
          error: err as Error,
          retryInMs: delay,
        });
      else
        log.debug('CDI spec still cannot be written', {
          file: this.file,
          error: err as Error,
          retryInMs: delay,
        });
      clearTimeout(this.retryTimer);
      this.retryTimer = setTimeout(() => this.sync(), delay);
      this.retryTimer.unref();
      return;
    }
    if (this.failure)
      log.info('CDI spec written again; allocations resume', { file: this.file, attempts: this.attempts });
    else if (this.wanted)
      log.info('CDI spec written', { file: this.file, devices: this.wanted.devices.length });
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.failure = undefined;
    this.attempts = 0;
    this.written = text;
  }
}
