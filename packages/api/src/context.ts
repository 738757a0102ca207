/**
 * What the tRPC router reads from the pageserver process. The pageserver builds one ApiContext
 * and mounts the router at `/trpc`; the console never sees this type, only `AppRouter`.
 */
import type { Lsn, TenantManager, Timeline } from "@pageserver/engine";
import type { LatencyRecorder } from "./telemetry/latency_recorder.ts";

export interface NodeUtilization {
  readonly disk_usage_bytes: number;
  readonly free_space_bytes: number;
  readonly disk_wanted_bytes: number;
  readonly disk_usable_pct: number;
  readonly shard_count: number;
  readonly max_shard_count: number;
  readonly utilization_score: number;
  readonly captured_at: string;
}

export interface NodeTask {
  readonly id: number;
  readonly kind: string;
  readonly name: string;
  readonly tenantId: string | null;
  readonly timelineId: string | null;
  readonly startedAtMs: number;
}

/** The pageserver's `disk_usage_based_eviction` section, resolved (null when not configured). */
export interface DiskUsageEvictionConfig {
  readonly enabled: boolean;
  readonly maxUsagePct: number;
  readonly minAvailBytes: number;
  readonly period: string;
}

export interface ApiContext {
  readonly nodeId: number;
  readonly startedAtMs: number;
  readonly listen: { readonly http: string; readonly pg: string };
  readonly tenants: TenantManager;
  readonly latency: LatencyRecorder;
  tasks(): NodeTask[];
  utilization(): Promise<NodeUtilization>;
  remoteConsistentLsn(timeline: Timeline): Lsn | null;
  /**
   * The disk-usage eviction thresholds. Optional: without it the eviction view reports usage but
   * no thresholds.
   */
  diskUsageEviction?(): DiskUsageEvictionConfig | null;
}
