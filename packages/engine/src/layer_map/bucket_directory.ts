/**
 * Bucket directory: "the last value ≤ x" over sorted runs of numbers in expected O(1), for the
 * point lookups of the layer map (a key's block among its relation fork's boundaries, a version's
 * LSN start).
 *
 * Why not a binary search: its steps depend on each other and their branches are unpredictable on
 * random input, so each costs a load plus a mispredict; 11 of them over 2,000 values took longer
 * than all the rest of a layer map search. A directory answers with two loads and a short scan.
 *
 * Design overview. The values are the caller's (a `Float64Array`, integers below 2^53, ascending
 * within a run); the directory only stores where each bucket starts. A run of n values from `base`
 * gets buckets of a power-of-two width, the smallest that makes at most about 2n buckets, so a
 * bucket holds one value or two when the values are spread evenly (real ones are: block numbers
 * cut at fixed sizes, LSNs of regular flushes). Bucket b holds [base + b·width, base + (b+1)·width)
 * and `starts` holds the first index whose value reaches it; the last bucket is open-ended. Its
 * width is reckoned without the run's last value, because a relation fork's run ends at its size
 * key (block FFFFFFFF) far above its blocks; that value simply lands in the last bucket.
 *
 * A lookup computes the bucket (exact: the width is a power of two and the values are integers),
 * then scans forward from the bucket's first index. A crowded bucket (skewed values) is binary
 * searched instead, so the worst case stays O(log n). A run may grow at its end after the build
 * (the coverage appends versions): new values fall into the open last bucket, whose end is passed
 * by the caller; `lastBucketSize` tells the caller when to rebuild.
 */
import { assert } from "../assert.ts";

/** Up to this many values a bucket is scanned; more are binary-searched. */
const SCAN_MAX = 8;

/** The first index in [low, high) whose value is above x, or high (values ascending). */
function firstAbove(values: Float64Array, low: number, high: number, x: number): number {
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (values[middle]! <= x) low = middle + 1;
    else high = middle;
  }
  return low;
}

/** A run's record in `runs`: its first value, 2^-shift, its first slot in `starts`, last bucket. */
const RUN_BASE = 0;
const RUN_SCALE = 1;
const RUN_OFFSET = 2;
const RUN_LAST_BUCKET = 3;
const RUN_SIZE = 4;

export class BucketDirectory {
  /** RUN_SIZE numbers per run, together so that a lookup reads one cache line of them. */
  private readonly runs: Float64Array;
  /** Per run, the first index of every bucket, then the run's end at build time. */
  private readonly starts: Int32Array;

  private constructor(runCount: number, startsLength: number) {
    this.runs = new Float64Array(runCount * RUN_SIZE);
    this.starts = new Int32Array(startsLength);
  }

  /**
   * Builds the directory of `runCount` runs: run r is values[runStarts[r], runStarts[r + 1]),
   * ascending, non-empty.
   */
  static build(
    values: Float64Array,
    runStarts: ArrayLike<number>,
    runCount: number,
  ): BucketDirectory {
    const shifts = new Int32Array(runCount);
    const buckets = new Int32Array(runCount);
    let startsLength = 0;
    for (let run = 0; run < runCount; run++) {
      const first = runStarts[run]!;
      const end = runStarts[run + 1]!;
      const count = end - first;
      assert(count > 0, "a bucket directory run must not be empty");
      const top = values[count > 2 ? end - 2 : end - 1]!;
      const span = top - values[first]! + 1;
      let shift = 0;
      while (span > 2 * count * 2 ** shift) shift++;
      shifts[run] = shift;
      buckets[run] = Math.ceil(span / 2 ** shift);
      startsLength += buckets[run]! + 1;
    }
    const directory = new BucketDirectory(runCount, startsLength);
    let offset = 0;
    for (let run = 0; run < runCount; run++) {
      const first = runStarts[run]!;
      const end = runStarts[run + 1]!;
      const base = values[first]!;
      const width = 2 ** shifts[run]!;
      const record = run * RUN_SIZE;
      directory.runs[record + RUN_BASE] = base;
      // Multiplying by 2^-shift divides by the bucket width exactly.
      directory.runs[record + RUN_SCALE] = 2 ** -shifts[run]!;
      directory.runs[record + RUN_OFFSET] = offset;
      directory.runs[record + RUN_LAST_BUCKET] = buckets[run]! - 1;
      let index = first;
      for (let bucket = 0; bucket < buckets[run]!; bucket++) {
        const bucketStart = base + bucket * width;
        while (index < end && values[index]! < bucketStart) index++;
        directory.starts[offset + bucket] = index;
      }
      directory.starts[offset + buckets[run]!] = end;
      offset += buckets[run]! + 1;
    }
    return directory;
  }

  /** The first value of run `run` (a lookup needs x at or above it). */
  runFirstValue(run: number): number {
    return this.runs[run * RUN_SIZE + RUN_BASE]!;
  }

  /**
   * The last index of run `run` whose value is ≤ x. Needs x ≥ the run's first value; `end` is
   * the run's end now (at or past its end at build time). Allocates nothing.
   */
  floor(values: Float64Array, run: number, x: number, end: number): number {
    const runs = this.runs;
    const record = run * RUN_SIZE;
    const last = runs[record + RUN_LAST_BUCKET]!;
    let bucket = Math.floor((x - runs[record + RUN_BASE]!) * runs[record + RUN_SCALE]!);
    if (bucket > last) bucket = last;
    const at = runs[record + RUN_OFFSET]! + bucket;
    let index = this.starts[at]!;
    const bucketEnd = bucket === last ? end : this.starts[at + 1]!;
    // A plain scan: measured faster than branch-free steps over a bucket of one or two values.
    if (bucketEnd - index > SCAN_MAX) return firstAbove(values, index, bucketEnd, x) - 1;
    while (index < bucketEnd && values[index]! <= x) index++;
    return index - 1;
  }

  /** How many values of run `run` now lie in its last (open) bucket. */
  lastBucketSize(run: number, end: number): number {
    const record = run * RUN_SIZE;
    const lastStart = this.runs[record + RUN_OFFSET]! + this.runs[record + RUN_LAST_BUCKET]!;
    return end - this.starts[lastStart]!;
  }

  /** Bytes held (for the coverage's memory figure). */
  get memoryBytes(): number {
    return this.runs.byteLength + this.starts.byteLength;
  }
}
