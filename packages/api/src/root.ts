/**
 * The root router: merges the per-noun routers. `AppRouter` is the one type the console imports.
 */
import { nodeRouter } from "./routers/node.ts";
import { router } from "./trpc.ts";

export const appRouter = router({
  node: nodeRouter,
});

export type AppRouter = typeof appRouter;
