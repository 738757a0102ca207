/**
 * Garbage collection of one timeline (Neon's gc_timeline): compute the cutoff from gc_horizon
 * (space) and pitr_interval (time), then remove each historic layer that no one needs:
 *
 * - its LSN end is at or below both cutoffs,
 * - no child branch point and no valid lease lies at or above its LSN start,
 * - image layers newer than it (below the new cutoff) cover its whole key range.
 *
 * The new cutoff is persisted before any file is removed, so a read below it is refused from then
 * on. The result counts why layers stayed, as Neon's GcResult does, and names them.
 */
import { assert } from "../assert.ts";
import type { KeyRange } from "../key/key_space.ts";
import { type Lsn, minLsn } from "../lsn.ts";
import type { PersistentLayer } from "../storage_layer/persistent_layer.ts";
import type { Timeline } from "../timeline/timeline.ts";
import { failpoint } from "../util/failpoints.ts";
import { findLsnForTimestamp } from "./lsn_for_timestamp.ts";

export type GcRetentionReason = "cutoff" | "pitr" | "branches" | "leases" | "not_updated";

export interface GcResult {
  layers_total: number;
  layers_needed_by_cutoff: number;
  layers_needed_by_pitr: number;
  layers_needed_by_branches: number;
  layers_needed_by_leases: number;
  layers_not_updated: number;
  layers_removed: number;
  elapsed: number;
  /** Our extension: why each kept layer stayed, and the cutoffs used. */
  retained: Record<string, GcRetentionReason>;
  removed: string[];
  space_cutoff: Lsn;
  time_cutoff: Lsn;
  new_cutoff: Lsn;
}

/** A result that counts nothing yet (or nothing at all: GC was skipped). */
export function emptyGcResult(space: Lsn, time: Lsn, newCutoff: Lsn): GcResult {
  return {
    layers_total: 0,
    layers_needed_by_cutoff: 0,
    layers_needed_by_pitr: 0,
    layers_needed_by_branches: 0,
    layers_needed_by_leases: 0,
    layers_not_updated: 0,
    layers_removed: 0,
    elapsed: 0,
    retained: {},
    removed: [],
    space_cutoff: space,
    time_cutoff: time,
    new_cutoff: newCutoff,
  };
}

export interface GcCutoffs {
  readonly space: Lsn;
  readonly time: Lsn;
}

/** Neon's find_gc_cutoffs. */
export async function findGcCutoffs(
  timeline: Timeline,
  horizonBytes: number,
  nowMs = Date.now(),
): Promise<GcCutoffs> {
  const last = timeline.lastRecordLsn;
  const space = Math.max(0, last - horizonBytes) as Lsn;
  const pitrMs = timeline.config.pitrIntervalMs;
  if (pitrMs === 0) return { space, time: last };
  const found = await findLsnForTimestamp(timeline, nowMs - pitrMs);
  switch (found.kind) {
    case "present":
    case "future":
      // The time cutoff is authoritative when PITR is configured.
      return { space: found.lsn, time: found.lsn };
    case "past":
      return { space: timeline.latestGcCutoffLsn, time: timeline.latestGcCutoffLsn };
    case "nodata":
      return { space, time: timeline.latestGcCutoffLsn };
  }
}

/** Whether image layers with LSNs in [from, to) together cover `keyRange`. */
function imagesCover(
  layers: Iterable<PersistentLayer>,
  keyRange: KeyRange,
  from: Lsn,
  to: Lsn,
): boolean {
  const covering = [...layers]
    .filter(
      (l) => l.kind === "image" && l.name.lsnRange.start >= from && l.name.lsnRange.start < to,
    )
    .map((l) => l.name.keyRange)
    .filter((r) => r.start < keyRange.end && keyRange.start < r.end)
    .sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  let covered = keyRange.start;
  for (const range of covering) {
    if (range.start > covered) return false;
    if (range.end > covered) covered = range.end;
    if (covered >= keyRange.end) return true;
  }
  return covered >= keyRange.end;
}

export async function gcTimeline(
  timeline: Timeline,
  options: { horizonBytes?: number | null; retainLsns: readonly Lsn[]; nowMs?: number },
): Promise<GcResult> {
  const started = performance.now();
  const nowMs = options.nowMs ?? Date.now();
  const { space, time } = await findGcCutoffs(
    timeline,
    options.horizonBytes ?? timeline.config.gcHorizonBytes,
    nowMs,
  );
  const newCutoff = minLsn(minLsn(space, timeline.diskConsistentLsn), time);
  const leases = timeline.gc.validLeases(nowMs).map((l) => l.lsn);
  const result = emptyGcResult(space, time, newCutoff);
  timeline.gc.plannedCutoff = newCutoff;
  const historic = [...timeline.layers.historicLayers()];
  const doomed: PersistentLayer[] = [];
  for (const layer of historic) {
    result.layers_total++;
    const reason = retentionReason(
      layer,
      { space, time, retainLsns: options.retainLsns, leases, newCutoff },
      historic,
    );
    if (reason === null) doomed.push(layer);
    else {
      result.retained[layer.nameText] = reason;
      countRetention(result, reason);
    }
  }
  if (newCutoff > timeline.latestGcCutoffLsn) {
    timeline.setLatestGcCutoff(newCutoff);
    await timeline.persistMetadata();
  }
  await failpoint("gc-before-remove");
  if (doomed.length > 0) {
    assert(newCutoff <= timeline.latestGcCutoffLsn, "GC removes only below a persisted cutoff");
    await timeline.removeLayers(doomed);
  }
  result.layers_removed = doomed.length;
  result.removed = doomed.map((l) => l.nameText);
  result.elapsed = Math.round(performance.now() - started);
  return result;
}

function countRetention(result: GcResult, reason: GcRetentionReason): void {
  switch (reason) {
    case "cutoff":
      result.layers_needed_by_cutoff++;
      break;
    case "pitr":
      result.layers_needed_by_pitr++;
      break;
    case "branches":
      result.layers_needed_by_branches++;
      break;
    case "leases":
      result.layers_needed_by_leases++;
      break;
    case "not_updated":
      result.layers_not_updated++;
      break;
  }
}

function retentionReason(
  layer: PersistentLayer,
  limits: {
    space: Lsn;
    time: Lsn;
    retainLsns: readonly Lsn[];
    leases: readonly Lsn[];
    newCutoff: Lsn;
  },
  historic: readonly PersistentLayer[],
): GcRetentionReason | null {
  const { start, end } = layer.name.lsnRange;
  if (end > limits.space) return "cutoff";
  if (end > limits.time) return "pitr";
  if (limits.retainLsns.some((lsn) => start <= lsn)) return "branches";
  if (limits.leases.some((lsn) => start <= lsn)) return "leases";
  if (!imagesCover(historic, layer.name.keyRange, end, (limits.newCutoff + 1) as Lsn))
    return "not_updated";
  return null;
}
