/**
 * The zod schemas of the router's inputs. Ids and LSNs arrive as text (what an operator types or
 * copies from a log) and leave the schema as the engine's branded values, so a procedure never
 * sees an unchecked id. A bad value fails with the engine's own message (e.g. "invalid LSN 'x':
 * expected X/Y with 1-8 hex digits each"), which the console shows as is.
 */
import {
  generatorParamsSchema,
  type Lsn,
  parseLsn,
  parseTenantId,
  parseTimelineId,
  type TenantId,
  type TimelineId,
  WORKLOADS,
} from "@pageserver/engine";
import { z } from "zod";

/** Runs an engine parser inside zod, turning its error into an issue with the same message. */
function viaParser<T>(parse: (text: string) => T) {
  return (text: string, context: z.RefinementCtx): T => {
    try {
      return parse(text);
    } catch (error) {
      context.addIssue({ code: "custom", message: (error as Error).message });
      return z.NEVER;
    }
  };
}

export const tenantIdSchema = z.string().trim().transform(viaParser<TenantId>(parseTenantId));

export const timelineIdSchema = z.string().trim().transform(viaParser<TimelineId>(parseTimelineId));

/** An LSN in PostgreSQL's `X/Y` form. */
export const lsnSchema = z.string().trim().transform(viaParser<Lsn>(parseLsn));

export const tenantInput = z.object({ tenantId: tenantIdSchema });
export const timelineInput = z.object({ tenantId: tenantIdSchema, timelineId: timelineIdSchema });

/** Tenant config overrides in Neon's JSON shape; the engine validates each knob. */
export const tenantConfigInput = z.record(z.string(), z.unknown());

/**
 * The WAL generator's parameters: the engine's own schema (bounds, defaults, unknown fields
 * refused), re-exported so the console and the HTTP API accept exactly the same thing.
 */
export const generatorParamsInput = generatorParamsSchema;
export const workloadSchema = z.enum(WORKLOADS);

/** The smgr query types the latency recorder is fed with (Neon's `smgr_query_type`). */
export const SMGR_QUERY_TYPES = [
  "get_page_at_lsn",
  "get_rel_exists",
  "get_rel_size",
  "get_db_size",
  "get_slru_segment",
] as const;
export const queryTypeSchema = z.enum(SMGR_QUERY_TYPES);

export const latencyFilterInput = z.object({
  tenantId: tenantIdSchema.optional(),
  timelineId: timelineIdSchema.optional(),
  queryType: queryTypeSchema.optional(),
});
