/**
 * Level identification for tiered compaction, and for showing any timeline's shape (Neon's
 * identify_levels.rs): levels are not recorded anywhere; they are read off the layers' shapes.
 * Walking down from an end LSN, a level is the deepest LSN cut that no delta crosses, using only
 * deltas whose LSN span is at most 1.75 × the level's target height; images never constrain the
 * cut. A level's depth is the most deltas stacked over any key above the highest image there.
 */
import { assert } from "../assert.ts";
import type { KeyRange } from "../key/key_space.ts";
import type { Lsn, LsnRange } from "../lsn.ts";

export interface LevelLayer {
  readonly kind: "delta" | "image";
  readonly keyRange: KeyRange;
  readonly lsnRange: LsnRange;
  readonly fileSize: number;
}

export interface Level<L extends LevelLayer> {
  readonly lsnRange: LsnRange;
  readonly layers: L[];
}

/** The level ending at `endLsn`, or null if it would be empty. Throws if a delta crosses endLsn. */
export function identifyLevel<L extends LevelLayer>(
  all: readonly L[],
  endLsn: Lsn,
  lsnMaxSize: number,
): Level<L> | null {
  const layers: L[] = [];
  for (const layer of all) {
    const { start, end } = layer.lsnRange;
    assert(
      !(start < endLsn && end > endLsn),
      "identifyLevel: end LSN does not partition the LSN space",
    );
    if ((layer.kind === "image" && start > endLsn) || (layer.kind === "delta" && start >= endLsn))
      continue;
    layers.push(layer);
  }
  if (layers.length === 0) return null;
  layers.sort((a, b) => a.lsnRange.end - b.lsnRange.end);
  let candidateStart = endLsn;
  let candidate: L[] = [];
  let bestStart = endLsn;
  const best: L[] = [];
  let exhausted = true;
  for (let i = layers.length - 1; i >= 0; i--) {
    const layer = layers[i]!;
    const { start, end } = layer.lsnRange;
    if (layer.kind === "delta") {
      if (end <= candidateStart) {
        // No delta crosses the candidate: accept it.
        bestStart = end as Lsn;
        best.push(...candidate);
        candidate = [];
        candidateStart = start;
      }
      if (end - start > lsnMaxSize) {
        exhausted = false;
        break; // Too tall: it belongs to the next level.
      }
      if (start < candidateStart) candidateStart = start;
    }
    candidate.push(layer);
  }
  if (exhausted) {
    bestStart = candidateStart;
    best.push(...candidate);
  }
  if (bestStart === endLsn) return null;
  return { lsnRange: { start: bestStart, end: endLsn }, layers: best };
}

/** The most deltas stacked over any key above the highest image covering it. */
export function levelDepth(level: Level<LevelLayer>): number {
  const events: Array<{ key: string; index: number; start: boolean }> = [];
  level.layers.forEach((layer, index) => {
    events.push(
      { key: layer.keyRange.start, index, start: true },
      { key: layer.keyRange.end, index, start: false },
    );
  });
  // At equal keys, ends before starts (half-open ranges).
  events.sort((a, b) =>
    a.key < b.key ? -1 : a.key > b.key ? 1 : Number(a.start) - Number(b.start),
  );
  const active = new Set<number>();
  let max = 0;
  for (let i = 0; i < events.length; i++) {
    const event = events[i]!;
    if (event.start) active.add(event.index);
    else active.delete(event.index);
    if (i + 1 < events.length && events[i + 1]!.key === event.key) continue;
    const stack = [...active]
      .map((index) => level.layers[index]!)
      .sort((a, b) => b.lsnRange.end - a.lsnRange.end);
    let depth = 0;
    for (const layer of stack) {
      if (layer.kind === "image") break;
      depth++;
    }
    if (depth > max) max = depth;
  }
  return max;
}

export interface LevelSummary {
  readonly level: number;
  readonly lsnRange: LsnRange;
  readonly layers: number;
  readonly deltas: number;
  readonly images: number;
  readonly depth: number;
  readonly bytes: number;
  readonly targetHeight: number;
}

/**
 * Every level of a layer set, top-down: level 0 ends at `endLsn` with target height
 * `targetHeight`; each next level ends where the previous starts, `fanout` times taller.
 */
export function identifyLevels(
  all: readonly LevelLayer[],
  endLsn: Lsn,
  targetHeight: number,
  fanout: number,
): LevelSummary[] {
  const summaries: LevelSummary[] = [];
  let end = endLsn;
  let height = targetHeight;
  for (let number = 0; number < 64; number++) {
    let level: Level<LevelLayer> | null;
    try {
      level = identifyLevel(all, end, height * 1.75);
    } catch {
      break; // A delta crosses this LSN: the shape has no clean cut below here.
    }
    if (!level) break;
    summaries.push({
      level: number,
      lsnRange: level.lsnRange,
      layers: level.layers.length,
      deltas: level.layers.filter((l) => l.kind === "delta").length,
      images: level.layers.filter((l) => l.kind === "image").length,
      depth: levelDepth(level),
      bytes: level.layers.reduce((sum, l) => sum + l.fileSize, 0),
      targetHeight: height,
    });
    end = level.lsnRange.start;
    height =
      height >= Number.MAX_SAFE_INTEGER / Math.max(fanout, 2)
        ? Number.MAX_SAFE_INTEGER
        : height * Math.max(fanout, 2);
  }
  return summaries;
}
