/**
 * Eviction of local layer files that remote storage holds (only uploaded layers are candidates).
 *
 * - **Threshold policy** (per tenant, `eviction_policy = LayerAccessThreshold {period, threshold}`):
 *   every period, evict Visible layers idle longer than `threshold` and Covered layers idle
 *   longer than `period` (Neon's eviction_task). `OnlyImitiate` evicts nothing.
 * - **Disk-usage-based** (process-wide, `disk_usage_based_eviction`): when usage is above
 *   `max_usage_pct` or free space below `min_avail_bytes`, evict across tenants in Neon's order —
 *   Covered layers first; then Visible layers beyond each tenant's minimum resident size, by
 *   relative access recency within the tenant (so a tenant with many layers loses first); the
 *   reserved ones last — until the planned usage relieves the pressure.
 */

import type { PersistentLayer } from "../storage_layer/persistent_layer.ts";
import type { Tenant } from "../tenant/tenant.ts";
import type { Timeline } from "../timeline/timeline.ts";

/**
 * Process-wide totals of disk-usage-based eviction (Neon's
 * pageserver_disk_usage_based_eviction_*); per-timeline eviction counts live on the timeline.
 */
export const evictionStats = {
  /** Layers considered (the candidates listed) by disk-usage-based eviction. */
  diskUsageCollectedLayers: 0,
  /** Layers chosen to relieve the pressure. */
  diskUsageSelectedLayers: 0,
  diskUsageEvictedLayers: 0,
  diskUsageEvictedBytes: 0,
};

/** Recomputes each layer's visibility for the timeline's read points (tip and child branch points). */
export function updateVisibility(timeline: Timeline, childBranchLsns: readonly number[]): void {
  const readPoints = [timeline.lastRecordLsn, ...childBranchLsns].map(
    (lsn) => lsn as typeof timeline.lastRecordLsn,
  );
  const { entries } = timeline.layers.getVisibility(readPoints);
  for (const entry of entries) entry.layer.visibility = entry.visibility;
}

function idleMs(layer: PersistentLayer, nowMs: number): number {
  return nowMs - (layer.access.lastAccessMs ?? layer.access.residentSinceMs);
}

/** One pass of the threshold policy over a tenant; returns the number of layers evicted. */
export async function evictByThreshold(tenant: Tenant, nowMs = Date.now()): Promise<number> {
  const policy = tenant.config.evictionPolicy;
  if (policy.kind !== "LayerAccessThreshold") return 0;
  let evicted = 0;
  for (const timeline of tenant.timelines()) {
    if (timeline.state.kind !== "Active" || !timeline.remote) continue;
    updateVisibility(
      timeline,
      tenant.children(timeline.timelineId).map((c) => c.ancestorLsn),
    );
    for (const layer of [...timeline.layers.historicLayers()]) {
      if (!layer.resident || !layer.uploaded) continue;
      const limit = layer.visibility === "Covered" ? policy.periodMs : policy.thresholdMs;
      if (idleMs(layer, nowMs) <= limit) continue;
      const lowResidenceMs = tenant.config.evictionsLowResidenceDurationMetricThresholdMs;
      if (await timeline.evictLayer(layer, lowResidenceMs)) evicted++;
    }
  }
  return evicted;
}

export type EvictionPartition = "EvictNow" | "Above" | "Below";

export interface EvictionCandidate {
  readonly tenant: Tenant;
  readonly timeline: Timeline;
  readonly layer: PersistentLayer;
  readonly partition: EvictionPartition;
  /** 0 = the tenant's most recently used, toward 1 = its least recently used. */
  readonly relativeRecency: number;
}

const PARTITION_ORDER: Record<EvictionPartition, number> = { EvictNow: 0, Above: 1, Below: 2 };

