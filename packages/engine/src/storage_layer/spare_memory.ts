/**
 * Large scratch memory handed from one user to the next instead of freed.
 *
 * On this kind of VM the first touch of fresh memory costs about 3.4 ms per MiB (a page fault per
 * 4 KiB page; measured: a 128 MiB `readSync` into a new buffer takes 430 ms, into a touched one
 * 8 ms). Every in-memory layer needs the same few big buffers — its write buffer, its index
 * arrays, the buffer its flush reads the ephemeral file into — so they pass to the next layer.
 * Spares unused for RETAIN_MS are dropped, as a malloc's decay would return them, so an idle
 * process does not keep a layer's worth of memory.
 */

const RETAIN_MS = 30_000;

export class SparePool<T> {
  private readonly spares: T[] = [];
  private timer: NodeJS.Timeout | null = null;

  /**
   * `capacity`: spares kept at most. `size` ranks them: `give` keeps the biggest.
   */
  constructor(
    private readonly capacity: number,
    private readonly size: (spare: T) => number,
  ) {}

  /** A spare for which `fits` holds (the first one), removed from the pool; or undefined. */
  take(fits: (spare: T) => boolean): T | undefined {
    for (let i = 0; i < this.spares.length; i++) {
      const spare = this.spares[i]!;
      if (fits(spare)) {
        this.spares.splice(i, 1);
        return spare;
      }
    }
    return undefined;
  }

  /** Returns memory to the pool; its previous owner must not touch it again. */
  give(spare: T): void {
    if (this.spares.length < this.capacity) {
      this.spares.push(spare);
    } else {
      let smallest = 0;
      for (let i = 1; i < this.spares.length; i++) {
        if (this.size(this.spares[i]!) < this.size(this.spares[smallest]!)) smallest = i;
      }
      if (this.size(this.spares[smallest]!) >= this.size(spare)) return;
      this.spares[smallest] = spare;
    }
    if (this.timer) {
      this.timer.refresh();
    } else {
      this.timer = setTimeout(() => {
        this.spares.length = 0;
        this.timer = null;
      }, RETAIN_MS);
      this.timer.unref();
    }
  }
}

/** Buffers by size: `take(n)` returns one of at least n bytes (callers use a prefix). */
export class SpareBuffers {
  private readonly pool: SparePool<Buffer>;

  constructor(capacity: number) {
    this.pool = new SparePool<Buffer>(capacity, (buffer) => buffer.length);
  }

  /**
   * A buffer of at least `size` bytes, contents undefined. A new one is 1/8 larger, so that the
   * next layer, a little bigger, still fits; its untouched tail costs no page faults.
   */
  take(size: number): Buffer {
    return (
      this.pool.take((buffer) => buffer.length >= size) ??
      Buffer.allocUnsafeSlow(size + Math.floor(size / 8))
    );
  }

  give(buffer: Buffer): void {
    this.pool.give(buffer);
  }
}
