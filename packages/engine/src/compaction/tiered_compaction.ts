/**
 * Tiered compaction (Neon's `compaction_algorithm = {kind: "tiered"}`): fanout is
 * `compaction_threshold`, the level-0 target height is `checkpoint_distance`. Starting at the top,
 * a level is identified from the layer shapes; if its depth reaches the fanout, its deltas are
 * re-tiled into new deltas spanning the whole level's LSN range (a lazy k-way merge in (key, LSN)
 * order, cut at the target size), which makes them one tier of the next level; then the next level,
 * `fanout` times taller, is examined. Image layers are created by the same step as in legacy
 * compaction, when delta stacks over a partition grow deep.
 */
import type { Lsn } from "../lsn.ts";
import type { PersistentLayer } from "../storage_layer/persistent_layer.ts";
import type { Timeline } from "../timeline/timeline.ts";
import { type CompactionStep, mergeDeltas } from "./l0_compaction.ts";
import { identifyLevel, type LevelLayer, levelDepth } from "./levels.ts";

interface ShapedLayer extends LevelLayer {
  readonly layer: PersistentLayer;
}

function shapes(timeline: Timeline, endLsn: Lsn): ShapedLayer[] {
  const out: ShapedLayer[] = [];
  for (const layer of timeline.layers.historicLayers()) {
    if (layer.name.lsnRange.start > endLsn) continue;
    out.push({
      kind: layer.kind,
      keyRange: layer.name.keyRange,
      lsnRange: layer.name.lsnRange,
      fileSize: layer.fileSize,
      layer,
    });
  }
  return out;
}

export async function compactTiered(
  timeline: Timeline,
  signal: AbortSignal,
): Promise<CompactionStep[]> {
  const config = timeline.config;
  const fanout = config.compactionThreshold;
  const base = Math.max(fanout, 2);
  const endLsn = (timeline.diskConsistentLsn + 1) as Lsn;
  const steps: CompactionStep[] = [];
  let height = config.checkpointDistanceBytes;
  for (let levelNumber = 0; levelNumber < 32 && !signal.aborted; levelNumber++) {
    const level = identifyLevel(shapes(timeline, endLsn), endLsn, height * 1.75);
    if (!level || levelDepth(level) < fanout) break;
    const deltas = level.layers.filter((l) => l.kind === "delta").map((l) => l.layer);
    if (deltas.length < 2) break;
    const outputs = await mergeDeltas(timeline, deltas, level.lsnRange, signal);
    await timeline.replaceLayers(deltas, outputs);
    steps.push({
      kind: "tiered",
      layersIn: deltas.length,
      layersOut: outputs.length,
      bytesIn: deltas.reduce((sum, l) => sum + l.fileSize, 0),
      bytesOut: outputs.reduce((sum, l) => sum + l.fileSize, 0),
    });
    height = height * base;
  }
  return steps;
}
