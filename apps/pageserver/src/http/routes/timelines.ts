/**
 * Timeline routes of Neon's `/v1` API, plus our extensions (documented in the README):
 * `…/wal_source` (attach the built-in WAL generator) and `…/levels` (compaction levels).
 */

import { statSync } from "node:fs";
import {
  checkLeasable,
  downloadLayerOnRequest,
  evictLayerOnRequest,
  layerByName,
  layerMapInfo,
  timelineInfo,
} from "@pageserver/api";
import {
  applyArchivalState,
  ConflictError,
  collectKeyspace,
  findLsnForTimestamp,
  formatKey,
  formatLsn,
  InvalidArgumentError,
  identifyLevels,
  importDatadir,
  type Lsn,
  NotFoundError,
  type Tenant,
  type Timeline,
} from "@pageserver/engine";
import type { FastifyPluginAsync } from "fastify";
import { z } from "zod";
import type { PageserverContext } from "../../pageserver_context.ts";
import {
  keySchema,
  lsnSchema,
  parseWith,
  queryBool,
  tenantFromPath,
  timelineFromPath,
  timelineIdSchema,
} from "../validation.ts";

interface TimelineParams {
  tenant_shard_id: string;
  timeline_id: string;
}

const createBody = z
  .object({
    new_timeline_id: timelineIdSchema,
    ancestor_timeline_id: timelineIdSchema.nullable().optional(),
    ancestor_start_lsn: lsnSchema.nullable().optional(),
    pg_version: z.number().int().min(14).max(17).nullable().optional(),
    read_only: z.boolean().optional(),
    existing_initdb_timeline_id: timelineIdSchema.nullable().optional(),
    mode: z.unknown().optional(),
    // Neon's import mode. Only a local location is served: a data directory or a tar of one.
    import_pgdata: z
      .object({
        idempotency_key: z.string().min(1).optional(),
        location: z.union([
          z.object({ LocalFs: z.object({ path: z.string().min(1) }) }).strict(),
          z.object({ AwsS3: z.unknown() }).strict(),
        ]),
      })
      .optional(),
  })
  .strict();

const compactQuery = z.object({
  force_l0_compaction: queryBool.optional(),
  force_repartition: queryBool.optional(),
  force_image_layer_creation: queryBool.optional(),
  enhanced_gc_bottom_most_compaction: queryBool.optional(),
  dry_run: queryBool.optional(),
  wait_until_uploaded: queryBool.optional(),
  wait_until_scheduled_compaction_done: queryBool.optional(),
  compact: queryBool.optional(),
  wait_until_flushed: queryBool.optional(),
});

const archivalConfigBody = z.object({ state: z.enum(["Archived", "Unarchived"]) });

const downloadRemoteLayersBody = z.object({
  max_concurrent_downloads: z.number().int().min(1).max(1024),
});

const walSourceBody = z
  .object({ kind: z.literal("generator"), params: z.record(z.string(), z.unknown()).default({}) })
  .strict();

function toRfc3339(ms: number): string {
  return new Date(ms).toISOString();
}

