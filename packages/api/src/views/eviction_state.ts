/**
 * Eviction pressure of one pageserver: disk usage against the disk-usage-based eviction
 * thresholds (`max_usage_pct`, `min_avail_bytes`), and per tenant the resident bytes and the
 * layer-access-threshold policy. Without remote storage nothing can be evicted and `remoteBytes`
 * is null ("no remote storage"), not 0 ("nothing uploaded").
 */
import type { EvictionPolicy } from "@pageserver/engine";
import type { ApiContext, DiskUsageEvictionConfig, NodeUtilization } from "../context.ts";

export interface TenantEviction {
  readonly tenantId: string;
  readonly residentBytes: number;
  readonly remoteBytes: number | null;
  readonly layerCount: number;
  readonly policy: EvictionPolicy;
}

export interface EvictionState {
  readonly utilization: NodeUtilization;
  readonly capacityBytes: number;
  readonly usedBytes: number;
  readonly usagePct: number;
  readonly thresholds: DiskUsageEvictionConfig | null;
  /** Which threshold is exceeded now (eviction would run), or null. */
  readonly exceeded: "max_usage_pct" | "min_avail_bytes" | null;
  readonly residentBytes: number;
  readonly remoteBytes: number | null;
  readonly remoteStorage: boolean;
  readonly tenants: TenantEviction[];
}

export async function evictionState(ctx: ApiContext): Promise<EvictionState> {
  const utilization = await ctx.utilization();
  const thresholds = ctx.diskUsageEviction?.() ?? null;
  const usedBytes = utilization.disk_usage_bytes;
  const capacityBytes = usedBytes + utilization.free_space_bytes;
  const usagePct = capacityBytes > 0 ? (usedBytes / capacityBytes) * 100 : 0;
  let exceeded: EvictionState["exceeded"] = null;
  if (thresholds?.enabled) {
    if (usagePct > thresholds.maxUsagePct) exceeded = "max_usage_pct";
    else if (utilization.free_space_bytes < thresholds.minAvailBytes) exceeded = "min_avail_bytes";
  }
  const remoteStorage = ctx.tenants.remote !== null;
  const tenants = ctx.tenants.list().map((tenant) => {
    let residentBytes = 0;
    let remoteBytes = 0;
    let layerCount = 0;
    for (const timeline of tenant.timelines()) {
      residentBytes += timeline.residentPhysicalSize();
      remoteBytes += timeline.remotePhysicalSize();
      layerCount += timeline.layers.historicCount;
    }
    return {
      tenantId: tenant.tenantId,
      residentBytes,
      remoteBytes: remoteStorage ? remoteBytes : null,
      layerCount,
      policy: tenant.config.evictionPolicy,
    };
  });
  return {
    utilization,
    capacityBytes,
    usedBytes,
    usagePct,
    thresholds,
    exceeded,
    residentBytes: tenants.reduce((sum, t) => sum + t.residentBytes, 0),
    remoteBytes: remoteStorage ? tenants.reduce((sum, t) => sum + (t.remoteBytes ?? 0), 0) : null,
    remoteStorage,
    tenants,
  };
}
