/**
 * Finding the tenant and timeline a procedure's input names. Both throw the engine's
 * NotFoundError ("tenant … not found"), which reaches the client as NOT_FOUND with that message.
 */
import type { Tenant, TenantId, Timeline, TimelineId } from "@pageserver/engine";
import type { ApiContext } from "./context.ts";

export function tenantOf(ctx: ApiContext, input: { tenantId: TenantId }): Tenant {
  return ctx.tenants.get(input.tenantId);
}

export function timelineOf(
  ctx: ApiContext,
  input: { tenantId: TenantId; timelineId: TimelineId },
): { tenant: Tenant; timeline: Timeline } {
  const tenant = ctx.tenants.get(input.tenantId);
  return { tenant, timeline: tenant.getTimeline(input.timelineId) };
}
