/**
 * Tenant routes of Neon's `/v1` API: list, detail, delete, reset, location_config, config.
 */
import { tenantInfo } from "@pageserver/api";
import type { Tenant, TenantId } from "@pageserver/engine";
import type { FastifyPluginAsync } from "fastify";
import { z } from "zod";
import type { PageserverContext } from "../../pageserver_context.ts";
import { parseWith, queryBool, tenantFromPath } from "../validation.ts";

const locationConfigBody = z
  .object({
    mode: z.enum(["AttachedSingle", "AttachedMulti", "AttachedStale", "Secondary", "Detached"]),
    generation: z.number().int().min(0).nullable().optional(),
    secondary_conf: z.unknown().optional(),
    shard_number: z.number().int().min(0).optional(),
    shard_count: z.number().int().min(0).max(1).optional(),
    shard_stripe_size: z.number().int().optional(),
    tenant_conf: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();

const configBody = z.object({ tenant_id: z.string() }).catchall(z.unknown());

export const tenantRoutes: FastifyPluginAsync<{ context: PageserverContext }> = async (
  app,
  { context },
) => {
  const { tenants } = context;
  const tenantOf = (params: unknown): Tenant =>
    tenants.get(tenantFromPath((params as { tenant_shard_id: string }).tenant_shard_id));

  app.get("/v1/tenant", async () => tenants.list().map(tenantInfo));

  app.get("/v1/tenant/:tenant_shard_id", async (request) => {
    const tenant = tenantOf(request.params);
    return {
      ...tenantInfo(tenant),
      walredo: null,
      timelines: tenant.timelines().map((t) => t.timelineId),
    };
  });

  app.delete("/v1/tenant/:tenant_shard_id", async (request, reply) => {
    const tenantId = tenantFromPath(
      (request.params as { tenant_shard_id: string }).tenant_shard_id,
    );
    await tenants.delete(tenantId);
    return reply.code(200).send(null);
  });

  // Shut down and load again (`drop_cache`: re-attach from remote storage); 200 null.
  app.post("/v1/tenant/:tenant_shard_id/reset", async (request) => {
    const tenantId = tenantFromPath(
      (request.params as { tenant_shard_id: string }).tenant_shard_id,
    );
    const query = parseWith(
      z.object({ drop_cache: queryBool.optional() }).strict(),
      request.query,
      "query",
    );
    await tenants.reset(tenantId, { dropCache: query.drop_cache ?? false });
    return null;
  });

  app.put("/v1/tenant/:tenant_shard_id/location_config", async (request) => {
    const tenantId: TenantId = tenantFromPath(
      (request.params as { tenant_shard_id: string }).tenant_shard_id,
    );
    const body = parseWith(locationConfigBody, request.body ?? {}, "location config");
    parseWith(
      z.object({ flush_ms: z.coerce.number().int().min(0).optional(), lazy: queryBool.optional() }),
      request.query,
      "query",
    );
    await tenants.setLocation(tenantId, {
      mode: body.mode,
      generation: body.generation ?? null,
      tenantConf: body.tenant_conf ?? {},
    });
    const shards =
      body.mode === "Detached" ? [] : [{ shard_id: tenantId, node_id: context.config.nodeId }];
    return { shards, stripe_size: null };
  });

  const locationOf = (tenant: Tenant) => ({
    mode: "AttachedSingle",
    generation: tenant.generation,
    secondary_conf: null,
    shard_number: 0,
    shard_count: 0,
    shard_stripe_size: 32768,
    tenant_conf: tenant.configOverrides,
  });

  app.get("/v1/location_config", async () => ({
    tenant_shards: tenants.list().map((tenant) => [tenant.tenantId, locationOf(tenant)]),
  }));

  app.get("/v1/location_config/:tenant_shard_id", async (request) =>
    locationOf(tenantOf(request.params)),
  );

  app.get("/v1/tenant/:tenant_shard_id/config", async (request) => {
    const tenant = tenantOf(request.params);
    return {
      tenant_specific_overrides: tenant.configOverrides,
      effective_config: tenant.effectiveConfigJson(),
    };
  });

  app.put("/v1/tenant/config", async (request) => {
    const { tenant_id, ...knobs } = parseWith(configBody, request.body ?? {}, "tenant config");
    await tenants.get(tenantFromPath(tenant_id)).setConfig(knobs);
    return null;
  });

  app.patch("/v1/tenant/config", async (request) => {
    const { tenant_id, ...knobs } = parseWith(configBody, request.body ?? {}, "tenant config");
    await tenants.get(tenantFromPath(tenant_id)).patchConfig(knobs);
    return null;
  });
};
