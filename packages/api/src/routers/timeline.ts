/**
 * Timelines: list, get (every LSN mark, leases included), create or branch, delete, and the
 * operations an operator triggers by hand — checkpoint, compaction, GC, an LSN lease, attaching
 * and detaching the built-in WAL generator — plus `watch`, the live SSE feed of one timeline.
 * Each mutation answers with what it did (a compaction's steps, a GC's counts and cutoffs), which
 * the console shows next to the button.
 */
import { applyArchivalState, generateTimelineId, InvalidArgumentError } from "@pageserver/engine";
import { z } from "zod";
import type { ApiContext } from "../context.ts";
import { watchTimeline } from "../live/timeline_watch.ts";
import { tenantOf, timelineOf } from "../lookup.ts";
import { checkLeasable } from "../operations/timeline_operations.ts";
import {
  generatorParamsInput,
  lsnSchema,
  tenantIdSchema,
  tenantInput,
  timelineIdSchema,
  timelineInput,
} from "../schemas.ts";
import { publicProcedure, router } from "../trpc.ts";
import { inMemoryRows } from "../views/layer_snapshot.ts";
import { lsnMarks } from "../views/lsn_marks.ts";
import { currentLogicalSize } from "../views/timeline_info.ts";
import { timelineSummary, walSourceSummary } from "../views/timeline_summary.ts";

/** GC result rows kept in an answer: names of removed layers beyond this are counted only. */
const GC_REMOVED_NAMES_MAX = 200;

function timelineDetail(ctx: ApiContext, input: z.output<typeof timelineInput>) {
  const { tenant, timeline } = timelineOf(ctx, input);
  return { tenant, timeline, summary: timelineSummary(tenant, timeline) };
}

