/**
 * Every LSN mark of a timeline, as numbers (exact: LSNs stay below 2^53), for the console's LSN
 * bar. In LSN order on a healthy timeline:
 *
 *     initdb ≤ ancestor (branch point) ≤ GC cutoff ≤ … leases, child branch points …
 *       ≤ remote_consistent ≤ disk_consistent ≤ last_record
 *
 * `minReadable` is the lowest LSN a read or a new branch may use (the higher of the applied and
 * the planned GC cutoff); leases below it are still honoured for branching.
 */

import type { Tenant, Timeline } from "@pageserver/engine";
import type { ApiContext } from "../context.ts";

export interface LsnMarks {
  readonly initdb: number;
  readonly ancestor: { readonly timelineId: string; readonly lsn: number } | null;
  readonly gcCutoff: number;
  readonly plannedGcCutoff: number | null;
  readonly minReadable: number;
  readonly leases: ReadonlyArray<{ readonly lsn: number; readonly validUntilMs: number }>;
  readonly children: ReadonlyArray<{ readonly timelineId: string; readonly lsn: number }>;
  readonly remoteConsistent: number | null;
  readonly diskConsistent: number;
  readonly lastRecord: number;
  readonly prevRecord: number | null;
}

export function lsnMarks(ctx: ApiContext, tenant: Tenant, timeline: Timeline): LsnMarks {
  const applied = timeline.latestGcCutoffLsn;
  const planned = timeline.gc.plannedCutoff;
  return {
    initdb: timeline.initdbLsn,
    ancestor: timeline.ancestor
      ? { timelineId: timeline.ancestor.timelineId, lsn: timeline.ancestorLsn }
      : null,
    gcCutoff: applied,
    plannedGcCutoff: planned,
    minReadable: planned !== null && planned > applied ? planned : applied,
    leases: timeline.gc.validLeases(),
    children: tenant
      .children(timeline.timelineId)
      .map((child) => ({ timelineId: child.timelineId, lsn: child.ancestorLsn }))
      .sort((a, b) => a.lsn - b.lsn),
    remoteConsistent: ctx.remoteConsistentLsn(timeline),
    diskConsistent: timeline.diskConsistentLsn,
    lastRecord: timeline.lastRecordLsn,
    prevRecord: timeline.prevRecordLsn,
  };
}
