/**
 * Tiered compaction as the simulator runs it (Neon's `compact_tiered`, reference §5), over mock
 * layers with numeric keys. Level identification and depth are the engine's own pure functions
 * (`identifyLevel`, `levelDepth` in `../levels.ts`), the same ones the pageserver uses to show any
 * timeline's levels; only the layer-writing steps are simulated.
 *
 * The algorithm, from the end LSN of the last flush downwards:
 *
 *   1. Identify level n: the deepest LSN cut below `endLsn` that no delta crosses, counting only
 *      deltas at most 1.75 × the level's target height tall (level 0: the target file size; each
 *      next level `max(fanout, 2)` times taller). The end LSN stays the same for every level:
 *      once level n is compacted, its output is one tier of level n+1.
 *   2. If the level's depth (most deltas stacked over any key, above the newest image there) is
 *      below `fanout`, stop.
 *   3. Otherwise compact it: if the keyspace (in 8 KiB pages) is smaller than the level's delta
 *      bytes, cover the keyspace with image layers at the level's end LSN (the deltas stay: only
 *      GC may remove history); else re-tile the deltas: k-way merge them in (key, LSN) order and
 *      cut the stream into deltas of about the target size spanning the level's whole LSN range,
 *      deleting each input once every output overlapping it is written.
 *
 * Simplifications, stated: a single key whose versions exceed the target is not split in the LSN
 * dimension (it becomes one oversized delta), and the keyspace never shrinks.
 */
import { assert } from "../../assert.ts";
import type { Key } from "../../key/key.ts";
import type { Lsn } from "../../lsn.ts";
import { identifyLevel, type LevelLayer, levelDepth } from "../levels.ts";
import { mergeRuns, type RecordRun, runBytes, sliceRun } from "./records.ts";

/** A mock layer as the algorithm sees it; key and LSN ranges are half-open. */
export interface TieredLayer {
  readonly kind: "delta" | "image";
  readonly keyStart: number;
  readonly keyEnd: number;
  readonly lsnStart: number;
  readonly lsnEnd: number;
  readonly fileSize: number;
  /** A delta's records in (key, LSN) order; null for images. */
  readonly records: RecordRun | null;
}

export interface NumericKeyRange {
  readonly start: number;
  readonly end: number;
}

/** What compaction needs from the (mock) timeline: Neon's CompactionJobExecutor, simulated. */
export interface TieredExecutor<L extends TieredLayer> {
  liveLayers(): readonly L[];
  /** The keys that exist, sorted and disjoint. */
  keyspace(): readonly NumericKeyRange[];
  createDelta(keyRange: NumericKeyRange, lsnStart: number, lsnEnd: number, run: RecordRun): void;
  createImage(keyRange: NumericKeyRange, lsn: number, fileSize: number): void;
  deleteLayer(layer: L): void;
}

export interface TieredOptions {
  readonly endLsn: number;
  readonly targetFileSizeBytes: number;
  readonly fanout: number;
}

/** What happened to one level. */
export interface LevelCompactionReport {
  readonly level: number;
  readonly lsnStart: number;
  readonly lsnEnd: number;
  readonly depth: number;
  readonly strategy: "retile" | "images" | "none";
  readonly layersIn: number;
  readonly layersOut: number;
}

/** Bytes of one page; an image layer stores one page per key. */
export const SIMULATOR_PAGE_BYTES = 8192;
/** Levels examined per call: heights grow by at least 2× per level, so 64 covers any u64 LSN. */
const LEVELS_MAX = 64;

/**
 * Numeric keys as the engine's 36-hex-digit keys, so that `levelDepth` (which compares keys as
 * strings) orders them as numbers. Exact for keys below 2^53.
 */
export function simulatorKey(key: number): Key {
  assert(Number.isSafeInteger(key) && key >= 0, `simulator key ${key} is not a u53`);
  return key.toString(16).padStart(36, "0") as Key;
}

interface ShapedLayer<L> extends LevelLayer {
  readonly layer: L;
}

function shapeOf<L extends TieredLayer>(layer: L): ShapedLayer<L> {
  return {
    kind: layer.kind,
    keyRange: { start: simulatorKey(layer.keyStart), end: simulatorKey(layer.keyEnd) },
    lsnRange: { start: layer.lsnStart as Lsn, end: layer.lsnEnd as Lsn },
    fileSize: layer.fileSize,
    layer,
  };
}

/** Runs tiered compaction below `endLsn`; returns one report per level examined. */
export function compactTiered<L extends TieredLayer>(
  executor: TieredExecutor<L>,
  options: TieredOptions,
): LevelCompactionReport[] {
  const { endLsn, targetFileSizeBytes, fanout } = options;
  assert(fanout >= 1, `fanout must be at least 1, got ${fanout}`);
  assert(targetFileSizeBytes > 0, "target file size must be positive");
  const base = Math.max(fanout, 2);
  const reports: LevelCompactionReport[] = [];
  let height = targetFileSizeBytes;
  for (let levelNumber = 0; levelNumber < LEVELS_MAX; levelNumber++) {
    const shapes = executor
      .liveLayers()
      .filter((layer) => layer.lsnStart <= endLsn)
      .map(shapeOf);
    const level = identifyLevel(shapes, endLsn as Lsn, height * 1.75);
    if (!level) break;
    const depth = levelDepth(level);
    const baseReport = {
      level: levelNumber,
      lsnStart: level.lsnRange.start,
      lsnEnd: level.lsnRange.end,
      depth,
    };
    if (depth < fanout) {
      reports.push({ ...baseReport, strategy: "none", layersIn: 0, layersOut: 0 });
      break;
    }
    const layers = level.layers.map((shape) => shape.layer);
    reports.push({ ...baseReport, ...compactLevel(executor, layers, level.lsnRange, options) });
    height = Math.min(height * base, Number.MAX_SAFE_INTEGER);
  }
  return reports;
}

