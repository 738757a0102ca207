/**
 * The disk-usage-based eviction task (Neon's disk_usage_eviction_task): every `period`, measure
 * the disk (statvfs of the workdir, or the configured `disk_capacity_bytes` with the resident layer
 * bytes as usage, for tests and demos), and when above `max_usage_pct` or below `min_avail_bytes`,
 * evict uploaded layers across tenants in Neon's order until the pressure is relieved.
 */
import { statfs } from "node:fs/promises";
import {
  bytesOverThresholds,
  type DiskUsage,
  type DiskUsageEvictionResult,
  evictBytes,
  type TenantManager,
} from "@pageserver/engine";
import type { PageserverConfig } from "../config/pageserver_config.ts";
import type { ProcessLogger } from "../logging.ts";

export interface DiskUsageEvictionState {
  lastRunAtMs: number | null;
  lastUsage: DiskUsage | null;
  lastResult: DiskUsageEvictionResult | null;
  runs: number;
}

export const diskUsageEvictionState: DiskUsageEvictionState = {
  lastRunAtMs: null,
  lastUsage: null,
  lastResult: null,
  runs: 0,
};

function residentBytes(tenants: TenantManager): number {
  let total = 0;
  for (const tenant of tenants.list()) {
    for (const timeline of tenant.timelines()) {
      for (const layer of timeline.layers.historicLayers())
        if (layer.resident) total += layer.fileSize;
    }
  }
  return total;
}

export async function measureDiskUsage(
  config: PageserverConfig,
  tenants: TenantManager,
): Promise<DiskUsage> {
  const capacity = config.diskUsageBasedEviction?.disk_capacity_bytes;
  if (capacity !== undefined) return { totalBytes: capacity, usedBytes: residentBytes(tenants) };
  const stats = await statfs(config.workdir);
  return {
    totalBytes: stats.blocks * stats.bsize,
    usedBytes: (stats.blocks - stats.bavail) * stats.bsize,
  };
}

/** One check: evicts if over the thresholds; returns what was done (null when no pressure). */
export async function runDiskUsageEviction(
  config: PageserverConfig,
  tenants: TenantManager,
  log: ProcessLogger,
): Promise<DiskUsageEvictionResult | null> {
  const settings = config.diskUsageBasedEviction;
  if (!settings) return null;
  const usage = await measureDiskUsage(config, tenants);
  diskUsageEvictionState.lastRunAtMs = Date.now();
  diskUsageEvictionState.lastUsage = usage;
  diskUsageEvictionState.runs++;
  const excess = bytesOverThresholds(usage, {
    maxUsagePct: settings.max_usage_pct,
    minAvailBytes: settings.min_avail_bytes,
  });
  if (excess === 0) return null;
  const result = await evictBytes(tenants.list(), excess);
  diskUsageEvictionState.lastResult = result;
  log.info(
    { usage, excess, evicted_layers: result.evictedLayers, evicted_bytes: result.evictedBytes },
    "disk usage based eviction",
  );
  if (result.evictedBytes < excess)
    log.warn(
      { missing: excess - result.evictedBytes },
      "disk pressure not relieved: not enough evictable layers",
    );
  return result;
}
