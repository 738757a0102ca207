/**
 * Waiting for an LSN to be reached (Neon's SeqWait): readers ask for `last_record_lsn ≥ x` and are
 * woken as ingest advances it, or time out with a TimeoutError naming what they waited for.
 */
import { type ErrorContext, ShuttingDownError, TimeoutError } from "../errors.ts";
import { formatLsn, type Lsn } from "../lsn.ts";

interface Waiter {
  readonly lsn: Lsn;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
  timer: NodeJS.Timeout | null;
}

export class LsnWaiters {
  private current: Lsn;
  private waiters: Waiter[] = [];
  private closedWith: Error | null = null;

  constructor(initial: Lsn) {
    this.current = initial;
  }

  get lsn(): Lsn {
    return this.current;
  }

  get waiting(): number {
    return this.waiters.length;
  }

  /** Advances to `lsn` (never backwards) and wakes every waiter at or below it. */
  advance(lsn: Lsn): void {
    if (lsn <= this.current) return;
    this.current = lsn;
    if (this.waiters.length === 0) return;
    const still: Waiter[] = [];
    for (const waiter of this.waiters) {
      if (waiter.lsn <= lsn) {
        if (waiter.timer) clearTimeout(waiter.timer);
        waiter.resolve();
      } else {
        still.push(waiter);
      }
    }
    this.waiters = still;
  }

  /** Resolves once the LSN is ≥ `lsn`; rejects after `timeoutMs` or on close. */
  wait(lsn: Lsn, timeoutMs: number, context: ErrorContext = {}): Promise<void> {
    if (lsn <= this.current) return Promise.resolve();
    if (this.closedWith) return Promise.reject(this.closedWith);
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { lsn, resolve, reject, timer: null };
      waiter.timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(
          new TimeoutError(
            `timed out after ${timeoutMs} ms waiting for WAL up to ${formatLsn(lsn)}; last record LSN is ${formatLsn(this.current)}`,
            { ...context, lsn: formatLsn(lsn) },
          ),
        );
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** Rejects every waiter (shutdown). */
  close(error: Error = new ShuttingDownError()): void {
    this.closedWith = error;
    for (const waiter of this.waiters) {
      if (waiter.timer) clearTimeout(waiter.timer);
      waiter.reject(error);
    }
    this.waiters = [];
  }
}
