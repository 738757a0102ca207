/**
 * Record runs for the compaction simulator: the (key, LSN, length) triples of a mock delta layer,
 * kept as three parallel typed arrays in (key, LSN) order.
 *
 * Why typed arrays: Neon's own `run-suite` ingests 20 million records. As objects that is about
 * 1 GiB of heap and a long GC; as arrays it is 20 bytes a record, and a merge or a slice is a loop
 * over numbers. Slices are views (`subarray`), so re-tiling a level into many output layers copies
 * nothing after the one k-way merge.
 */
import { assert } from "../../assert.ts";

export interface RecordRun {
  readonly keys: Float64Array;
  readonly lsns: Float64Array;
  readonly lengths: Uint32Array;
}

export const EMPTY_RUN: RecordRun = {
  keys: new Float64Array(0),
  lsns: new Float64Array(0),
  lengths: new Uint32Array(0),
};

export function runLength(run: RecordRun): number {
  return run.keys.length;
}

/** The records with index in [from, to), as views. */
export function sliceRun(run: RecordRun, from: number, to: number): RecordRun {
  assert(from >= 0 && from <= to && to <= run.keys.length, `bad run slice ${from}..${to}`);
  return {
    keys: run.keys.subarray(from, to),
    lsns: run.lsns.subarray(from, to),
    lengths: run.lengths.subarray(from, to),
  };
}

/** Total bytes of the records in a run. */
export function runBytes(run: RecordRun): number {
  let total = 0;
  for (let i = 0; i < run.lengths.length; i++) total += run.lengths[i]!;
  return total;
}

/**
 * The open (in-memory) layer's records in arrival order, which is LSN order. Grows by doubling;
 * `takeSortedByKey` hands out a sorted copy and empties the buffer.
 */
export class RecordBuffer {
  private keys = new Float64Array(1024);
  private lsns = new Float64Array(1024);
  private lengths = new Uint32Array(1024);
  private maxKey = 0;
  count = 0;

  push(key: number, lsn: number, length: number): void {
    if (this.count === this.keys.length) this.grow();
    assert(this.count === 0 || lsn > this.lsns[this.count - 1]!, "records arrive in LSN order");
    this.keys[this.count] = key;
    this.lsns[this.count] = lsn;
    this.lengths[this.count] = length;
    if (key > this.maxKey) this.maxKey = key;
    this.count++;
  }

  private grow(): void {
    const size = this.keys.length * 2;
    const keys = new Float64Array(size);
    const lsns = new Float64Array(size);
    const lengths = new Uint32Array(size);
    keys.set(this.keys);
    lsns.set(this.lsns);
    lengths.set(this.lengths);
    this.keys = keys;
    this.lsns = lsns;
    this.lengths = lengths;
  }

  /** The buffered records sorted by (key, LSN); the buffer is empty afterwards. */
  takeSortedByKey(): RecordRun {
    const order = this.sortedOrder();
    const run: RecordRun = {
      keys: new Float64Array(this.count),
      lsns: new Float64Array(this.count),
      lengths: new Uint32Array(this.count),
    };
    for (let i = 0; i < this.count; i++) {
      const from = order[i]!;
      run.keys[i] = this.keys[from]!;
      run.lsns[i] = this.lsns[from]!;
      run.lengths[i] = this.lengths[from]!;
    }
    this.count = 0;
    this.maxKey = 0;
    return run;
  }

  /**
   * Arrival indexes in (key, arrival) order; arrival order is LSN order, so this is (key, LSN).
   * When `key × count + index` fits in a double exactly, a native numeric sort of that packed
   * value does it (about 10× faster than a comparator); otherwise a comparator sort.
   */
  private sortedOrder(): Uint32Array {
    const count = this.count;
    const order = new Uint32Array(count);
    if ((this.maxKey + 1) * count < Number.MAX_SAFE_INTEGER) {
      const packed = new Float64Array(count);
      for (let i = 0; i < count; i++) packed[i] = this.keys[i]! * count + i;
      packed.sort();
      for (let i = 0; i < count; i++) order[i] = packed[i]! % count;
      return order;
    }
    for (let i = 0; i < count; i++) order[i] = i;
    const keys = this.keys;
    order.sort((a, b) => keys[a]! - keys[b]! || a - b);
    return order;
  }
}

/**
 * K-way merge of runs, each sorted by (key, LSN), into one sorted run. A binary heap of run
 * cursors: O(n log k) for n records in k runs, no per-record allocation.
 */
export function mergeRuns(runs: readonly RecordRun[]): RecordRun {
  const inputs = runs.filter((run) => run.keys.length > 0);
  let total = 0;
  for (const run of inputs) total += run.keys.length;
  const out: RecordRun = {
    keys: new Float64Array(total),
    lsns: new Float64Array(total),
    lengths: new Uint32Array(total),
  };
  const positions = new Uint32Array(inputs.length);
  const heap = inputs.map((_, index) => index);
  const less = (a: number, b: number): boolean => {
    const runA = inputs[a]!;
    const runB = inputs[b]!;
    const keyA = runA.keys[positions[a]!]!;
    const keyB = runB.keys[positions[b]!]!;
    if (keyA !== keyB) return keyA < keyB;
    return runA.lsns[positions[a]!]! < runB.lsns[positions[b]!]!;
  };
  const siftDown = (at: number): void => {
    for (;;) {
      const left = 2 * at + 1;
      if (left >= heap.length) return;
      const right = left + 1;
      const child = right < heap.length && less(heap[right]!, heap[left]!) ? right : left;
      if (!less(heap[child]!, heap[at]!)) return;
      [heap[at], heap[child]] = [heap[child]!, heap[at]!];
      at = child;
    }
  };
  for (let i = (heap.length >> 1) - 1; i >= 0; i--) siftDown(i);
  for (let written = 0; written < total; written++) {
    const top = heap[0]!;
    const run = inputs[top]!;
    const at = positions[top]!;
    out.keys[written] = run.keys[at]!;
    out.lsns[written] = run.lsns[at]!;
    out.lengths[written] = run.lengths[at]!;
    positions[top] = at + 1;
    if (at + 1 === run.keys.length) {
      heap[0] = heap[heap.length - 1]!;
      heap.pop();
    }
    siftDown(0);
  }
  assert(heap.length === 0, "merge left input behind");
  return out;
}
