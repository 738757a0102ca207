/**
 * Neon's TenantInfo JSON (`GET /v1/tenant`).
 */
import { type Tenant, tenantStateJson } from "@pageserver/engine";

export function tenantInfo(tenant: Tenant): Record<string, unknown> {
  let physical = 0;
  for (const timeline of tenant.timelines()) physical += timeline.physicalSize();
  return {
    id: tenant.tenantId,
    state: tenantStateJson(tenant.state),
    current_physical_size: physical,
    attachment_status: { slug: tenant.state.slug === "Broken" ? "failed" : "attached" },
    generation: tenant.generation ?? 0,
    // Neon omits it when nothing blocks GC.
    ...(tenant.gcBlocking === null ? {} : { gc_blocking: tenant.gcBlocking }),
  };
}
