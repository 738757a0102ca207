/**
 * An async mutex: `run` executes one piece of work at a time, in arrival order. Timelines hold one
 * for the work that rewrites their historic layers (compaction, image creation, GC), as Neon's
 * compaction and GC locks do: two compactions would pick the same L0s and swap in the same
 * outputs, and GC could delete a layer a running compaction is merging.
 */
export class AsyncMutex {
  private tail: Promise<void> = Promise.resolve();
  private held = false;
  private waiting = 0;

  get isLocked(): boolean {
    return this.held;
  }

  /** How many callers wait for the lock (for task lists and tests). */
  get waiters(): number {
    return this.waiting;
  }

  async run<T>(work: () => Promise<T>): Promise<T> {
    const previous = this.tail;
    let release!: () => void;
    this.tail = new Promise<void>((resolve) => {
      release = resolve;
    });
    this.waiting++;
    try {
      await previous;
    } finally {
      this.waiting--;
    }
    this.held = true;
    try {
      return await work();
    } finally {
      this.held = false;
      release();
    }
  }
}
