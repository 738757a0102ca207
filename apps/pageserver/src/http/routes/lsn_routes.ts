/**
 * LSN routes of Neon's `/v1` API beyond the timeline basics, and the compaction job list:
 *
 *     GET    …/timeline/:tl/get_timestamp_of_lsn?lsn=X/Y   commit time at an LSN (RFC 3339 string)
 *     POST   /v1/tenant/:tsid/wait_lsn                     wait for LSNs on several timelines
 *     GET    …/timeline/:tl/compact                        scheduled compaction jobs
 *     DELETE …/timeline/:tl/compact                        cancel them
 *
 * get_timestamp_of_lsn answers the time of the newest commit at or below the LSN, as Neon does
 * from the CLOG's commit timestamps, and 412 when none is known. wait_lsn takes Neon's
 * `TenantWaitLsnRequest` — one `"<timeline_id>": "X/Y"` entry per timeline and a `timeout`
 * (serde's `{"secs", "nanos"}`, or a duration string such as `"5s"`) — and answers 200 when every
 * listed timeline reached its LSN, 202 when one did not in time, 404 when it names none of the
 * tenant's timelines. Compaction here always runs when asked (`PUT …/compact`), so there are
 * never scheduled jobs: the list is empty and cancelling has nothing to do.
 */
import {
  formatLsn,
  InvalidArgumentError,
  type Lsn,
  newestCommitTimeAt,
  PreconditionError,
  parseDuration,
  parseLsn,
  parseTimelineId,
  type Tenant,
  type Timeline,
} from "@pageserver/engine";
import type { FastifyPluginAsync } from "fastify";
import { z } from "zod";
import type { PageserverContext } from "../../pageserver_context.ts";
import { lsnSchema, parseWith, tenantFromPath, timelineFromPath } from "../validation.ts";

/** The longest wait_lsn accepts: a request is not a way to hold a connection for hours. */
const WAIT_LSN_TIMEOUT_MS_MAX = 10 * 60_000;

interface TimelineParams {
  tenant_shard_id: string;
  timeline_id: string;
}

/** humantime's RFC 3339 form as Neon prints it: seconds precision, `Z`. */
function formatRfc3339Seconds(ms: number): string {
  return `${new Date(Math.floor(ms / 1000) * 1000).toISOString().slice(0, 19)}Z`;
}

const serdeDuration = z
  .object({ secs: z.number().int().min(0), nanos: z.number().int().min(0).max(999_999_999) })
  .strict()
  .transform(({ secs, nanos }) => secs * 1000 + nanos / 1e6);

const durationText = z.string().transform((text, context) => {
  try {
    return parseDuration(text);
  } catch (error) {
    context.addIssue({ code: "custom", message: (error as Error).message });
    return z.NEVER;
  }
});

/** Neon's TenantWaitLsnRequest: timeline → LSN entries flattened beside `timeout`. */
function parseWaitLsnRequest(body: unknown): { timeoutMs: number; lsns: Map<string, Lsn> } {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new InvalidArgumentError(
      'invalid wait_lsn request: expected {"<timeline_id>": "X/Y", …, "timeout": …}',
    );
  }
  const { timeout, ...timelines } = body as Record<string, unknown>;
  if (timeout === undefined)
    throw new InvalidArgumentError("invalid wait_lsn request: missing field 'timeout'");
  const timeoutMs = parseWith(z.union([serdeDuration, durationText]), timeout, "wait_lsn timeout");
  if (timeoutMs > WAIT_LSN_TIMEOUT_MS_MAX) {
    throw new InvalidArgumentError(
      `invalid wait_lsn request: timeout must be at most ${WAIT_LSN_TIMEOUT_MS_MAX / 1000} s`,
    );
  }
  const lsns = new Map<string, Lsn>();
  for (const [timelineId, lsn] of Object.entries(timelines)) {
    try {
      if (typeof lsn !== "string") throw new Error("expected an LSN string X/Y");
      lsns.set(parseTimelineId(timelineId), parseLsn(lsn));
    } catch (error) {
      throw new InvalidArgumentError(
        `invalid wait_lsn request: field '${timelineId}': ${(error as Error).message}`,
      );
    }
  }
  return { timeoutMs, lsns };
}

export const lsnRoutes: FastifyPluginAsync<{ context: PageserverContext }> = async (
  app,
  { context },
) => {
  const { tenants } = context;
  const resolve = (params: unknown): { tenant: Tenant; timeline: Timeline } => {
    const { tenant_shard_id, timeline_id } = params as TimelineParams;
    const tenant = tenants.get(tenantFromPath(tenant_shard_id));
    return { tenant, timeline: tenant.getTimeline(timelineFromPath(timeline_id)) };
  };

  app.get(
    "/v1/tenant/:tenant_shard_id/timeline/:timeline_id/get_timestamp_of_lsn",
    async (request) => {
      const { timeline } = resolve(request.params);
      const { lsn } = parseWith(z.object({ lsn: lsnSchema }), request.query, "query");
      const time = await newestCommitTimeAt(timeline, lsn);
      if (time === null)
        throw new PreconditionError(`Timestamp for lsn ${formatLsn(lsn)} not found`);
      return formatRfc3339Seconds(time);
    },
  );

  app.post("/v1/tenant/:tenant_shard_id/wait_lsn", async (request, reply) => {
    const tenant = tenants.get(
      tenantFromPath((request.params as { tenant_shard_id: string }).tenant_shard_id),
    );
    const { timeoutMs, lsns } = parseWaitLsnRequest(request.body);
    const waits: Array<Promise<boolean>> = [];
    for (const timeline of tenant.timelines()) {
      const lsn = lsns.get(timeline.timelineId);
      if (lsn === undefined) continue;
      waits.push(
        timeline.waitLsn(lsn, timeoutMs).then(
          () => true,
          () => false,
        ),
      );
    }
    if (waits.length === 0) return reply.code(404).send(null);
    const reached = await Promise.all(waits);
    return reply.code(reached.every(Boolean) ? 200 : 202).send(null);
  });

  app.get("/v1/tenant/:tenant_shard_id/timeline/:timeline_id/compact", async (request) => {
    resolve(request.params);
    return [];
  });

  app.delete("/v1/tenant/:tenant_shard_id/timeline/:timeline_id/compact", async (request) => {
    resolve(request.params);
    return null;
  });
};
