/**
 * The compact description of a timeline the console lists (tenant page, branch tree): identity,
 * ancestry, the main LSNs, sizes, layer counts and what feeds it. Cheap: no logical size (that
 * needs reads; `timeline.get` has it).
 */
import type { FlushFailure, GcBlocking, Tenant, Timeline } from "@pageserver/engine";

export interface WalSourceSummary {
  readonly description: string;
  readonly state: string;
  readonly records: number;
  readonly walBytes: number;
  readonly error: string | null;
}

export interface TimelineSummary {
  readonly tenantId: string;
  readonly timelineId: string;
  readonly state: string;
  readonly brokenReason: string | null;
  readonly ancestorTimelineId: string | null;
  readonly ancestorLsn: number | null;
  readonly initdbLsn: number;
  readonly lastRecordLsn: number;
  readonly diskConsistentLsn: number;
  readonly gcCutoffLsn: number;
  readonly pgVersion: number;
  readonly physicalSizeBytes: number;
  readonly inMemoryBytes: number;
  readonly layerCount: number;
  readonly l0Count: number;
  readonly walSource: WalSourceSummary | null;
  /** Set while flushes fail (a full disk): ingest is held back until they succeed again. */
  readonly flushFailure: FlushFailure | null;
  /** This timeline's GC block (Neon's gc_blocking), if it holds one. */
  readonly gcBlocking: GcBlocking | null;
  /** When the timeline was archived (Neon's archived_at), or null. */
  readonly archivedAt: string | null;
}

export function walSourceSummary(tenant: Tenant, timeline: Timeline): WalSourceSummary | null {
  const loop = tenant.ingestLoop(timeline.timelineId);
  if (!loop) return null;
  const p = loop.progress;
  return {
    description: loop.source.description,
    state: p.state,
    records: p.records,
    walBytes: p.walBytes,
    error: p.error,
  };
}

export function timelineSummary(tenant: Tenant, timeline: Timeline): TimelineSummary {
  const state = timeline.state;
  return {
    tenantId: tenant.tenantId,
    timelineId: timeline.timelineId,
    state: state.kind,
    brokenReason: state.kind === "Broken" ? state.reason : null,
    ancestorTimelineId: timeline.ancestor?.timelineId ?? null,
    ancestorLsn: timeline.ancestor ? timeline.ancestorLsn : null,
    initdbLsn: timeline.initdbLsn,
    lastRecordLsn: timeline.lastRecordLsn,
    diskConsistentLsn: timeline.diskConsistentLsn,
    gcCutoffLsn: timeline.latestGcCutoffLsn,
    pgVersion: timeline.pgVersion,
    physicalSizeBytes: timeline.physicalSize(),
    inMemoryBytes: timeline.ephemeralBytes(),
    layerCount: timeline.layers.historicCount,
    l0Count: timeline.layers.l0Layers().length,
    walSource: walSourceSummary(tenant, timeline),
    flushFailure: timeline.flushFailure,
    gcBlocking: timeline.gcBlocking,
    archivedAt: timeline.archivedAt,
  };
}
