/**
 * The root router: merges the per-noun routers. `AppRouter` is the one type the console imports.
 */
import { evictionRouter } from "./routers/eviction.ts";
import { ingestRouter } from "./routers/ingest.ts";
import { latencyRouter } from "./routers/latency.ts";
import { layerMapRouter } from "./routers/layer_map.ts";
import { levelsRouter } from "./routers/levels.ts";
import { nodeRouter } from "./routers/node.ts";
import { tenantRouter } from "./routers/tenant.ts";
import { timelineRouter } from "./routers/timeline.ts";
import { router } from "./trpc.ts";

export const appRouter = router({
  node: nodeRouter,
  tenant: tenantRouter,
  timeline: timelineRouter,
  layerMap: layerMapRouter,
  levels: levelsRouter,
  latency: latencyRouter,
  ingest: ingestRouter,
  eviction: evictionRouter,
});

export type AppRouter = typeof appRouter;
