/**
 * Ingest rate: WAL bytes (LSN distance) and records per second, sampled once a second per
 * timeline by the API's sampler (telemetry/ingest_sampler.ts, started on first use).
 */
import { z } from "zod";
import { timelineOf } from "../lookup.ts";
import { timelineInput } from "../schemas.ts";
import { INGEST_HISTORY_SECONDS, ingestSampler } from "../telemetry/ingest_sampler.ts";
import { publicProcedure, router } from "../trpc.ts";

export const ingestRouter = router({
  /** Per-second points for one timeline, oldest first. */
  rate: publicProcedure
    .input(
      timelineInput.extend({
        seconds: z.number().int().min(1).max(INGEST_HISTORY_SECONDS).default(120),
      }),
    )
    .query(({ ctx, input }) => {
      const { tenant, timeline } = timelineOf(ctx, input);
      const sampler = ingestSampler(ctx.tenants);
      return {
        current: sampler.current(tenant.tenantId, timeline.timelineId),
        points: sampler.series(tenant.tenantId, timeline.timelineId, input.seconds),
      };
    }),

  /** The current rate of every timeline of the node. */
  node: publicProcedure.query(({ ctx }) => {
    const sampler = ingestSampler(ctx.tenants);
    return ctx.tenants.list().flatMap((tenant) =>
      tenant.timelines().map((timeline) => ({
        tenantId: tenant.tenantId,
        timelineId: timeline.timelineId,
        ...sampler.current(tenant.tenantId, timeline.timelineId),
      })),
    );
  }),
});