/** Every evictable layer of every tenant, in the order disk-usage eviction takes them. */
export function evictionCandidates(tenants: readonly Tenant[]): EvictionCandidate[] {
  const candidates: EvictionCandidate[] = [];
  for (const tenant of tenants) {
    if (tenant.state.slug !== "Active") continue;
    const layers: Array<{ timeline: Timeline; layer: PersistentLayer }> = [];
    let largest = 0;
    for (const timeline of tenant.timelines()) {
      if (timeline.state.kind !== "Active" || !timeline.remote) continue;
      updateVisibility(
        timeline,
        tenant.children(timeline.timelineId).map((c) => c.ancestorLsn),
      );
      for (const layer of timeline.layers.historicLayers()) {
        if (layer.fileSize > largest) largest = layer.fileSize;
        if (layer.resident && layer.uploaded && !layer.downloading && layer.pins === 0)
          layers.push({ timeline, layer });
      }
    }
    // Most recently used first; the first `minResident` bytes of them are reserved.
    layers.sort(
      (a, b) =>
        (b.layer.access.lastAccessMs ?? b.layer.access.residentSinceMs) -
        (a.layer.access.lastAccessMs ?? a.layer.access.residentSinceMs),
    );
    const minResident = tenant.config.minResidentSizeOverrideBytes ?? largest;
    let reserved = 0;
    layers.forEach(({ timeline, layer }, index) => {
      let partition: EvictionPartition;
      if (layer.visibility === "Covered") partition = "EvictNow";
      else if (reserved < minResident) {
        partition = "Below";
        reserved += layer.fileSize;
      } else partition = "Above";
      candidates.push({
        tenant,
        timeline,
        layer,
        partition,
        relativeRecency: (index + 1) / (layers.length + 1),
      });
    });
  }
  candidates.sort(
    (a, b) =>
      PARTITION_ORDER[a.partition] - PARTITION_ORDER[b.partition] ||
      b.relativeRecency - a.relativeRecency,
  );
  return candidates;
}

export interface DiskUsageEvictionResult {
  readonly requestedBytes: number;
  readonly evictedLayers: number;
  readonly evictedBytes: number;
  readonly partitions: Record<EvictionPartition, number>;
}

/** Evicts candidates in order until `bytes` are freed (or none are left). */
export async function evictBytes(
  tenants: readonly Tenant[],
  bytes: number,
): Promise<DiskUsageEvictionResult> {
  const partitions: Record<EvictionPartition, number> = { EvictNow: 0, Above: 0, Below: 0 };
  let freed = 0;
  let layers = 0;
  const candidates = evictionCandidates(tenants);
  evictionStats.diskUsageCollectedLayers += candidates.length;
  let selected = 0;
  for (const candidate of candidates) {
    if (freed >= bytes) break;
    selected++;
    const threshold = candidate.tenant.config.evictionsLowResidenceDurationMetricThresholdMs;
    if (!(await candidate.timeline.evictLayer(candidate.layer, threshold))) continue;
    freed += candidate.layer.fileSize;
    layers++;
    partitions[candidate.partition]++;
  }
  evictionStats.diskUsageSelectedLayers += selected;
  evictionStats.diskUsageEvictedLayers += layers;
  evictionStats.diskUsageEvictedBytes += freed;
  return { requestedBytes: bytes, evictedLayers: layers, evictedBytes: freed, partitions };
}

export interface DiskUsage {
  readonly totalBytes: number;
  readonly usedBytes: number;
}

export interface DiskUsageThresholds {
  readonly maxUsagePct: number;
  readonly minAvailBytes: number;
}

/** Bytes to free to relieve the pressure (0 when there is none). */
export function bytesOverThresholds(usage: DiskUsage, thresholds: DiskUsageThresholds): number {
  const allowedByPct = (thresholds.maxUsagePct / 100) * usage.totalBytes;
  const allowedByAvail = usage.totalBytes - thresholds.minAvailBytes;
  const allowed = Math.min(allowedByPct, allowedByAvail);
  return Math.max(0, Math.ceil(usage.usedBytes - allowed));
}
