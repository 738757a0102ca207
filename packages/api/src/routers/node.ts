/**
 * The node: identity, health, utilization and running tasks.
 */
import { publicProcedure, router } from "../trpc.ts";

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
  tasks: publicProcedure.query(({ ctx }) => ctx.tasks()),
});
