/**
 * One compaction run of a timeline, with the configured algorithm:
 *
 * - legacy: L0 → L1 once `compaction_threshold` L0s pile up, then image layers where the delta
 *   stack is deep; the image check only runs after `image_layer_creation_check_threshold ×
 *   checkpoint_distance` bytes of WAL since the last check (or `checkpoint_timeout`), unless forced.
 * - tiered: see tiered_compaction.ts, then the same image step.
 *
 * Every run is recorded (duration, bytes and layers in and out) for metrics and the console.
 */
import type { Lsn } from "../lsn.ts";
import type { Timeline } from "../timeline/timeline.ts";
import { createImageLayers } from "./image_layers.ts";
import { type CompactionStep, compactLevel0 } from "./l0_compaction.ts";
import { compactTiered } from "./tiered_compaction.ts";

export interface CompactOptions {
  readonly forceL0Compaction?: boolean;
  readonly forceImageLayerCreation?: boolean;
  readonly forceRepartition?: boolean;
  readonly signal?: AbortSignal;
}

export interface CompactionRun {
  readonly tenantId: string;
  readonly timelineId: string;
  readonly algorithm: "legacy" | "tiered";
  readonly startedAtMs: number;
  durationMs: number;
  steps: CompactionStep[];
  layersIn: number;
  layersOut: number;
  bytesIn: number;
  bytesOut: number;
  error: string | null;
}

/** Per-timeline state of the image-layer check (not persisted: a restart just checks again). */
const imageChecks = new WeakMap<Timeline, { lsn: Lsn; atMs: number }>();

function imageCheckDue(timeline: Timeline, nowMs: number): boolean {
  const last = imageChecks.get(timeline);
  if (!last) return true;
  const config = timeline.config;
  const distance = config.imageLayerCreationCheckThreshold * config.checkpointDistanceBytes;
  return (
    timeline.diskConsistentLsn - last.lsn >= distance ||
    nowMs - last.atMs >= config.checkpointTimeoutMs
  );
}

export async function compactTimeline(
  timeline: Timeline,
  options: CompactOptions = {},
): Promise<CompactionRun> {
  const signal = options.signal ?? timeline.cancel.signal;
  const algorithm = timeline.config.compactionAlgorithm;
  const run: CompactionRun = {
    tenantId: timeline.tenantId,
    timelineId: timeline.timelineId,
    algorithm,
    startedAtMs: Date.now(),
    durationMs: 0,
    steps: [],
    layersIn: 0,
    layersOut: 0,
    bytesIn: 0,
    bytesOut: 0,
    error: null,
  };
  const started = performance.now();
  try {
    await timeline.gate.run(() =>
      timeline.layerRewriteLock.run(async () => {
        if (algorithm === "tiered") {
          run.steps.push(...(await compactTiered(timeline, signal)));
        } else {
          const l0 = await compactLevel0(timeline, options.forceL0Compaction ?? false, signal);
          if (l0) run.steps.push(l0);
        }
        const force = options.forceImageLayerCreation ?? false;
        if (force || options.forceRepartition || imageCheckDue(timeline, Date.now())) {
          imageChecks.set(timeline, { lsn: timeline.diskConsistentLsn, atMs: Date.now() });
          const images = await createImageLayers(timeline, force, signal);
          if (images) run.steps.push(images);
        }
      }),
    );
  } catch (error) {
    run.error = (error as Error).message;
    throw error;
  } finally {
    run.durationMs = performance.now() - started;
    for (const step of run.steps) {
      run.layersIn += step.layersIn;
      run.layersOut += step.layersOut;
      run.bytesIn += step.bytesIn;
      run.bytesOut += step.bytesOut;
    }
    timeline.recordRun("compaction", run);
  }
  return run;
}
