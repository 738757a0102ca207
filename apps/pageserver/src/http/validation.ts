/**
 * zod at the HTTP edge: parse params, query strings and bodies, turning a failure into a 400
 * whose message names the field.
 */
import {
  InvalidArgumentError,
  type Key,
  type Lsn,
  parseKey,
  parseLsn,
  parseTenantShardId,
  parseTimelineId,
  type TenantId,
  type TimelineId,
} from "@pageserver/engine";
import { z } from "zod";

export function parseWith<T extends z.ZodType>(
  schema: T,
  input: unknown,
  what: string,
): z.output<T> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  if (issue.code === "unrecognized_keys") {
    throw new InvalidArgumentError(
      `invalid ${what}: unknown field(s) ${issue.keys.map((k) => `'${k}'`).join(", ")}`,
    );
  }
  const field = issue.path.join(".");
  throw new InvalidArgumentError(
    `invalid ${what}${field ? `: field '${field}'` : ""}: ${issue.message}`,
  );
}

export const lsnSchema = z.string().transform((text, context): Lsn => {
  try {
    return parseLsn(text);
  } catch (error) {
    context.addIssue({ code: "custom", message: (error as Error).message });
    return z.NEVER;
  }
});

export const keySchema = z.string().transform((text, context): Key => {
  try {
    return parseKey(text);
  } catch (error) {
    context.addIssue({ code: "custom", message: (error as Error).message });
    return z.NEVER;
  }
});

export const timelineIdSchema = z.string().transform((text, context): TimelineId => {
  try {
    return parseTimelineId(text);
  } catch (error) {
    context.addIssue({ code: "custom", message: (error as Error).message });
    return z.NEVER;
  }
});

/** `<tenant_id>` or `<tenant_id>-NNCC`; only unsharded tenants exist here. */
export function tenantFromPath(text: string): TenantId {
  const shard = parseTenantShardId(text);
  if (shard.shardCount > 1) {
    throw new InvalidArgumentError(
      `tenant shard ${text}: this pageserver serves unsharded tenants only`,
    );
  }
  return shard.tenantId;
}

export function timelineFromPath(text: string): TimelineId {
  return parseTimelineId(text);
}

/** Query-string booleans as Neon accepts them. */
export const queryBool = z
  .union([z.boolean(), z.enum(["true", "false", "1", "0", ""])])
  .transform((value) => value === true || value === "true" || value === "1" || value === "");
