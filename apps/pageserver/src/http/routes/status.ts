/**
 * Node-level routes: status, utilization, metrics, failpoints, the task list.
 */
import { statfs } from "node:fs/promises";
import {
  configureFailpoint,
  evictBytes,
  listFailpoints,
  parseFailpointAction,
} from "@pageserver/engine";
import type { FastifyPluginAsync } from "fastify";
import { z } from "zod";
import type { PageserverContext } from "../../pageserver_context.ts";
import { parseWith } from "../validation.ts";

const UTILIZATION_CACHE_MS = 1000;

export interface Utilization {
  disk_usage_bytes: number;
  free_space_bytes: number;
  disk_wanted_bytes: number;
  disk_usable_pct: number;
  shard_count: number;
  max_shard_count: number;
  utilization_score: number;
  captured_at: string;
}

/** Neon's utilization: disk usage of the workdir's file system and the tenant count. */
export async function measureUtilization(context: PageserverContext): Promise<Utilization> {
  const stats = await statfs(context.config.workdir);
  const capacity =
    context.config.diskUsageBasedEviction?.disk_capacity_bytes ?? stats.blocks * stats.bsize;
  let resident = 0;
  for (const tenant of context.tenants.list())
    for (const timeline of tenant.timelines()) resident += timeline.residentPhysicalSize();
  const usedOnDisk = (stats.blocks - stats.bfree) * stats.bsize;
  const used = context.config.diskUsageBasedEviction?.disk_capacity_bytes ? resident : usedOnDisk;
  const free = Math.max(0, capacity - used);
  const maxShards = 20_000;
  const shards = context.tenants.list().length;
  return {
    disk_usage_bytes: used,
    free_space_bytes: free,
    disk_wanted_bytes: resident,
    disk_usable_pct: 100,
    shard_count: shards,
    max_shard_count: maxShards,
    utilization_score: Math.round((shards / maxShards) * 1_000_000),
    captured_at: new Date().toISOString(),
  };
}

export const statusRoutes: FastifyPluginAsync<{ context: PageserverContext }> = async (
  app,
  { context },
) => {
  let cached: { at: number; value: Utilization } | null = null;

  app.get("/v1/status", async () => ({ id: context.config.nodeId }));

  app.get("/v1/utilization", async () => {
    if (!cached || Date.now() - cached.at > UTILIZATION_CACHE_MS)
      cached = { at: Date.now(), value: await measureUtilization(context) };
    return cached.value;
  });

  app.get("/metrics", async (_request, reply) => {
    reply.header("content-type", context.metrics.registry.contentType);
    return context.metrics.render();
  });

  app.get("/v1/failpoints", async () => listFailpoints());

  app.put("/v1/failpoints", async (request) => {
    const body = parseWith(
      z.array(z.object({ name: z.string().min(1), actions: z.string() }).strict()),
      request.body ?? [],
      "failpoints",
    );
    for (const { name, actions } of body) configureFailpoint(name, parseFailpointAction(actions));
    context.log.info({ failpoints: body }, "failpoints configured");
    return null;
  });

  app.get("/v1/tasks", async () => context.tasks.list());

  app.put("/v1/disk_usage_eviction/run", async (request) => {
    const body = parseWith(
      z.object({ evict_bytes: z.number().int().min(0) }).passthrough(),
      request.body ?? {},
      "eviction request",
    );
    const result = await evictBytes(context.tenants.list(), body.evict_bytes);
    return {
      requested_bytes: result.requestedBytes,
      evicted_layers: result.evictedLayers,
      evicted_bytes: result.evictedBytes,
      partitions: result.partitions,
    };
  });

  app.put("/v1/deletion_queue/flush", async () => {
    await context.deletionQueue?.flush();
    return null;
  });
};
