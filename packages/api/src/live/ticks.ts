/**
 * The pacing of a live subscription: yield at least every `periodMs` (so a client sees time pass
 * and knows the stream is alive), sooner when woken by an event, but never more often than every
 * `minGapMs` (ingest emits an LSN event per WAL batch; the browser needs a few frames a second,
 * not thousands). Stops when `signal` aborts: the client went away.
 */

export interface TickOptions {
  readonly signal: AbortSignal | undefined;
  readonly periodMs: number;
  readonly minGapMs: number;
  /** Registers the wake-up callback; returns the unsubscribe function. */
  readonly subscribe: (wake: () => void) => () => void;
}

export async function* ticks(options: TickOptions): AsyncGenerator<number, void, void> {
  const { signal, periodMs, minGapMs } = options;
  let dirty = false;
  let release: (() => void) | null = null;
  const wake = (): void => {
    dirty = true;
    release?.();
  };
  /** Resolves after `ms`, or earlier when woken (if `wakeable`) or aborted. */
  const pause = (ms: number, wakeable: boolean): Promise<void> =>
    new Promise((resolve) => {
      const timer = setTimeout(done, Math.max(0, ms));
      function done(): void {
        clearTimeout(timer);
        release = null;
        signal?.removeEventListener("abort", done);
        resolve();
      }
      if (wakeable) release = done;
      signal?.addEventListener("abort", done, { once: true });
    });
  const unsubscribe = options.subscribe(wake);
  try {
    for (let sequence = 0; !signal?.aborted; sequence++) {
      dirty = false;
      yield sequence;
      if (signal?.aborted) break;
      await pause(minGapMs, false);
      if (!dirty && !signal?.aborted) await pause(periodMs - minGapMs, true);
    }
  } finally {
    unsubscribe();
  }
}
