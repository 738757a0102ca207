/**
 * L0 → L1 compaction (Neon's default, "legacy"): once `compaction_threshold` L0 layers pile up,
 * take the oldest LSN-contiguous run of them (up to max(compaction_upper_limit, threshold) ×
 * max(checkpoint_distance, 256 MiB) bytes), merge them in (key, LSN) order with bounded memory,
 * and write L1 deltas of that LSN range cut at `compaction_target_size`; then swap.
 *
 * Reads are never disturbed: the swap is one synchronous layer-map update, and an L1 holds every
 * version of its keys in the LSN range, so whichever a reader sees answers the same.
 */
import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import { ShuttingDownError } from "../errors.ts";
import type { Lsn } from "../lsn.ts";
import type { PersistentLayer } from "../storage_layer/persistent_layer.ts";
import type { Timeline } from "../timeline/timeline.ts";
import { failpoint } from "../util/failpoints.ts";
import { DeltaOutputs } from "./delta_outputs.ts";
import { LayerScan, MergedScan } from "./layer_scan.ts";

const MiB = 1024 * 1024;
const YIELD_EVERY_VALUES = 4096;

export interface CompactionStep {
  readonly kind: "l0" | "image" | "tiered";
  readonly layersIn: number;
  readonly layersOut: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
}

/** Picks the L0s to compact, oldest first; empty when there is nothing to do. */
export function selectL0s(timeline: Timeline, force: boolean): PersistentLayer[] {
  const config = timeline.config;
  const l0s = timeline.layers.l0Layers();
  if (l0s.length === 0 || (l0s.length < config.compactionThreshold && !force)) return [];
  const budget =
    Math.max(config.compactionUpperLimit, config.compactionThreshold) *
    Math.max(config.checkpointDistanceBytes, 256 * MiB);
  const selected = [l0s[0]!];
  let bytes = l0s[0]!.fileSize;
  for (let i = 1; i < l0s.length; i++) {
    const layer = l0s[i]!;
    if (layer.name.lsnRange.start !== selected[selected.length - 1]!.name.lsnRange.end) break;
    if (bytes + layer.fileSize > budget) break;
    selected.push(layer);
    bytes += layer.fileSize;
  }
  return selected;
}

/** Merges `inputs` into deltas of their combined LSN range; returns the outputs (temp files). */
export async function mergeDeltas(
  timeline: Timeline,
  inputs: readonly PersistentLayer[],
  lsnRange: { start: Lsn; end: Lsn },
  signal: AbortSignal,
): Promise<PersistentLayer[]> {
  // Pinned: the inputs are read across awaits and must not be evicted meanwhile.
  const unpin = await timeline.pinResident(inputs);
  const outputs = new DeltaOutputs(timeline, lsnRange, timeline.config.compactionTargetSizeBytes);
  try {
    const merged = new MergedScan(inputs.map((layer) => new LayerScan(layer)));
    // The first check comes after the first value, so that even a merge smaller than one
    // yield interval passes the failpoint with an output file half written.
    let sinceYield = YIELD_EVERY_VALUES - 1;
    for (let scan = merged.peek(); scan !== null; scan = merged.peek()) {
      const pending = outputs.put(scan.key, scan.lsn, scan.value(), scan.current!.willInit);
      if (pending) await pending;
      merged.pop();
      if (++sinceYield >= YIELD_EVERY_VALUES) {
        sinceYield = 0;
        await yieldToEventLoop();
        if (signal.aborted) throw new ShuttingDownError("compaction cancelled", timeline.context());
        await failpoint("compaction-merge");
      }
    }
    return await outputs.finish();
  } catch (error) {
    outputs.abort();
    throw error;
  } finally {
    unpin();
  }
}

export async function compactLevel0(
  timeline: Timeline,
  force: boolean,
  signal: AbortSignal,
): Promise<CompactionStep | null> {
  const inputs = selectL0s(timeline, force);
  if (inputs.length === 0) return null;
  const lsnRange = {
    start: inputs[0]!.name.lsnRange.start,
    end: inputs[inputs.length - 1]!.name.lsnRange.end,
  };
  const outputs = await mergeDeltas(timeline, inputs, lsnRange, signal);
  await timeline.replaceLayers(inputs, outputs);
  return {
    kind: "l0",
    layersIn: inputs.length,
    layersOut: outputs.length,
    bytesIn: inputs.reduce((sum, l) => sum + l.fileSize, 0),
    bytesOut: outputs.reduce((sum, l) => sum + l.fileSize, 0),
  };
}
