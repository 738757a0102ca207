/**
 * Key partitioning for image layers (Neon's repartition): the keyspace that exists at an LSN is
 * cut into partitions of about `compaction_target_size` bytes of pages, so that each image layer
 * is about that size. A partition is a list of key ranges plus the hull they span.
 */
import { assert } from "../assert.ts";
import { type Key, keyAdd } from "../key/key.ts";
import { type KeyRange, type KeySpace, keyRangeSize } from "../key/key_space.ts";
import { BLCKSZ } from "../redo/pg_constants.ts";

export interface KeyPartition {
  readonly ranges: readonly KeyRange[];
  readonly hull: KeyRange;
}

export function partitionKeyspace(keyspace: KeySpace, targetBytes: number): KeyPartition[] {
  const keysPerPartition = Math.max(1, Math.floor(targetBytes / BLCKSZ));
  const partitions: KeyPartition[] = [];
  let current: KeyRange[] = [];
  let count = 0;
  const close = () => {
    if (current.length === 0) return;
    partitions.push({
      ranges: current,
      hull: { start: current[0]!.start, end: current[current.length - 1]!.end },
    });
    current = [];
    count = 0;
  };
  for (const range of keyspace.ranges) {
    let start: Key = range.start;
    let remaining = keyRangeSize(range);
    // Split ranges larger than a partition at exact key counts (relation blocks are contiguous).
    while (count + remaining > keysPerPartition && remaining < 0xffff_ffff) {
      const take = keysPerPartition - count;
      const cut = keyAdd(start, take);
      current.push({ start, end: cut });
      close();
      start = cut;
      remaining -= take;
    }
    current.push({ start, end: range.end });
    count += Math.min(remaining, keysPerPartition);
    if (count >= keysPerPartition) close();
  }
  close();
  return partitions;
}

/** Every key of a partition, in order. */
export function* partitionKeys(partition: KeyPartition): Generator<Key> {
  for (const range of partition.ranges) {
    const size = keyRangeSize(range);
    assert(size < 0xffff_ffff, "partition range too wide to enumerate");
    for (let i = 0; i < size; i++) yield keyAdd(range.start, i);
  }
}
