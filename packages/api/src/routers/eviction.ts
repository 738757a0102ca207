/**
 * Eviction state: disk usage against the disk-usage-based eviction thresholds, resident and
 * remote bytes, and each tenant's layer-access-threshold policy (views/eviction_state.ts).
 */
import { publicProcedure, router } from "../trpc.ts";
import { evictionState } from "../views/eviction_state.ts";

export const evictionRouter = router({
  state: publicProcedure.query(({ ctx }) => evictionState(ctx)),
});
