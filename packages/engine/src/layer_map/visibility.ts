/**
 * Layer visibility (Neon's `LayerMap::get_visibility`): which historic layers a read at one of the
 * *read points* (the timeline's tip and its child branch points) could ever touch. A layer no read
 * can reach is `Covered`: a hint that eviction may prefer it. Only a hint: nothing depends on it
 * for correctness.
 *
 * Design overview. One sweep over layers and read points together, from the highest LSN down, with
 * a *shadow*: the keys already covered by an image layer since the last read point. Each layer is
 * placed at its top LSN (an image at its LSN, a delta at lsn.end - 1); on equal LSNs a read point
 * comes first, then images, then deltas, so an image exactly at a read point is read from there
 * and an image shadows a delta that ends at the same LSN. Equal items keep the input order.
 *
 *   - A read point resets the shadow: reads from there see everything below, whatever is above.
 *   - An image that adds keys to the shadow is `Visible` (some read lands on it); an image wholly
 *     inside the shadow is `Covered`.
 *   - A delta not wholly inside the shadow is `Visible`. A delta wholly inside it may still be read
 *     from a read point inside its own LSN range, below the images that shadow it: it stays pending
 *     until the sweep reaches a read point at or above its LSN start (`Visible`) or passes below
 *     its LSN start without one (`Covered`).
 *
 * The shadow left at the end of the sweep (image coverage below the lowest read point) is returned
 * as a KeySpace. The sweep is O(n log n) for the sort plus the shadow's sorted-range updates; it
 * runs rarely (after compaction or a branch change), so it favours clarity over speed.
 */
import type { Key } from "../key/key.ts";
import { type KeyRange, KeySpace } from "../key/key_space.ts";
import type { Lsn } from "../lsn.ts";
import type { HistoricLayerRef } from "./layer_map.ts";

export type LayerVisibility = "Visible" | "Covered";

export interface VisibilityEntry<L> {
  readonly layer: L;
  readonly visibility: LayerVisibility;
}

export interface VisibilityResult<L> {
  /** One entry per input layer, in input order. */
  readonly entries: VisibilityEntry<L>[];
  /** The keys covered by images below the lowest read point. */
  readonly shadow: KeySpace;
}

/** Sweep priorities on equal LSNs: higher goes first. */
const DELTA_PRIORITY = 0;
const IMAGE_PRIORITY = 1;
const READ_POINT_PRIORITY = 2;

/** Keys covered by images: sorted, disjoint, non-touching half-open ranges. */
class KeyShadow {
  private starts: Key[] = [];
  private ends: Key[] = [];

  /** Adds `range`; true if that covered keys that were not covered before. */
  cover(range: KeyRange): boolean {
    const starts = this.starts;
    const ends = this.ends;
    const first = this.firstEndingAtOrAfter(range.start);
    let last = first;
    while (last < starts.length && starts[last]! <= range.end) last++;
    // [first, last) are the ranges that overlap or touch `range`.
    if (last - first === 1 && starts[first]! <= range.start && ends[first]! >= range.end) {
      return false;
    }
    const start = first < last && starts[first]! < range.start ? starts[first]! : range.start;
    const end = first < last && ends[last - 1]! > range.end ? ends[last - 1]! : range.end;
    starts.splice(first, last - first, start);
    ends.splice(first, last - first, end);
    return true;
  }

  /** Whether every key of `range` is covered. */
  contains(range: KeyRange): boolean {
    const index = this.firstEndingAtOrAfter(range.start);
    if (index >= this.starts.length) return false;
    return this.starts[index]! <= range.start && this.ends[index]! >= range.end;
  }

  reset(): void {
    this.starts = [];
    this.ends = [];
  }

  toKeySpace(): KeySpace {
    return KeySpace.fromRanges(this.starts.map((start, i) => ({ start, end: this.ends[i]! })));
  }

  /** The first range whose end is ≥ key (it may touch a range starting at key). */
  private firstEndingAtOrAfter(key: Key): number {
    const ends = this.ends;
    let low = 0;
    let high = ends.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (ends[middle]! < key) low = middle + 1;
      else high = middle;
    }
    return low;
  }
}

/**
 * The sweep order: item i < layers.length is layer i, else read point i - layers.length. Highest
 * LSN first; on a tie read points, then images, then deltas; then input order.
 */
function sweepOrder(layers: readonly HistoricLayerRef[], readPoints: readonly Lsn[]): number[] {
  const count = layers.length + readPoints.length;
  const sweepLsn = new Float64Array(count);
  const priority = new Uint8Array(count);
  layers.forEach((layer, i) => {
    const { kind, lsnRange } = layer.name;
    sweepLsn[i] = kind === "delta" ? lsnRange.end - 1 : lsnRange.start;
    priority[i] = kind === "delta" ? DELTA_PRIORITY : IMAGE_PRIORITY;
  });
  readPoints.forEach((lsn, i) => {
    sweepLsn[layers.length + i] = lsn;
    priority[layers.length + i] = READ_POINT_PRIORITY;
  });
  const order = Array.from({ length: count }, (_, i) => i);
  return order.sort((a, b) => sweepLsn[b]! - sweepLsn[a]! || priority[b]! - priority[a]! || a - b);
}

/**
 * Settles the pending (wholly shadowed) deltas as the sweep reaches `reachedLsn`: a read point at
 * or above a delta's start makes it Visible; passing below its start makes it Covered. Returns the
 * deltas still pending.
 */
function settlePendingDeltas(
  pending: number[],
  reachedLsn: number,
  isReadPoint: boolean,
  layers: readonly HistoricLayerRef[],
  visibility: LayerVisibility[],
): number[] {
  if (pending.length === 0) return pending;
  const stillPending: number[] = [];
  for (const delta of pending) {
    const lsnStart = layers[delta]!.name.lsnRange.start;
    if (isReadPoint && reachedLsn >= lsnStart) visibility[delta] = "Visible";
    else if (reachedLsn < lsnStart) visibility[delta] = "Covered";
    else stillPending.push(delta);
  }
  return stillPending;
}

/** The visibility of each of `layers` for reads at `readPoints`, and the final shadow. */
export function getVisibility<L extends HistoricLayerRef>(
  layers: readonly L[],
  readPoints: readonly Lsn[],
): VisibilityResult<L> {
  const visibility: LayerVisibility[] = new Array(layers.length);
  const shadow = new KeyShadow();
  let pending: number[] = [];
  for (const item of sweepOrder(layers, readPoints)) {
    const isReadPoint = item >= layers.length;
    const name = isReadPoint ? null : layers[item]!.name;
    const reachedLsn = name === null ? readPoints[item - layers.length]! : name.lsnRange.start;
    pending = settlePendingDeltas(pending, reachedLsn, isReadPoint, layers, visibility);
    if (name === null) {
      // A read point sees everything below it, whatever images lie above.
      shadow.reset();
    } else if (name.kind === "image") {
      visibility[item] = shadow.cover(name.keyRange) ? "Visible" : "Covered";
    } else if (shadow.contains(name.keyRange)) {
      // Shadowed for now; a read point inside its LSN range may still reach it.
      pending.push(item);
    } else {
      visibility[item] = "Visible";
    }
  }
  for (const delta of pending) visibility[delta] = "Covered";
  const entries = layers.map((layer, i) => ({ layer, visibility: visibility[i]! }));
  return { entries, shadow: shadow.toKeySpace() };
}
