/**
 * Neon's TimelineInfo JSON (reference §9) for one timeline. The logical size is computed from the
 * timeline's relation directories and cached per last_record_lsn (at most one computation per
 * second per timeline), so listing many timelines stays cheap.
 */
import {
  formatLsn,
  type IngestLoop,
  LSN_INVALID,
  type Lsn,
  logicalSize,
  type Tenant,
  type Timeline,
} from "@pageserver/engine";

interface LogicalSizeCache {
  lsn: Lsn;
  size: number;
  computedAtMs: number;
  pending: Promise<number> | null;
}

const logicalSizes = new WeakMap<Timeline, LogicalSizeCache>();

/** The logical size at last_record_lsn: cached per LSN, concurrent callers share one computation. */
export async function currentLogicalSize(timeline: Timeline): Promise<number> {
  let cache = logicalSizes.get(timeline);
  if (!cache) {
    cache = { lsn: LSN_INVALID, size: 0, computedAtMs: 0, pending: null };
    logicalSizes.set(timeline, cache);
  }
  const lsn = timeline.lastRecordLsn;
  if (cache.lsn === lsn && cache.computedAtMs > 0) return cache.size;
  if (cache.pending) return cache.pending;
  const entry = cache;
  entry.pending = logicalSize(timeline, lsn)
    .then((size) => {
      entry.size = size;
      entry.lsn = lsn;
      entry.computedAtMs = Date.now();
      return size;
    })
    .catch(() => entry.size)
    .finally(() => {
      entry.pending = null;
    });
  return entry.pending;
}

function stateJson(timeline: Timeline): unknown {
  const state = timeline.state;
  if (state.kind === "Broken") return { Broken: { reason: state.reason, backtrace: "" } };
  return state.kind;
}

function walReceiverFields(loop: IngestLoop | undefined): Record<string, unknown> {
  if (!loop) {
    return {
      wal_source_connstr: null,
      last_received_msg_lsn: null,
      last_received_msg_ts: null,
      walreceiver_status: "",
    };
  }
  const p = loop.progress;
  return {
    wal_source_connstr: null,
    last_received_msg_lsn: p.lastLsn === null ? null : formatLsn(p.lastLsn),
    last_received_msg_ts: p.lastBatchAtMs === null ? null : p.lastBatchAtMs * 1000,
    walreceiver_status: p.state === "streaming" ? "Connected" : p.state,
  };
}

export async function timelineInfo(
  tenant: Tenant,
  timeline: Timeline,
  remoteConsistentLsn: Lsn | null,
): Promise<Record<string, unknown>> {
  const planned = timeline.gc.plannedCutoff ?? LSN_INVALID;
  const applied = timeline.latestGcCutoffLsn;
  const loop = tenant.ingestLoop(timeline.timelineId);
  const physical = timeline.physicalSize();
  const remote = remoteConsistentLsn ?? LSN_INVALID;
  return {
    tenant_id: tenant.tenantId,
    timeline_id: timeline.timelineId,
    ancestor_timeline_id: timeline.ancestor?.timelineId ?? null,
    ancestor_lsn: timeline.ancestor ? formatLsn(timeline.ancestorLsn) : null,
    last_record_lsn: formatLsn(timeline.lastRecordLsn),
    prev_record_lsn: timeline.prevRecordLsn === null ? null : formatLsn(timeline.prevRecordLsn),
    latest_gc_cutoff_lsn: formatLsn(applied),
    applied_gc_cutoff_lsn: formatLsn(applied),
    min_readable_lsn: formatLsn((planned > applied ? planned : applied) as Lsn),
    disk_consistent_lsn: formatLsn(timeline.diskConsistentLsn),
    remote_consistent_lsn: formatLsn(remote),
    remote_consistent_lsn_visible: formatLsn(remote),
    initdb_lsn: formatLsn(timeline.initdbLsn),
    current_logical_size: await currentLogicalSize(timeline),
    current_logical_size_is_accurate: true,
    directory_entries_counts: [],
    current_physical_size: physical,
    current_logical_size_non_incremental: null,
    pitr_history_size: 0,
    within_ancestor_pitr: false,
    timeline_dir_layer_file_size_sum: timeline.residentPhysicalSize(),
    ...walReceiverFields(loop),
    pg_version: timeline.pgVersion,
    state: stateJson(timeline),
    is_archived: timeline.archivedAt !== null,
    rel_size_migration: "legacy",
    is_invisible: false,
    image_consistent_lsn: null,
    // Our extension: what feeds the timeline.
    wal_source: loop
      ? {
          description: loop.source.description,
          state: loop.progress.state,
          records: loop.progress.records,
          wal_bytes: loop.progress.walBytes,
          error: loop.progress.error,
        }
      : null,
  };
}
