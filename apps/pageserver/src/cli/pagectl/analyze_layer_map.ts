/**
 * `pagectl analyze-layer-map`: the shape of a timeline's layer map, from layer names (a file, a
 * running pageserver, or an index_part.json; see layer_source.ts):
 *
 * - counts and sizes by kind, and the L0 count (Neon throttles flushes at 3 × compaction_threshold
 *   L0s, and its read-amplification goal is under 30);
 * - the compaction levels, as tiered compaction identifies them (the engine's `identifyLevels`:
 *   target height = checkpoint_distance, fanout = compaction_threshold), with each level's depth;
 * - read amplification: the most layers stacked over any one key, and the most layers a GetPage
 *   at the latest LSN would visit at one key (the deltas above the newest image there, plus that
 *   image) — both from a sweep over the key boundaries;
 * - a histogram of file sizes (when sizes are known: names alone carry none).
 *
 * Neon's own analyze-layer-map counts "holes" inside delta files, which needs the files; ours
 * answers the questions the console asks of a layer map, from names alone.
 */
import {
  formatKey,
  formatLsn,
  identifyLevels,
  isL0Name,
  type Key,
  type LevelLayer,
  type LevelSummary,
  type Lsn,
} from "@pageserver/engine";
import { formatBytes, parseBytes, parseCliArgs, parseCount } from "../cli_support.ts";
import {
  LAYER_SOURCE_OPTIONS,
  type LayerDescription,
  type LayerSet,
  layerSourceArgs,
  loadLayerSet,
} from "./layer_source.ts";

/** Neon's defaults: checkpoint_distance 256 MiB, compaction_threshold 10 (reference §5). */
const TARGET_HEIGHT_DEFAULT = "256MiB";
const FANOUT_DEFAULT = "10";

export interface ReadAmplification {
  /** The most layers whose key range contains one key, and a key where that happens. */
  readonly maxStacked: number;
  readonly maxStackedAt: string | null;
  /** The most layers a read at the latest LSN visits at one key, and where. */
  readonly latestRead: number;
  readonly latestReadAt: string | null;
}

/**
 * Sweeps the key boundaries once. Between two consecutive boundaries the set of layers covering
 * the keys is constant; for that stretch, stacked = its size, and a latest read visits every
 * delta newer than the newest image in it, plus the image.
 */
export function readAmplification(layers: readonly LayerDescription[]): ReadAmplification {
  const events: Array<{ key: Key; index: number; start: boolean }> = [];
  layers.forEach((layer, index) => {
    events.push(
      { key: layer.name.keyRange.start, index, start: true },
      { key: layer.name.keyRange.end, index, start: false },
    );
  });
  events.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const active = new Set<number>();
  let result = { maxStacked: 0, maxStackedAt: null as string | null, latestRead: 0 };
  let latestReadAt: string | null = null;
  for (let i = 0; i < events.length; i++) {
    const event = events[i]!;
    if (event.start) active.add(event.index);
    else active.delete(event.index);
    const next = events[i + 1];
    if (next && next.key === event.key) continue;
    if (active.size === 0) continue;
    if (active.size > result.maxStacked) {
      result = { ...result, maxStacked: active.size, maxStackedAt: formatKey(event.key) };
    }
    let newestImage = -1;
    for (const index of active) {
      const name = layers[index]!.name;
      if (name.kind === "image" && name.lsnRange.start > newestImage)
        newestImage = name.lsnRange.start;
    }
    let visited = newestImage >= 0 ? 1 : 0;
    for (const index of active) {
      const name = layers[index]!.name;
      if (name.kind === "delta" && name.lsnRange.end > newestImage) visited++;
    }
    if (visited > result.latestRead) {
      result.latestRead = visited;
      latestReadAt = formatKey(event.key);
    }
  }
  return { ...result, latestReadAt };
}

/** Counts per power-of-two size bucket, labelled by the bucket's lower bound. */
export function sizeHistogram(sizes: readonly number[]): Array<{ atLeast: number; count: number }> {
  const buckets = new Map<number, number>();
  for (const size of sizes) {
    const atLeast = size <= 0 ? 0 : 2 ** Math.floor(Math.log2(size));
    buckets.set(atLeast, (buckets.get(atLeast) ?? 0) + 1);
  }
  return [...buckets].sort((a, b) => a[0] - b[0]).map(([atLeast, count]) => ({ atLeast, count }));
}

export interface LayerMapAnalysis {
  readonly source: string;
  readonly layers: number;
  readonly deltas: number;
  readonly l0: number;
  readonly images: number;
  readonly totalBytes: number | null;
  readonly lsnRange: { start: string; end: string } | null;
  readonly levels: Array<
    Omit<LevelSummary, "lsnRange"> & { lsnRange: { start: string; end: string } }
  >;
  readonly readAmplification: ReadAmplification;
  readonly sizeHistogram: Array<{ atLeast: number; count: number }> | null;
}