export const timelineRouter = router({
  list: publicProcedure.input(tenantInput).query(({ ctx, input }) => {
    const tenant = tenantOf(ctx, input);
    return tenant.timelines().map((timeline) => timelineSummary(tenant, timeline));
  }),

  get: publicProcedure.input(timelineInput).query(async ({ ctx, input }) => {
    const { tenant, timeline, summary } = timelineDetail(ctx, input);
    const config = timeline.config;
    return {
      ...summary,
      marks: lsnMarks(ctx, tenant, timeline),
      inMemory: inMemoryRows(timeline),
      logicalSizeBytes: await currentLogicalSize(timeline),
      config: {
        checkpointDistanceBytes: config.checkpointDistanceBytes,
        compactionThreshold: config.compactionThreshold,
        compactionAlgorithm: config.compactionAlgorithm,
        gcHorizonBytes: config.gcHorizonBytes,
        pitrIntervalMs: config.pitrIntervalMs,
        lsnLeaseLengthMs: config.lsnLeaseLengthMs,
      },
    };
  }),

  /** Bootstraps an empty timeline, or branches `ancestorTimelineId` at `ancestorStartLsn`. */
  create: publicProcedure
    .input(
      z.object({
        tenantId: tenantIdSchema,
        timelineId: timelineIdSchema.optional(),
        ancestorTimelineId: timelineIdSchema.nullish(),
        ancestorStartLsn: lsnSchema.nullish(),
        pgVersion: z.number().int().min(14).max(17).nullish(),
      }),
    )
    .mutation(async ({ ctx, input }) => {
      const tenant = tenantOf(ctx, input);
      if (input.ancestorStartLsn != null && input.ancestorTimelineId == null)
        throw new InvalidArgumentError(
          "ancestorStartLsn needs an ancestorTimelineId to branch from",
        );
      const { timeline, created } = await tenant.createTimeline({
        newTimelineId: input.timelineId ?? generateTimelineId(),
        ancestorTimelineId: input.ancestorTimelineId ?? null,
        ancestorStartLsn: input.ancestorStartLsn ?? null,
        pgVersion: input.pgVersion ?? null,
      });
      return { created, ...timelineSummary(tenant, timeline) };
    }),

  delete: publicProcedure.input(timelineInput).mutation(async ({ ctx, input }) => {
    const { tenant, timeline } = timelineOf(ctx, input);
    await tenant.deleteTimeline(timeline.timelineId);
    ctx.latency.forget(tenant.tenantId, timeline.timelineId);
    return { tenantId: tenant.tenantId, timelineId: timeline.timelineId };
  }),

  /** Freezes the open layer and waits until it is on disk; optionally compacts afterwards. */
  checkpoint: publicProcedure
    .input(timelineInput.extend({ compact: z.boolean().default(false) }))
    .mutation(async ({ ctx, input }) => {
      const { tenant, timeline } = timelineOf(ctx, input);
      const started = performance.now();
      await timeline.checkpoint();
      const run = input.compact ? await tenant.compact(timeline.timelineId, {}) : null;
      return {
        diskConsistentLsn: timeline.diskConsistentLsn,
        durationMs: performance.now() - started,
        compaction: run,
      };
    }),

  compact: publicProcedure
    .input(
      timelineInput.extend({
        forceL0Compaction: z.boolean().default(false),
        forceImageLayerCreation: z.boolean().default(false),
        forceRepartition: z.boolean().default(false),
      }),
    )
    .mutation(async ({ ctx, input }) => {
      const { tenant, timeline } = timelineOf(ctx, input);
      const run = await tenant.compact(timeline.timelineId, {
        forceL0Compaction: input.forceL0Compaction,
        forceImageLayerCreation: input.forceImageLayerCreation,
        forceRepartition: input.forceRepartition,
      });
      return { ...run, steps: [...run.steps] };
    }),

  /** GC now; `horizonBytes` overrides gc_horizon for this run (0 = up to last_record_lsn). */
  gc: publicProcedure
    .input(timelineInput.extend({ horizonBytes: z.number().int().min(0).nullish() }))
    .mutation(async ({ ctx, input }) => {
      const { tenant, timeline } = timelineOf(ctx, input);
      const result = await tenant.gc(timeline.timelineId, input.horizonBytes ?? null);
      const retainedByReason: Record<string, number> = {};
      for (const reason of Object.values(result.retained))
        retainedByReason[reason] = (retainedByReason[reason] ?? 0) + 1;
      return {
        layersTotal: result.layers_total,
        layersRemoved: result.layers_removed,
        retainedByReason,
        removed: result.removed.slice(0, GC_REMOVED_NAMES_MAX),
        spaceCutoff: result.space_cutoff as number,
        timeCutoff: result.time_cutoff as number,
        newCutoff: result.new_cutoff as number,
        elapsedMs: result.elapsed,
      };
    }),

  /** Promises not to GC the history at `lsn` for the tenant's lsn_lease_length. */
  leaseLsn: publicProcedure
    .input(timelineInput.extend({ lsn: lsnSchema }))
    .mutation(({ ctx, input }) => {
      const { tenant, timeline } = timelineOf(ctx, input);
      checkLeasable(timeline, input.lsn);
      const validUntilMs = timeline.gc.lease(input.lsn, tenant.config.lsnLeaseLengthMs);
      return { lsn: input.lsn as number, validUntilMs };
    }),

  /** Archives (children first) or unarchives (ancestor first) the timeline. */
  setArchived: publicProcedure
    .input(timelineInput.extend({ archived: z.boolean() }))
    .mutation(async ({ ctx, input }) => {
      const { tenant, timeline } = timelineOf(ctx, input);
      const changed = await applyArchivalState(
        timeline,
        tenant.children(timeline.timelineId),
        input.archived ? "Archived" : "Unarchived",
      );
      return { changed, archivedAt: timeline.archivedAt };
    }),

  /** Blocks GC of the whole tenant (reason Manual), or lifts this timeline's block. */
  setGcBlock: publicProcedure
    .input(timelineInput.extend({ block: z.boolean() }))
    .mutation(async ({ ctx, input }) => {
      const { tenant, timeline } = timelineOf(ctx, input);
      const changed = await timeline.setGcBlock("Manual", input.block);
      return { changed, blocking: timeline.gcBlocking, tenantGcBlocking: tenant.gcBlocking };
    }),

  /**
   * Starts downloading every evicted layer in the background (Neon's download_remote_layers);
   * `started: false` with the running task's progress when one runs already.
   */
  downloadRemoteLayers: publicProcedure
    .input(timelineInput.extend({ maxConcurrentDownloads: z.number().int().min(1).max(1024) }))
    .mutation(({ ctx, input }) => {
      const { timeline } = timelineOf(ctx, input);
      const { started, task } = timeline.downloadAllRemoteLayers(input.maxConcurrentDownloads);
      return { started, ...task.info };
    }),

  /** Attaches the built-in WAL generator (replacing any source), starting after last_record_lsn. */
  attachGenerator: publicProcedure
    .input(timelineInput.extend({ params: generatorParamsInput }))
    .mutation(async ({ ctx, input }) => {
      const { tenant, timeline } = timelineOf(ctx, input);
      // The parsed params include every default (start_time_ms too): persisted as they are, a
      // restart replays exactly the same WAL.
      await tenant.attachWalSource(timeline.timelineId, {
        kind: "generator",
        params: input.params,
      });
      return walSourceSummary(tenant, timeline)!;
    }),

  detachGenerator: publicProcedure.input(timelineInput).mutation(async ({ ctx, input }) => {
    const { tenant, timeline } = timelineOf(ctx, input);
    await tenant.detachWalSource(timeline.timelineId);
    return { detached: true };
  }),

  /** The live feed of one timeline (SSE); see live/timeline_watch.ts. */
  watch: publicProcedure
    .input(timelineInput)
    .subscription(({ ctx, input, signal }) => watchTimeline(ctx, input, signal)),
});
