/**
 * GetPage (smgr) latency from the pageserver's own recorder — the same observations as the
 * `pageserver_smgr_query_seconds` metric — as a histogram with p50/p99/mean since start and as a
 * per-second time series of the last minutes, filtered by tenant, timeline and query type.
 */
import { z } from "zod";
import { latencyFilterInput, SMGR_QUERY_TYPES } from "../schemas.ts";
import { LATENCY_HISTORY_SECONDS } from "../telemetry/latency_recorder.ts";
import { publicProcedure, router } from "../trpc.ts";

export const latencyRouter = router({
  queryTypes: publicProcedure.query(() => [...SMGR_QUERY_TYPES]),

  histogram: publicProcedure.input(latencyFilterInput).query(({ ctx, input }) => {
    const histogram = ctx.latency.histogram(input);
    // Trim empty buckets at both ends: the chart shows the populated range.
    let first = histogram.counts.findIndex((count) => count > 0);
    let last = histogram.counts.findLastIndex((count) => count > 0);
    if (first === -1) first = last = 0;
    return {
      ...histogram,
      buckets: histogram.counts.slice(first, last + 1).map((count, i) => ({
        upperBoundSeconds: histogram.upperBoundsSeconds[first + i]!,
        count,
      })),
    };
  }),

  timeSeries: publicProcedure
    .input(
      latencyFilterInput.extend({
        seconds: z.number().int().min(1).max(LATENCY_HISTORY_SECONDS).default(120),
      }),
    )
    .query(({ ctx, input }) => {
      const { seconds, ...filter } = input;
      return ctx.latency.timeSeries(filter, seconds);
    }),
});
