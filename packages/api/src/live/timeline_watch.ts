/**
 * The live feed of one timeline (the console's timeline page holds exactly one such stream, so
 * a page costs one SSE connection whatever it shows): each event carries the LSN marks, the
 * in-memory layers, the layer-map changes since the previous event, the GetPage latency of the
 * last complete second and the ingest rate. Events come at least once a second and soon after a
 * flush, compaction, GC or LSN advance (at most 4 a second).
 */
import { tracked } from "@trpc/server";
import type { ApiContext } from "../context.ts";
import { timelineOf } from "../lookup.ts";
import { type IngestPoint, ingestSampler } from "../telemetry/ingest_sampler.ts";
import type { LatencyPoint } from "../telemetry/latency_recorder.ts";
import { type InMemoryRow, inMemoryRows } from "../views/layer_snapshot.ts";
import { type LsnMarks, lsnMarks } from "../views/lsn_marks.ts";
import { type TimelineSummary, timelineSummary } from "../views/timeline_summary.ts";
import { type LayerChanges, LayerChangeTracker } from "./layer_changes.ts";
import { ticks } from "./ticks.ts";

export const WATCH_PERIOD_MS = 1000;
export const WATCH_MIN_GAP_MS = 250;

export interface TimelineWatchEvent {
  readonly sequence: number;
  readonly atMs: number;
  readonly summary: TimelineSummary;
  readonly marks: LsnMarks;
  readonly inMemory: InMemoryRow[];
  readonly layers: LayerChanges;
  /** GetPage latency of the last complete second on this timeline (all smgr query types). */
  readonly latency: LatencyPoint | null;
  readonly ingest: IngestPoint;
}

export async function* watchTimeline(
  ctx: ApiContext,
  input: Parameters<typeof timelineOf>[1],
  signal: AbortSignal | undefined,
) {
  const { tenant, timeline } = timelineOf(ctx, input);
  const tracker = new LayerChangeTracker();
  const sampler = ingestSampler(ctx.tenants);
  const streamId = Date.now().toString(36);
  const stream = ticks({
    signal,
    periodMs: WATCH_PERIOD_MS,
    minGapMs: WATCH_MIN_GAP_MS,
    subscribe: (wake) =>
      timeline.events.subscribe({ lsn: wake, layers: wake, flush: wake, run: wake, state: wake }),
  });
  for await (const sequence of stream) {
    // The timeline may have been deleted since: this throws NotFoundError to the client.
    timelineOf(ctx, input);
    const nowMs = Date.now();
    const series = ctx.latency.timeSeries(
      { tenantId: tenant.tenantId, timelineId: timeline.timelineId },
      2,
      nowMs,
    );
    const event: TimelineWatchEvent = {
      sequence,
      atMs: nowMs,
      summary: timelineSummary(tenant, timeline),
      marks: lsnMarks(ctx, tenant, timeline),
      inMemory: inMemoryRows(timeline),
      layers: tracker.next(tenant, timeline),
      latency: series[0] ?? null,
      ingest: sampler.current(tenant.tenantId, timeline.timelineId),
    };
    yield tracked(`${streamId}-${sequence}`, event);
  }
}
