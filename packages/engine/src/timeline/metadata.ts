/**
 * Timeline metadata: the durable facts of a timeline, in the JSON shape of `index_part.json`'s
 * `metadata_bytes` (reference §8), stored locally as `<timeline>/metadata.json`.
 *
 * # Crash consistency
 * Written with `writeFileDurably` (temp, fsync, rename, fsync dir) only after the layer files it
 * vouches for are durable: `disk_consistent_lsn` never names data that a crash could lose.
 */
import { readFileSync } from "node:fs";
import { z } from "zod";
import { CorruptionError } from "../errors.ts";
import type { TimelineId } from "../ids.ts";
import { writeFileDurably, writeFileDurablySync } from "../io/durable_fs.ts";
import { formatLsn, LSN_INVALID, type Lsn, parseLsn } from "../lsn.ts";

export const METADATA_FILE_NAME = "metadata.json";

export interface TimelineMetadata {
  readonly diskConsistentLsn: Lsn;
  readonly prevRecordLsn: Lsn | null;
  readonly ancestorTimeline: TimelineId | null;
  readonly ancestorLsn: Lsn;
  readonly latestGcCutoffLsn: Lsn;
  readonly initdbLsn: Lsn;
  readonly pgVersion: number;
}

const lsnText = z.string().transform((text, context) => {
  try {
    return parseLsn(text);
  } catch (error) {
    context.addIssue({ code: "custom", message: (error as Error).message });
    return z.NEVER;
  }
});

const metadataJsonSchema = z.object({
  disk_consistent_lsn: lsnText,
  prev_record_lsn: lsnText.nullable().optional(),
  ancestor_timeline: z
    .string()
    .regex(/^[0-9a-f]{32}$/)
    .nullable()
    .optional(),
  ancestor_lsn: lsnText,
  latest_gc_cutoff_lsn: lsnText,
  initdb_lsn: lsnText,
  pg_version: z.number().int(),
});

export type TimelineMetadataJson = z.input<typeof metadataJsonSchema>;

export function metadataToJson(metadata: TimelineMetadata): TimelineMetadataJson {
  return {
    disk_consistent_lsn: formatLsn(metadata.diskConsistentLsn),
    prev_record_lsn: metadata.prevRecordLsn === null ? null : formatLsn(metadata.prevRecordLsn),
    ancestor_timeline: metadata.ancestorTimeline,
    ancestor_lsn: formatLsn(metadata.ancestorLsn),
    latest_gc_cutoff_lsn: formatLsn(metadata.latestGcCutoffLsn),
    initdb_lsn: formatLsn(metadata.initdbLsn),
    pg_version: metadata.pgVersion,
  };
}

/** Parses the JSON shape; `source` names the file or object in errors. */
export function metadataFromJson(json: unknown, source: string): TimelineMetadata {
  const parsed = metadataJsonSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new CorruptionError(
      `timeline metadata in ${source} is invalid: ${issue?.path.join(".")}: ${issue?.message}`,
      {
        file: source,
      },
    );
  }
  const m = parsed.data;
  return {
    diskConsistentLsn: m.disk_consistent_lsn,
    prevRecordLsn: m.prev_record_lsn ?? null,
    ancestorTimeline: (m.ancestor_timeline ?? null) as TimelineId | null,
    ancestorLsn: m.ancestor_lsn,
    latestGcCutoffLsn: m.latest_gc_cutoff_lsn,
    initdbLsn: m.initdb_lsn,
    pgVersion: m.pg_version,
  };
}

export async function saveMetadata(file: string, metadata: TimelineMetadata): Promise<void> {
  await writeFileDurably(file, `${JSON.stringify(metadataToJson(metadata), null, 2)}\n`);
}

export function saveMetadataSync(file: string, metadata: TimelineMetadata): void {
  writeFileDurablySync(file, `${JSON.stringify(metadataToJson(metadata), null, 2)}\n`);
}

export function loadMetadata(file: string): TimelineMetadata {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new CorruptionError(
      `cannot read timeline metadata ${file}: ${(error as Error).message}`,
      { file },
      error,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new CorruptionError(`timeline metadata ${file} is not valid JSON`, { file }, error);
  }
  return metadataFromJson(json, file);
}

export function initialMetadata(options: {
  ancestorTimeline: TimelineId | null;
  ancestorLsn: Lsn;
  startLsn: Lsn;
  initdbLsn: Lsn;
  pgVersion: number;
  latestGcCutoffLsn?: Lsn;
}): TimelineMetadata {
  return {
    diskConsistentLsn: options.startLsn,
    prevRecordLsn: null,
    ancestorTimeline: options.ancestorTimeline,
    ancestorLsn: options.ancestorLsn,
    latestGcCutoffLsn: options.latestGcCutoffLsn ?? LSN_INVALID,
    initdbLsn: options.initdbLsn,
    pgVersion: options.pgVersion,
  };
}