export const timelineRoutes: FastifyPluginAsync<{ context: PageserverContext }> = async (
  app,
  { context },
) => {
  const { tenants } = context;
  const tenantOf = (params: unknown): Tenant =>
    tenants.get(tenantFromPath((params as TimelineParams).tenant_shard_id));
  const resolve = (params: unknown): { tenant: Tenant; timeline: Timeline } => {
    const tenant = tenantOf(params);
    return {
      tenant,
      timeline: tenant.getTimeline(timelineFromPath((params as TimelineParams).timeline_id)),
    };
  };
  const info = (tenant: Tenant, timeline: Timeline) =>
    timelineInfo(tenant, timeline, context.remoteConsistentLsn(timeline));

  /**
   * A timeline bootstrapped from a PostgreSQL 15 data directory (or a tar of one) on this host:
   * created empty, filled at pg_control's checkpoint LSN, durable before the answer. A failed
   * import leaves no timeline behind.
   */
  const importTimeline = async (tenant: Tenant, body: z.output<typeof createBody>) => {
    const location = body.import_pgdata!.location;
    if (!("LocalFs" in location))
      throw new InvalidArgumentError(
        "import_pgdata: only a LocalFs location (a data directory or a tar of one on this host) is supported",
      );
    if (body.ancestor_timeline_id)
      throw new InvalidArgumentError("import_pgdata: an imported timeline has no ancestor");
    if (tenant.timelines().some((t) => t.timelineId === body.new_timeline_id))
      throw new ConflictError(`timeline ${body.new_timeline_id} already exists`);
    const source = location.LocalFs.path;
    let isDirectory: boolean;
    try {
      isDirectory = statSync(source).isDirectory();
    } catch (error) {
      throw new InvalidArgumentError(
        `import_pgdata: cannot read ${source}: ${(error as Error).message}`,
      );
    }
    const { timeline } = await tenant.createTimeline({
      newTimelineId: body.new_timeline_id,
      pgVersion: body.pg_version ?? null,
    });
    try {
      const result = await importDatadir(
        timeline,
        isDirectory ? { directory: source } : { tarFile: source },
      );
      timeline.log.info(
        { ...result, skippedFiles: undefined, source },
        "imported a PostgreSQL data directory",
      );
    } catch (error) {
      await tenant.deleteTimeline(timeline.timelineId).catch(() => {});
      throw error;
    }
    return info(tenant, timeline);
  };

  app.get("/v1/tenant/:tenant_shard_id/timeline", async (request) => {
    const tenant = tenantOf(request.params);
    return Promise.all(tenant.timelines().map((timeline) => info(tenant, timeline)));
  });

  app.post("/v1/tenant/:tenant_shard_id/timeline", async (request, reply) => {
    const tenant = tenantOf(request.params);
    const body = parseWith(createBody, request.body ?? {}, "timeline create request");
    if (body.import_pgdata) return reply.code(201).send(await importTimeline(tenant, body));
    const { timeline } = await tenant.createTimeline({
      newTimelineId: body.new_timeline_id,
      ancestorTimelineId: body.ancestor_timeline_id ?? null,
      ancestorStartLsn: body.ancestor_start_lsn ?? null,
      pgVersion: body.pg_version ?? null,
    });
    return reply.code(201).send(await info(tenant, timeline));
  });

  app.get("/v1/tenant/:tenant_shard_id/timeline/:timeline_id", async (request) => {
    const { tenant, timeline } = resolve(request.params);
    return info(tenant, timeline);
  });

  app.delete("/v1/tenant/:tenant_shard_id/timeline/:timeline_id", async (request, reply) => {
    const { tenant, timeline } = resolve(request.params);
    await tenant.deleteTimeline(timeline.timelineId);
    context.metrics.forgetTimeline(tenant.tenantId, timeline.timelineId);
    return reply.code(202).send(null);
  });

  app.get(
    "/v1/tenant/:tenant_shard_id/timeline/:timeline_id/get_lsn_by_timestamp",
    async (request) => {
      const { tenant, timeline } = resolve(request.params);
      const query = parseWith(
        z.object({
          timestamp: z.string().datetime({ offset: true }),
          with_lease: queryBool.optional(),
        }),
        request.query,
        "query",
      );
      const found = await findLsnForTimestamp(timeline, Date.parse(query.timestamp));
      const result: Record<string, unknown> = { lsn: formatLsn(found.lsn), kind: found.kind };
      if (query.with_lease) {
        result.valid_until = toRfc3339(
          timeline.gc.lease(found.lsn, tenant.config.lsnLeaseLengthForTsMs),
        );
      }
      return result;
    },
  );

  app.post("/v1/tenant/:tenant_shard_id/timeline/:timeline_id/lsn_lease", async (request) => {
    const { tenant, timeline } = resolve(request.params);
    const { lsn } = parseWith(
      z.object({ lsn: lsnSchema }).strict(),
      request.body ?? {},
      "lease request",
    );
    checkLeasable(timeline, lsn);
    return { valid_until: toRfc3339(timeline.gc.lease(lsn, tenant.config.lsnLeaseLengthMs)) };
  });

  app.put("/v1/tenant/:tenant_shard_id/timeline/:timeline_id/do_gc", async (request) => {
    const { tenant, timeline } = resolve(request.params);
    const body = parseWith(
      z.object({ gc_horizon: z.number().int().min(0).nullable().optional() }).strict(),
      request.body ?? {},
      "gc request",
    );
    const started = performance.now();
    const result = await tenant.gc(timeline.timelineId, body.gc_horizon ?? null);
    context.metrics.observeStorageOperation(
      "gc",
      tenant.tenantId,
      timeline.timelineId,
      (performance.now() - started) / 1000,
    );
    return {
      ...result,
      space_cutoff: formatLsn(result.space_cutoff),
      time_cutoff: formatLsn(result.time_cutoff),
      new_cutoff: formatLsn(result.new_cutoff),
    };
  });

  app.put("/v1/tenant/:tenant_shard_id/timeline/:timeline_id/compact", async (request) => {
    const { tenant, timeline } = resolve(request.params);
    const query = parseWith(compactQuery, request.query, "query");
    if (query.dry_run) return null;
    const run = await tenant.compact(timeline.timelineId, {
      forceL0Compaction: query.force_l0_compaction ?? false,
      forceImageLayerCreation: query.force_image_layer_creation ?? false,
      forceRepartition: query.force_repartition ?? false,
    });
    context.metrics.observeStorageOperation(
      "compact",
      tenant.tenantId,
      timeline.timelineId,
      run.durationMs / 1000,
    );
    if (query.wait_until_uploaded) await timeline.remote?.waitForIdle();
    return null;
  });

  app.put("/v1/tenant/:tenant_shard_id/timeline/:timeline_id/checkpoint", async (request) => {
    const { tenant, timeline } = resolve(request.params);
    const query = parseWith(compactQuery, request.query, "query");
    if (query.wait_until_flushed === false) timeline.freezeOpenLayer();
    else await timeline.checkpoint();
    if (query.compact ?? true) {
      await tenant.compact(timeline.timelineId, {
        forceL0Compaction: query.force_l0_compaction ?? false,
        forceImageLayerCreation: query.force_image_layer_creation ?? false,
        forceRepartition: query.force_repartition ?? false,
      });
    }
    // Neon's wait_until_uploaded: return once the upload queue is empty (the index is remote).
    if (query.wait_until_uploaded) await timeline.remote?.waitForIdle();
    return null;
  });

  app.get("/v1/tenant/:tenant_shard_id/timeline/:timeline_id/layer", async (request) => {
    const { timeline } = resolve(request.params);
    return layerMapInfo(timeline);
  });

  app.get("/v1/tenant/:tenant_shard_id/timeline/:timeline_id/keyspace", async (request) => {
    const { timeline } = resolve(request.params);
    const query = parseWith(z.object({ at_lsn: lsnSchema.optional() }), request.query, "query");
    const lsn: Lsn = query.at_lsn ?? timeline.lastRecordLsn;
    const keyspace = await collectKeyspace(timeline, lsn);
    return {
      at_lsn: formatLsn(lsn),
      keys: keyspace.ranges.map((r) => [formatKey(r.start), formatKey(r.end)]),
      sparse_keys: [],
    };
  });

  // Neon answers 400 both for a name that does not parse and for one the layer map lacks.
  const layerOf = (params: unknown) => {
    const { tenant, timeline } = resolve(params);
    const name = (params as { layer_file_name: string }).layer_file_name;
    return { timeline, layer: layerByName(tenant.tenantId, timeline, name) };
  };

  // Download one layer (200), or nothing to do when it is resident (304).
  app.get(
    "/v1/tenant/:tenant_shard_id/timeline/:timeline_id/layer/:layer_file_name",
    async (request, reply) => {
      const { timeline, layer } = layerOf(request.params);
      if (!(await downloadLayerOnRequest(timeline, layer))) return reply.code(304).send();
      return null;
    },
  );

  // Archive or unarchive (Neon's archival_config): 200; 412 when children or the ancestor forbid.
  app.put("/v1/tenant/:tenant_shard_id/timeline/:timeline_id/archival_config", async (request) => {
    const { tenant, timeline } = resolve(request.params);
    const body = parseWith(archivalConfigBody, request.body ?? {}, "archival config");
    await applyArchivalState(timeline, tenant.children(timeline.timelineId), body.state);
    return null;
  });

  // GC blocking (Neon's POST …/block_gc and …/unblock_gc, reason Manual): 200 either way.
  for (const [suffix, block] of [
    ["block_gc", true],
    ["unblock_gc", false],
  ] as const) {
    app.post(`/v1/tenant/:tenant_shard_id/timeline/:timeline_id/${suffix}`, async (request) => {
      const { timeline } = resolve(request.params);
      await timeline.setGcBlock("Manual", block);
      return null;
    });
  }

  // Download every evicted layer in the background: 202 with the task's progress, or 409 with
  // the progress of the one already running.
  app.post(
    "/v1/tenant/:tenant_shard_id/timeline/:timeline_id/download_remote_layers",
    async (request, reply) => {
      const { timeline } = resolve(request.params);
      const body = parseWith(downloadRemoteLayersBody, request.body ?? {}, "request body");
      const { started, task } = timeline.downloadAllRemoteLayers(body.max_concurrent_downloads);
      return reply.code(started ? 202 : 409).send(task.info);
    },
  );

  app.get(
    "/v1/tenant/:tenant_shard_id/timeline/:timeline_id/download_remote_layers",
    async (request) => {
      const { timeline } = resolve(request.params);
      const task = timeline.downloadAllRemoteLayersTask;
      if (!task) throw new NotFoundError("task never started since last pageserver process start");
      return task.info;
    },
  );

  // Evict one layer (200), or nothing to do when it is not resident (304).
  app.delete(
    "/v1/tenant/:tenant_shard_id/timeline/:timeline_id/layer/:layer_file_name",
    async (request, reply) => {
      const { timeline, layer } = layerOf(request.params);
      if (!(await evictLayerOnRequest(context.tenants, timeline, layer)))
        return reply.code(304).send();
      return null;
    },
  );

  // Neon's testing endpoint: one value at an LSN, as raw bytes.
  app.get("/v1/tenant/:tenant_shard_id/timeline/:timeline_id/getpage", async (request, reply) => {
    const { timeline } = resolve(request.params);
    const query = parseWith(
      z.object({ key: keySchema, lsn: lsnSchema.optional() }),
      request.query,
      "query",
    );
    const lsn = query.lsn ?? timeline.lastRecordLsn;
    await timeline.waitLsn(lsn, context.config.waitLsnTimeoutMs);
    const value = await timeline.get(query.key, lsn);
    return reply.header("content-type", "application/octet-stream").send(value);
  });

  app.get("/v1/tenant/:tenant_shard_id/timeline/:timeline_id/levels", async (request) => {
    const { timeline } = resolve(request.params);
    const layers = [...timeline.layers.historicLayers()].map((l) => ({
      kind: l.kind,
      keyRange: l.name.keyRange,
      lsnRange: l.name.lsnRange,
      fileSize: l.fileSize,
    }));
    const config = timeline.config;
    const levels = identifyLevels(
      layers,
      (timeline.diskConsistentLsn + 1) as Lsn,
      config.checkpointDistanceBytes,
      config.compactionThreshold,
    );
    return levels.map((level) => ({
      ...level,
      lsnRange: { start: formatLsn(level.lsnRange.start), end: formatLsn(level.lsnRange.end) },
    }));
  });

  app.put("/v1/tenant/:tenant_shard_id/timeline/:timeline_id/wal_source", async (request) => {
    const { tenant, timeline } = resolve(request.params);
    const body = parseWith(walSourceBody, request.body ?? {}, "WAL source");
    const loop = await tenant.attachWalSource(timeline.timelineId, body);
    return { description: loop.source.description, ...loop.progress };
  });

  app.get(
    "/v1/tenant/:tenant_shard_id/timeline/:timeline_id/wal_source",
    async (request, reply) => {
      const { tenant, timeline } = resolve(request.params);
      const loop = tenant.ingestLoop(timeline.timelineId);
      if (!loop)
        return reply.code(404).send({ msg: `timeline ${timeline.timelineId} has no WAL source` });
      // Why ingest is held back, when it is: layers that cannot be flushed (a full disk).
      return {
        description: loop.source.description,
        ...loop.progress,
        flush_error: timeline.flushFailure?.message ?? null,
      };
    },
  );

  app.delete("/v1/tenant/:tenant_shard_id/timeline/:timeline_id/wal_source", async (request) => {
    const { tenant, timeline } = resolve(request.params);
    await tenant.detachWalSource(timeline.timelineId);
    return null;
  });
};
