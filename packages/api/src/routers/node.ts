/**
 * The node: identity, health, utilization, running tasks, and `overview` — everything the fleet
 * page shows for one pageserver in one call (counts, disk against eviction thresholds, GetPage
 * p50/p99, ingest rate), so a fleet of N nodes costs N requests per refresh.
 */
import { ingestSampler } from "../telemetry/ingest_sampler.ts";
import { publicProcedure, router } from "../trpc.ts";
import { evictionState } from "../views/eviction_state.ts";

export const nodeRouter = router({
  status: publicProcedure.query(async ({ ctx }) => {
    const tenants = ctx.tenants.list();
    return {
      nodeId: ctx.nodeId,
      startedAtMs: ctx.startedAtMs,
      uptimeMs: Date.now() - ctx.startedAtMs,
      listen: ctx.listen,
      tenantCount: tenants.length,
      timelineCount: tenants.reduce((sum, t) => sum + t.timelines().length, 0),
      utilization: await ctx.utilization(),
    };
  }),

  utilization: publicProcedure.query(({ ctx }) => ctx.utilization()),

  tasks: publicProcedure.query(({ ctx }) => ctx.tasks()),

  overview: publicProcedure.query(async ({ ctx }) => {
    const tenants = ctx.tenants.list();
    const sampler = ingestSampler(ctx.tenants);
    let timelineCount = 0;
    let layerCount = 0;
    let walBytesPerSecond = 0;
    let recordsPerSecond = 0;
    for (const tenant of tenants) {
      for (const timeline of tenant.timelines()) {
        timelineCount++;
        layerCount += timeline.layers.historicCount;
        const rate = sampler.current(tenant.tenantId, timeline.timelineId);
        walBytesPerSecond += rate.walBytesPerSecond;
        recordsPerSecond += rate.recordsPerSecond;
      }
    }
    const getPage = ctx.latency.histogram({ queryType: "get_page_at_lsn" });
    const eviction = await evictionState(ctx);
    return {
      nodeId: ctx.nodeId,
      startedAtMs: ctx.startedAtMs,
      uptimeMs: Date.now() - ctx.startedAtMs,
      listen: ctx.listen,
      tenantCount: tenants.length,
      brokenTenantCount: tenants.filter((t) => t.state.slug === "Broken").length,
      timelineCount,
      layerCount,
      taskCount: ctx.tasks().length,
      disk: {
        usedBytes: eviction.usedBytes,
        capacityBytes: eviction.capacityBytes,
        usagePct: eviction.usagePct,
        residentBytes: eviction.residentBytes,
        thresholds: eviction.thresholds,
        exceeded: eviction.exceeded,
      },
      getPage: {
        count: getPage.count,
        p50Seconds: getPage.p50Seconds,
        p99Seconds: getPage.p99Seconds,
        meanSeconds: getPage.meanSeconds,
      },
      ingest: { walBytesPerSecond, recordsPerSecond },
    };
  }),
});
