/**
 * `index_part.json`: the remote description of a timeline (Neon's schema, reference §8): its
 * layers with size and generation, disk_consistent_lsn, the metadata, the lineage. Parsing
 * accepts every version Neon wrote (1–15; the version field is informative): metadata as the JSON
 * object (v7+) or the older 512-byte bincode array; unknown fields are kept when re-serialising.
 */

import { z } from "zod";
import { CorruptionError } from "../errors.ts";
import { type GcBlocking, gcBlockingSchema } from "../gc/gc_block.ts";
import { asGeneration, type Generation, type TimelineId } from "../ids.ts";
import { formatLsn, type Lsn, parseLsn } from "../lsn.ts";
import { formatLayerName, type LayerName, parseLayerName } from "../storage_layer/layer_name.ts";
import { metadataFromJson, metadataToJson, type TimelineMetadata } from "../timeline/metadata.ts";

export const INDEX_PART_VERSION = 15;

export interface IndexLayer {
  readonly name: LayerName;
  readonly fileSize: number;
  readonly generation: Generation;
  readonly shard: string | null;
}

export interface IndexPart {
  readonly version: number;
  readonly layers: ReadonlyMap<string, IndexLayer>;
  readonly diskConsistentLsn: Lsn;
  readonly metadata: TimelineMetadata;
  readonly lineage: Record<string, unknown>;
  readonly deletedAt: string | null;
  /** Neon's `archived_at` (v8): the timeline is archived since then. */
  readonly archivedAt: string | null;
  /** Neon's `gc_blocking` (v9): GC of the tenant is held off while set. */
  readonly gcBlocking: GcBlocking | null;
  /** Fields we do not interpret, kept as they were. */
  readonly extra: Record<string, unknown>;
}

const layerMetadataSchema = z.object({
  file_size: z.number().int().min(0),
  // Neon omits both when None; null is accepted too.
  generation: z.number().int().min(0).max(0xffff_ffff).nullable().optional(),
  shard: z.string().nullable().optional(),
});

const indexPartSchema = z
  .object({
    version: z.number().int(),
    layer_metadata: z.record(z.string(), layerMetadataSchema),
    disk_consistent_lsn: z.string(),
    metadata_bytes: z.union([z.record(z.string(), z.unknown()), z.array(z.number())]).optional(),
    metadata: z.union([z.record(z.string(), z.unknown()), z.array(z.number())]).optional(),
    lineage: z.record(z.string(), z.unknown()).optional(),
    deleted_at: z.string().nullable().optional(),
    archived_at: z.string().nullable().optional(),
    gc_blocking: gcBlockingSchema.nullable().optional(),
  })
  .passthrough();

/** The old binary metadata: crc32c u32, size u16, format u16, then bincode (BE) fields. */
function metadataFromBytes(bytes: readonly number[], source: string): TimelineMetadata {
  const buffer = Buffer.from(bytes);
  const at = 8;
  const u64 = (offset: number) =>
    buffer.readUInt32BE(offset) * 0x1_0000_0000 + buffer.readUInt32BE(offset + 4);
  try {
    let offset = at;
    const diskConsistentLsn = u64(offset) as Lsn;
    offset += 8;
    const hasPrev = buffer[offset++] === 1;
    const prevRecordLsn = hasPrev ? (u64(offset) as Lsn) : null;
    if (hasPrev) offset += 8;
    const hasAncestor = buffer[offset++] === 1;
    const ancestorTimeline = hasAncestor
      ? (buffer.toString("hex", offset, offset + 16) as TimelineId)
      : null;
    if (hasAncestor) offset += 16;
    const ancestorLsn = u64(offset) as Lsn;
    const latestGcCutoffLsn = u64(offset + 8) as Lsn;
    const initdbLsn = u64(offset + 16) as Lsn;
    const pgVersion = buffer.length >= offset + 28 ? buffer.readUInt32BE(offset + 24) : 14;
    return {
      diskConsistentLsn,
      prevRecordLsn,
      ancestorTimeline,
      ancestorLsn,
      latestGcCutoffLsn,
      initdbLsn,
      pgVersion,
    };
  } catch (error) {
    throw new CorruptionError(
      `index_part ${source}: cannot decode binary metadata`,
      { file: source },
      error,
    );
  }
}

export function parseIndexPart(text: string | Buffer, source: string): IndexPart {
  let json: unknown;
  try {
    json = JSON.parse(text.toString());
  } catch (error) {
    throw new CorruptionError(`index_part ${source} is not valid JSON`, { file: source }, error);
  }
  const parsed = indexPartSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new CorruptionError(
      `index_part ${source} is invalid: ${issue.path.join(".")}: ${issue.message}`,
      { file: source },
    );
  }
  const {
    version,
    layer_metadata,
    disk_consistent_lsn,
    metadata_bytes,
    metadata,
    lineage,
    deleted_at,
    archived_at,
    gc_blocking,
    ...extra
  } = parsed.data;
  const rawMetadata = metadata_bytes ?? metadata;
  if (rawMetadata === undefined)
    throw new CorruptionError(`index_part ${source} has no metadata`, { file: source });
  const timelineMetadata = Array.isArray(rawMetadata)
    ? metadataFromBytes(rawMetadata, source)
    : metadataFromJson(rawMetadata, source);
  const layers = new Map<string, IndexLayer>();
  for (const [nameText, entry] of Object.entries(layer_metadata)) {
    let name: LayerName;
    try {
      name = parseLayerName(nameText);
    } catch (error) {
      throw new CorruptionError(
        `index_part ${source}: bad layer name ${nameText}`,
        { file: source },
        error,
      );
    }
    layers.set(nameText, {
      name,
      fileSize: entry.file_size,
      generation: entry.generation == null ? null : asGeneration(entry.generation),
      shard: entry.shard ?? null,
    });
  }
  return {
    version,
    layers,
    diskConsistentLsn: parseLsn(disk_consistent_lsn),
    metadata: timelineMetadata,
    lineage: lineage ?? {},
    deletedAt: deleted_at ?? null,
    archivedAt: archived_at ?? null,
    gcBlocking: gc_blocking ?? null,
    extra,
  };
}

export function serializeIndexPart(index: IndexPart): string {
  const layerMetadata: Record<string, { file_size: number; generation?: number; shard?: string }> =
    {};
  for (const [nameText, layer] of [...index.layers].sort(([a], [b]) => (a < b ? -1 : 1))) {
    layerMetadata[nameText] = {
      file_size: layer.fileSize,
      ...(layer.generation === null ? {} : { generation: layer.generation }),
      ...(layer.shard === null ? {} : { shard: layer.shard }),
    };
  }
  return JSON.stringify({
    ...index.extra,
    version: index.version,
    layer_metadata: layerMetadata,
    disk_consistent_lsn: formatLsn(index.diskConsistentLsn),
    metadata_bytes: metadataToJson(index.metadata),
    lineage: index.lineage,
    ...(index.deletedAt === null ? {} : { deleted_at: index.deletedAt }),
    ...(index.archivedAt === null ? {} : { archived_at: index.archivedAt }),
    ...(index.gcBlocking === null ? {} : { gc_blocking: index.gcBlocking }),
  });
}

export function indexLayerOf(
  name: LayerName,
  fileSize: number,
  generation: Generation,
): [string, IndexLayer] {
  return [formatLayerName(name), { name, fileSize, generation, shard: null }];
}
