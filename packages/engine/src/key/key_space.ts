/**
 * Key ranges (half-open `[start, end)`) and key spaces (sorted, disjoint, merged range lists).
 */
import { assert } from "../assert.ts";
import {
  formatKey,
  KEY_MAX,
  KEY_MIN,
  type Key,
  keyField1,
  keyField2,
  keyField3,
  keyField4,
  keyField5,
  keyField6,
  parseKey,
} from "./key.ts";

export interface KeyRange {
  readonly start: Key;
  readonly end: Key;
}

export const FULL_KEY_RANGE: KeyRange = { start: KEY_MIN, end: KEY_MAX };

export function keyRangeContains(range: KeyRange, key: Key): boolean {
  return key >= range.start && key < range.end;
}

export function keyRangesOverlap(a: KeyRange, b: KeyRange): boolean {
  return a.start < b.end && b.start < a.end;
}

export function keyRangeIsEmpty(range: KeyRange): boolean {
  return range.start >= range.end;
}

export function formatKeyRange(range: KeyRange): string {
  return `${formatKey(range.start)}-${formatKey(range.end)}`;
}

export function parseKeyRange(text: string): KeyRange {
  const [start, end] = text.split("-");
  return { start: parseKey(start ?? ""), end: parseKey(end ?? "") };
}

/**
 * Neon's `key_range_size`: the number of keys in a range when start and end differ only in their
 * last two fields, else u32::MAX. An estimate used by partitioning and tiered compaction.
 */
export function keyRangeSize(range: KeyRange): number {
  const { start, end } = range;
  if (
    keyField1(start) !== keyField1(end) ||
    keyField2(start) !== keyField2(end) ||
    keyField3(start) !== keyField3(end) ||
    keyField4(start) !== keyField4(end)
  ) {
    return 0xffff_ffff;
  }
  const startLow = keyField5(start) * 0x1_0000_0000 + keyField6(start);
  const endLow = keyField5(end) * 0x1_0000_0000 + keyField6(end);
  return Math.min(endLow - startLow, 0xffff_ffff);
}

/** A set of keys as sorted, disjoint, non-adjacent ranges. Immutable. */
export class KeySpace {
  readonly ranges: readonly KeyRange[];

  private constructor(ranges: readonly KeyRange[]) {
    this.ranges = ranges;
  }

  static readonly EMPTY = new KeySpace([]);

  static single(range: KeyRange): KeySpace {
    return keyRangeIsEmpty(range) ? KeySpace.EMPTY : new KeySpace([range]);
  }

  /** Sorts and merges any list of ranges. */
  static fromRanges(ranges: Iterable<KeyRange>): KeySpace {
    const sorted = [...ranges]
      .filter((r) => !keyRangeIsEmpty(r))
      .sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
    const merged: KeyRange[] = [];
    for (const range of sorted) {
      const last = merged[merged.length - 1];
      if (last && range.start <= last.end) {
        if (range.end > last.end) merged[merged.length - 1] = { start: last.start, end: range.end };
      } else {
        merged.push(range);
      }
    }
    return new KeySpace(merged);
  }

  isEmpty(): boolean {
    return this.ranges.length === 0;
  }

  contains(key: Key): boolean {
    let low = 0;
    let high = this.ranges.length - 1;
    while (low <= high) {
      const mid = (low + high) >> 1;
      const range = this.ranges[mid]!;
      if (key < range.start) high = mid - 1;
      else if (key >= range.end) low = mid + 1;
      else return true;
    }
    return false;
  }

  union(other: KeySpace): KeySpace {
    return KeySpace.fromRanges([...this.ranges, ...other.ranges]);
  }

  intersect(other: KeySpace): KeySpace {
    const out: KeyRange[] = [];
    let i = 0;
    let j = 0;
    while (i < this.ranges.length && j < other.ranges.length) {
      const a = this.ranges[i]!;
      const b = other.ranges[j]!;
      const start = a.start > b.start ? a.start : b.start;
      const end = a.end < b.end ? a.end : b.end;
      if (start < end) out.push({ start, end });
      if (a.end < b.end) i++;
      else j++;
    }
    return new KeySpace(out);
  }

  subtract(other: KeySpace): KeySpace {
    const out: KeyRange[] = [];
    let j = 0;
    for (const range of this.ranges) {
      let start = range.start;
      while (j < other.ranges.length && other.ranges[j]!.end <= start) j++;
      let k = j;
      while (k < other.ranges.length && other.ranges[k]!.start < range.end) {
        const cut = other.ranges[k]!;
        if (cut.start > start) out.push({ start, end: cut.start });
        if (cut.end > start) start = cut.end;
        k++;
      }
      if (start < range.end) out.push({ start, end: range.end });
    }
    return new KeySpace(out);
  }

  /** The smallest range holding every key of the space. */
  bounds(): KeyRange | null {
    if (this.ranges.length === 0) return null;
    return { start: this.ranges[0]!.start, end: this.ranges[this.ranges.length - 1]!.end };
  }

  /** Total number of keys, by Neon's estimate (saturating per range). */
  totalSize(): number {
    let total = 0;
    for (const range of this.ranges) total += keyRangeSize(range);
    return total;
  }
}

/** A KeySpace builder for keys that arrive in increasing order (cheap appends). */
export class KeySpaceAccumulator {
  private readonly ranges: KeyRange[] = [];

  addRange(range: KeyRange): void {
    if (keyRangeIsEmpty(range)) return;
    const last = this.ranges[this.ranges.length - 1];
    if (last && range.start <= last.end) {
      assert(range.start >= last.start, "KeySpaceAccumulator: ranges must arrive in order");
      if (range.end > last.end)
        this.ranges[this.ranges.length - 1] = { start: last.start, end: range.end };
      return;
    }
    this.ranges.push(range);
  }

  toKeySpace(): KeySpace {
    return KeySpace.fromRanges(this.ranges);
  }
}