export function analyzeLayerMap(
  set: LayerSet,
  options: { targetHeightBytes: number; fanout: number },
): LayerMapAnalysis {
  const { layers } = set;
  const sizesKnown = layers.every((layer) => layer.fileSize !== null);
  const sizes = layers.map((layer) => layer.fileSize ?? 0);
  let lsnStart = Number.POSITIVE_INFINITY;
  let lsnEnd = 0;
  for (const layer of layers) {
    lsnStart = Math.min(lsnStart, layer.name.lsnRange.start);
    lsnEnd = Math.max(lsnEnd, layer.name.lsnRange.end);
  }
  const shapes: LevelLayer[] = layers.map((layer) => ({
    kind: layer.name.kind,
    keyRange: layer.name.keyRange,
    lsnRange: layer.name.lsnRange,
    fileSize: layer.fileSize ?? 0,
  }));
  const levels =
    layers.length === 0
      ? []
      : identifyLevels(shapes, lsnEnd as Lsn, options.targetHeightBytes, options.fanout);
  const deltas = layers.filter((layer) => layer.name.kind === "delta");
  return {
    source: set.source,
    layers: layers.length,
    deltas: deltas.length,
    l0: deltas.filter((layer) => isL0Name(layer.name)).length,
    images: layers.length - deltas.length,
    totalBytes: sizesKnown ? sizes.reduce((sum, size) => sum + size, 0) : null,
    lsnRange:
      layers.length === 0
        ? null
        : { start: formatLsn(lsnStart as Lsn), end: formatLsn(lsnEnd as Lsn) },
    levels: levels.map((level) => ({
      ...level,
      lsnRange: { start: formatLsn(level.lsnRange.start), end: formatLsn(level.lsnRange.end) },
    })),
    readAmplification: readAmplification(layers),
    sizeHistogram: sizesKnown ? sizeHistogram(sizes) : null,
  };
}

function formatAnalysis(analysis: LayerMapAnalysis, fanout: number): string {
  const amp = analysis.readAmplification;
  const lines = [
    `layer map of ${analysis.source}`,
    `  layers: ${analysis.layers} (${analysis.deltas} deltas of which ${analysis.l0} L0, ${analysis.images} images)`,
    `  size: ${analysis.totalBytes === null ? "unknown (layer names only)" : formatBytes(analysis.totalBytes)}`,
    `  LSN range: ${analysis.lsnRange ? `${analysis.lsnRange.start}..${analysis.lsnRange.end}` : "-"}`,
    `  L0 count: ${analysis.l0}${analysis.l0 >= 3 * fanout ? `  (≥ 3 × compaction_threshold ${fanout}: flushes would be delayed)` : ""}`,
    "read amplification:",
    `  max layers stacked at one key: ${amp.maxStacked}${amp.maxStackedAt ? ` (at ${amp.maxStackedAt})` : ""}`,
    `  max layers visited by a read at the latest LSN: ${amp.latestRead}${amp.latestReadAt ? ` (at ${amp.latestReadAt})` : ""}`,
    `levels (tiered identification, fanout ${fanout}):`,
  ];
  if (analysis.levels.length === 0) lines.push("  (none: no clean LSN cut below the top)");
  for (const level of analysis.levels) {
    lines.push(
      `  L${level.level}: LSN ${level.lsnRange.start}..${level.lsnRange.end}, ${level.layers} layers ` +
        `(${level.deltas} deltas, ${level.images} images), depth ${level.depth}` +
        `${analysis.totalBytes === null ? "" : `, ${formatBytes(level.bytes)}`}, target height ${formatBytes(level.targetHeight)}`,
    );
  }
  if (analysis.sizeHistogram) {
    lines.push("file sizes:");
    const widest = Math.max(...analysis.sizeHistogram.map((bucket) => bucket.count));
    for (const bucket of analysis.sizeHistogram) {
      const bar = "#".repeat(Math.max(1, Math.round((bucket.count / widest) * 40)));
      lines.push(
        `  ≥ ${formatBytes(bucket.atLeast).padStart(9)} ${String(bucket.count).padStart(7)} ${bar}`,
      );
    }
  }
  return lines.join("\n");
}

export async function analyzeLayerMapCommand(args: string[]): Promise<void> {
  const { values, positionals } = parseCliArgs(
    args,
    {
      ...LAYER_SOURCE_OPTIONS,
      "target-height": { type: "string", default: TARGET_HEIGHT_DEFAULT },
      fanout: { type: "string", default: FANOUT_DEFAULT },
      json: { type: "boolean", default: false },
    },
    { min: 0, max: 1 },
  );
  const fanout = parseCount(values.fanout as string, "--fanout", 1);
  const targetHeightBytes = parseBytes(values["target-height"] as string, "--target-height");
  const set = await loadLayerSet(layerSourceArgs(values, positionals[0]));
  const analysis = analyzeLayerMap(set, { targetHeightBytes, fanout });
  process.stdout.write(
    values.json
      ? `${JSON.stringify(analysis, null, 2)}\n`
      : `${formatAnalysis(analysis, fanout)}\n`,
  );
}
