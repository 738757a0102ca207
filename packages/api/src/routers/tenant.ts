/**
 * Tenants: list, get (with the branch tree of its timelines and its config as overrides and
 * effective values), create, delete, and config changes. Creation is Neon's `location_config`
 * with mode AttachedSingle; unlike that idempotent call, `create` refuses an id that exists, so
 * an operator who mistypes an id does not silently reconfigure someone else's tenant.
 */
import {
  ConflictError,
  generateTenantId,
  INERT_KNOBS,
  type Tenant,
  tenantStateJson,
} from "@pageserver/engine";
import { z } from "zod";
import { tenantOf } from "../lookup.ts";
import { tenantConfigInput, tenantIdSchema, tenantInput } from "../schemas.ts";
import { publicProcedure, router } from "../trpc.ts";
import { type TimelineSummary, timelineSummary } from "../views/timeline_summary.ts";

export interface BranchNode {
  readonly timelineId: string;
  readonly ancestorLsn: number | null;
  readonly lastRecordLsn: number;
  readonly children: BranchNode[];
}

/** The timelines as a forest: roots are bootstrapped timelines, children sorted by branch LSN. */
export function branchTree(timelines: readonly TimelineSummary[]): BranchNode[] {
  const nodes = new Map<string, BranchNode>();
  for (const t of timelines)
    nodes.set(t.timelineId, {
      timelineId: t.timelineId,
      ancestorLsn: t.ancestorLsn,
      lastRecordLsn: t.lastRecordLsn,
      children: [],
    });
  const roots: BranchNode[] = [];
  for (const t of timelines) {
    const node = nodes.get(t.timelineId)!;
    const parent = t.ancestorTimelineId ? nodes.get(t.ancestorTimelineId) : undefined;
    (parent ? parent.children : roots).push(node);
  }
  const sort = (list: BranchNode[]): void => {
    list.sort((a, b) => (a.ancestorLsn ?? 0) - (b.ancestorLsn ?? 0));
    for (const node of list) sort(node.children);
  };
  sort(roots);
  return roots;
}

function tenantListItem(tenant: Tenant) {
  const timelines = tenant.timelines();
  const state = tenantStateJson(tenant.state);
  return {
    tenantId: tenant.tenantId,
    state: state.slug,
    brokenReason: tenant.state.slug === "Broken" ? tenant.state.reason : null,
    generation: tenant.generation,
    attachedAtMs: tenant.attachedAtMs,
    timelineCount: timelines.length,
    physicalSizeBytes: timelines.reduce((sum, t) => sum + t.physicalSize(), 0),
    layerCount: timelines.reduce((sum, t) => sum + t.layers.historicCount, 0),
  };
}

export const tenantRouter = router({
  list: publicProcedure.query(({ ctx }) =>
    ctx.tenants
      .list()
      .map(tenantListItem)
      .sort((a, b) => a.tenantId.localeCompare(b.tenantId)),
  ),

  get: publicProcedure.input(tenantInput).query(({ ctx, input }) => {
    const tenant = tenantOf(ctx, input);
    const timelines = tenant.timelines().map((timeline) => timelineSummary(tenant, timeline));
    return {
      ...tenantListItem(tenant),
      gcBlockedUntilMs: tenant.gcBlockedUntil,
      gcBlocking: tenant.gcBlocking,
      config: {
        overrides: tenant.configOverrides as Record<string, unknown>,
        effective: tenant.effectiveConfigJson(),
        inert: [...INERT_KNOBS] as string[],
      },
      timelines,
      branchTree: branchTree(timelines),
    };
  }),

  create: publicProcedure
    .input(
      z.object({
        tenantId: tenantIdSchema.optional(),
        config: tenantConfigInput.optional(),
      }),
    )
    .mutation(async ({ ctx, input }) => {
      const tenantId = input.tenantId ?? generateTenantId();
      if (ctx.tenants.tryGet(tenantId))
        throw new ConflictError(`tenant ${tenantId} already exists`, { tenantId });
      const tenant = await ctx.tenants.setLocation(tenantId, {
        mode: "AttachedSingle",
        tenantConf: input.config ?? {},
      });
      return tenantListItem(tenant!);
    }),

  delete: publicProcedure.input(tenantInput).mutation(async ({ ctx, input }) => {
    await ctx.tenants.delete(input.tenantId);
    return { tenantId: input.tenantId };
  }),

  /** Shuts the tenant down and loads it again; `dropCache` re-attaches it from remote storage. */
  reset: publicProcedure
    .input(tenantInput.extend({ dropCache: z.boolean().default(false) }))
    .mutation(async ({ ctx, input }) => {
      const tenant = await ctx.tenants.reset(input.tenantId, { dropCache: input.dropCache });
      return tenantListItem(tenant);
    }),

  /** Changes some overrides; a null value resets that knob to its default. */
  patchConfig: publicProcedure
    .input(z.object({ tenantId: tenantIdSchema, patch: tenantConfigInput }))
    .mutation(async ({ ctx, input }) => {
      const tenant = tenantOf(ctx, input);
      await tenant.patchConfig(input.patch);
      return {
        overrides: tenant.configOverrides as Record<string, unknown>,
        effective: tenant.effectiveConfigJson(),
      };
    }),

  /** Replaces every override (Neon's PUT /v1/tenant/config). */
  setConfig: publicProcedure
    .input(z.object({ tenantId: tenantIdSchema, config: tenantConfigInput }))
    .mutation(async ({ ctx, input }) => {
      const tenant = tenantOf(ctx, input);
      await tenant.setConfig(input.config);
      return {
        overrides: tenant.configOverrides as Record<string, unknown>,
        effective: tenant.effectiveConfigJson(),
      };
    }),
});