function keyspaceKeys(keyspace: readonly NumericKeyRange[]): number {
  let keys = 0;
  for (const range of keyspace) keys += range.end - range.start;
  return keys;
}

function compactLevel<L extends TieredLayer>(
  executor: TieredExecutor<L>,
  layers: readonly L[],
  lsnRange: { start: number; end: number },
  options: TieredOptions,
): Pick<LevelCompactionReport, "strategy" | "layersIn" | "layersOut"> {
  const deltas = layers.filter((layer) => layer.kind === "delta");
  const deltaBytes = deltas.reduce((sum, layer) => sum + layer.fileSize, 0);
  const keyspace = executor.keyspace();
  const keyspaceBytes = keyspaceKeys(keyspace) * SIMULATOR_PAGE_BYTES;
  if (keyspaceBytes < deltaBytes) {
    const chunks = imageChunks(keyspace, options.targetFileSizeBytes / SIMULATOR_PAGE_BYTES);
    for (const chunk of chunks) {
      executor.createImage(chunk.range, lsnRange.end, chunk.keys * SIMULATOR_PAGE_BYTES);
    }
    return { strategy: "images", layersIn: 0, layersOut: chunks.length };
  }
  const outputs = retile(executor, deltas, lsnRange, options.targetFileSizeBytes);
  return { strategy: "retile", layersIn: deltas.length, layersOut: outputs };
}

/**
 * Cuts the keyspace into image layers of about `targetKeys` keys each; the last one stretches up
 * to 1.25 × to swallow a small remainder. Together they cover [0, MAX): gaps between used key
 * ranges belong to the layer around them.
 */
export function imageChunks(
  keyspace: readonly NumericKeyRange[],
  targetKeys: number,
): Array<{ range: NumericKeyRange; keys: number }> {
  assert(targetKeys >= 1, "an image layer holds at least one key");
  const total = keyspaceKeys(keyspace);
  const chunks: Array<{ range: NumericKeyRange; keys: number }> = [];
  if (total === 0) return chunks;
  let chunkStart = 0;
  let chunkKeys = 0;
  let remaining = total;
  for (const range of keyspace) {
    let at = range.start;
    while (at < range.end) {
      const wanted =
        chunkKeys + remaining <= targetKeys * 1.25 ? remaining : targetKeys - chunkKeys;
      const take = Math.min(wanted, range.end - at);
      at += take;
      chunkKeys += take;
      remaining -= take;
      // Cut here unless the rest fits in this layer stretched to 1.25 × the target.
      if (chunkKeys >= targetKeys && chunkKeys + remaining > targetKeys * 1.25) {
        chunks.push({ range: { start: chunkStart, end: at }, keys: chunkKeys });
        chunkStart = at;
        chunkKeys = 0;
      }
    }
  }
  chunks.push({ range: { start: chunkStart, end: Number.MAX_SAFE_INTEGER }, keys: chunkKeys });
  assert(chunks.reduce((sum, chunk) => sum + chunk.keys, 0) === total, "image chunks lose keys");
  return chunks;
}

/**
 * Where to cut a merged run into outputs of about `target` bytes: never inside one key's
 * versions, and a last piece under a quarter of the target joins the one before it.
 */
export function retileCuts(run: RecordRun, target: number): number[] {
  const cuts: number[] = [0];
  let size = 0;
  const count = run.keys.length;
  for (let i = 0; i < count; i++) {
    const startsKey = i === 0 || run.keys[i] !== run.keys[i - 1];
    if (startsKey && size >= target) {
      cuts.push(i);
      size = 0;
    }
    size += run.lengths[i]!;
  }
  if (cuts.length > 1 && size < target / 4) cuts.pop();
  cuts.push(count);
  return cuts;
}

function retile<L extends TieredLayer>(
  executor: TieredExecutor<L>,
  deltas: readonly L[],
  lsnRange: { start: number; end: number },
  target: number,
): number {
  const merged = mergeRuns(deltas.map((layer) => layer.records!));
  const cuts = retileCuts(merged, target);
  // The last output overlapping each input: once it is written, the input can go.
  const lastUser = deltas.map(() => -1);
  const ranges: NumericKeyRange[] = [];
  for (let out = 0; out + 1 < cuts.length; out++) {
    const from = cuts[out]!;
    const to = cuts[out + 1]!;
    if (from === to) continue;
    const range = { start: merged.keys[from]!, end: merged.keys[to - 1]! + 1 };
    ranges.push(range);
    deltas.forEach((layer, index) => {
      if (layer.keyStart < range.end && range.start < layer.keyEnd) lastUser[index] = out;
    });
  }
  let written = 0;
  for (let out = 0; out + 1 < cuts.length; out++) {
    const from = cuts[out]!;
    const to = cuts[out + 1]!;
    if (from === to) continue;
    const run = sliceRun(merged, from, to);
    executor.createDelta(ranges[written]!, lsnRange.start, lsnRange.end, run);
    written++;
    deltas.forEach((layer, index) => {
      if (lastUser[index] === out) executor.deleteLayer(layer);
    });
  }
  // Inputs that no output overlaps (empty deltas) go too.
  deltas.forEach((layer, index) => {
    if (lastUser[index] === -1) executor.deleteLayer(layer);
  });
  assert(
    runBytes(merged) === deltas.reduce((sum, layer) => sum + runBytes(layer.records!), 0),
    "re-tiling lost records",
  );
  return written;
}
