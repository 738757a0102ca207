/**
 * `pagectl index-part dump <file> [--json]`: reads an `index_part.json` — ours or one Neon wrote;
 * the schema is Neon's (reference §8) — and prints a summary: layer counts by kind and L0, sizes,
 * generations, shards, the LSN range the layers span, the metadata, and which optional fields are
 * present. `--json` prints the summary and the whole document as JSON.
 *
 * The schema is checked field by field with zod, loosely where Neon evolved it: unknown fields
 * are kept (newer versions add fields; `version` is informative only), `metadata_bytes` may be
 * the JSON object of versions ≥ 7 or the legacy byte array, which is decoded best-effort. A file
 * that is not an index_part at all fails with the field that is wrong.
 */
import { readFileSync } from "node:fs";
import {
  formatLsn,
  isL0Name,
  type LayerName,
  type Lsn,
  parseLayerFileName,
  parseLsn,
} from "@pageserver/engine";
import { z } from "zod";
import { CliError, formatBytes, parseCliArgs, UsageError } from "../cli_support.ts";

const lsnText = z.string().refine((text) => {
  try {
    parseLsn(text);
    return true;
  } catch {
    return false;
  }
}, "expected an LSN X/Y");

const layerMetadataSchema = z
  .object({
    file_size: z.number().int().min(0),
    generation: z.number().int().min(0).max(0xffff_ffff).nullable().optional(),
    shard: z
      .string()
      .regex(/^[0-9a-fA-F]{4}$/, "expected NNCC hex")
      .nullable()
      .optional(),
  })
  .passthrough();

const metadataObjectSchema = z
  .object({
    disk_consistent_lsn: lsnText,
    prev_record_lsn: lsnText.nullable().optional(),
    ancestor_timeline: z.string().nullable().optional(),
    ancestor_lsn: lsnText,
    latest_gc_cutoff_lsn: lsnText,
    initdb_lsn: lsnText,
    pg_version: z.number().int(),
  })
  .passthrough();

export const indexPartSchema = z
  .object({
    version: z.number().int().min(1),
    layer_metadata: z.record(z.string(), layerMetadataSchema),
    disk_consistent_lsn: lsnText,
    metadata_bytes: z.union([metadataObjectSchema, z.array(z.number().int().min(0).max(255))]),
    lineage: z.record(z.string(), z.unknown()).optional(),
  })
  .passthrough();

export type IndexPart = z.infer<typeof indexPartSchema>;

/** Neon's optional fields and the index version that introduced each (reference §8). */
const OPTIONAL_FIELDS: ReadonlyArray<[string, number]> = [
  ["deleted_at", 2],
  ["last_aux_file_policy", 6],
  ["archived_at", 8],
  ["gc_blocking", 9],
  ["import_pgdata", 10],
  ["rel_size_migration", 11],
  ["l2_lsn", 12],
  ["gc_compaction", 13],
  ["marked_invisible_at", 14],
  ["rel_size_migrated_at", 15],
];

/** Reads and validates an index_part.json; errors name the file and the field. */
export function readIndexPart(file: string): IndexPart {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new CliError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? error}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new CliError(`${file} is not JSON: ${(error as Error).message}`);
  }
  const parsed = indexPartSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new CliError(
      `${file} is not a valid index_part.json: ${issue.path.join(".") || "(root)"}: ${issue.message}`,
    );
  }
  return parsed.data;
}

export interface IndexPartLayer {
  readonly fileName: string;
  readonly name: LayerName;
  readonly fileSize: number;
  readonly generation: number | null;
  readonly shard: string | null;
}

/** The layers of an index, names parsed; a name that does not parse is an error naming it. */
export function indexPartLayers(indexPart: IndexPart, source: string): IndexPartLayer[] {
  return Object.entries(indexPart.layer_metadata).map(([fileName, metadata]) => {
    let name: LayerName;
    try {
      name = parseLayerFileName(fileName).name;
    } catch (error) {
      throw new CliError(`${source}: ${(error as Error).message}`);
    }
    return {
      fileName,
      name,
      fileSize: metadata.file_size,
      generation: metadata.generation ?? null,
      shard: metadata.shard ?? null,
    };
  });
}

/**
 * The legacy binary metadata (versions before 7): crc32c u32, size u16, format u16, then the
 * bincode body (disk_consistent_lsn u64, prev Option<u64>, ancestor Option<[16]>, ancestor_lsn,
 * latest_gc_cutoff_lsn, initdb_lsn u64, pg_version u32). Best effort: null if it does not fit.
 */
function decodeLegacyMetadata(bytes: readonly number[]): Record<string, unknown> | null {
  const buffer = Buffer.from(bytes);
  try {
    let at = 8;
    const u64 = () => {
      const value = buffer.readUInt32BE(at) * 0x1_0000_0000 + buffer.readUInt32BE(at + 4);
      at += 8;
      return formatLsn(value as Lsn);
    };
    const diskConsistentLsn = u64();
    const prev = buffer[at++] === 1 ? u64() : null;
    let ancestor: string | null = null;
    if (buffer[at++] === 1) {
      ancestor = buffer.toString("hex", at, at + 16);
      at += 16;
    }
    return {
      format: buffer.readUInt16BE(6),
      disk_consistent_lsn: diskConsistentLsn,
      prev_record_lsn: prev,
      ancestor_timeline: ancestor,
      ancestor_lsn: u64(),
      latest_gc_cutoff_lsn: u64(),
      initdb_lsn: u64(),
      pg_version: buffer.readUInt32BE(at),
    };
  } catch {
    return null;
  }
}

interface SizeStats {
  count: number;
  bytes: number;
  min: number;
  max: number;
}

function sizeStats(sizes: number[]): SizeStats {
  return {
    count: sizes.length,
    bytes: sizes.reduce((sum, size) => sum + size, 0),
    min: sizes.length ? Math.min(...sizes) : 0,
    max: sizes.length ? Math.max(...sizes) : 0,
  };
}

/** Counts by value, most frequent first. */
function tally(values: string[]): Array<[string, number]> {
  const counts = new Map<string, number>();
  for (const value of values) counts.set(value, (counts.get(value) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
}

/** The summary `index-part dump` prints (and `--json` emits). */
export function summarizeIndexPart(indexPart: IndexPart, source: string) {
  const layers = indexPartLayers(indexPart, source);
  const deltas = layers.filter((layer) => layer.name.kind === "delta");
  const images = layers.filter((layer) => layer.name.kind === "image");
  const l0s = deltas.filter((layer) => isL0Name(layer.name));
  const generations = layers.map((layer) => layer.generation).filter((g) => g !== null);
  let lsnStart = Number.POSITIVE_INFINITY;
  let lsnEnd = 0;
  for (const layer of layers) {
    lsnStart = Math.min(lsnStart, layer.name.lsnRange.start);
    lsnEnd = Math.max(lsnEnd, layer.name.lsnRange.end);
  }
  const metadata = Array.isArray(indexPart.metadata_bytes)
    ? (decodeLegacyMetadata(indexPart.metadata_bytes) ?? {
        legacy_bytes: indexPart.metadata_bytes.length,
      })
    : indexPart.metadata_bytes;
  const document = indexPart as Record<string, unknown>;
  return {
    file: source,
    version: indexPart.version,
    disk_consistent_lsn: indexPart.disk_consistent_lsn,
    metadata,
    lineage: indexPart.lineage ?? null,
    layers: {
      total: sizeStats(layers.map((l) => l.fileSize)),
      delta: sizeStats(deltas.map((l) => l.fileSize)),
      l0: sizeStats(l0s.map((l) => l.fileSize)),
      image: sizeStats(images.map((l) => l.fileSize)),
    },
    lsn_range:
      layers.length === 0
        ? null
        : { start: formatLsn(lsnStart as Lsn), end: formatLsn(lsnEnd as Lsn) },
    generations: {
      min: generations.length ? Math.min(...generations) : null,
      max: generations.length ? Math.max(...generations) : null,
      distinct: new Set(generations).size,
      none: layers.length - generations.length,
      most_layers: tally(generations.map(String)).slice(0, 5),
    },
    shards: tally(layers.map((layer) => layer.shard ?? "unsharded")),
    optional_fields: OPTIONAL_FIELDS.filter(([field]) => document[field] != null).map(
      ([field, since]) => ({ field, since_version: since, value: document[field] }),
    ),
  };
}

type Summary = ReturnType<typeof summarizeIndexPart>;

function sizeLine(label: string, stats: SizeStats): string {
  if (stats.count === 0) return `  ${label.padEnd(8)} 0`;
  return (
    `  ${label.padEnd(8)} ${String(stats.count).padStart(7)}  ${formatBytes(stats.bytes).padStart(10)}` +
    `  (min ${formatBytes(stats.min)}, max ${formatBytes(stats.max)})`
  );
}

function formatSummary(summary: Summary): string {
  const { layers, generations } = summary;
  const metadata = Object.entries(summary.metadata)
    .map(([key, value]) => `    ${key}: ${value === null ? "null" : String(value)}`)
    .join("\n");
  const lines = [
    `index_part ${summary.file}`,
    `  version: ${summary.version}`,
    `  disk_consistent_lsn: ${summary.disk_consistent_lsn}`,
    "  metadata:",
    metadata,
    `  lineage: ${JSON.stringify(summary.lineage)}`,
    "layers:     count        size",
    sizeLine("all", layers.total),
    sizeLine("delta", layers.delta),
    sizeLine("  L0", layers.l0),
    sizeLine("image", layers.image),
    `LSN range: ${summary.lsn_range ? `${summary.lsn_range.start}..${summary.lsn_range.end}` : "(no layers)"}`,
    `generations: ${generations.min ?? "-"}..${generations.max ?? "-"} (${generations.distinct} distinct, ${generations.none} without)`,
    `  most layers: ${generations.most_layers.map(([g, n]) => `${g}: ${n}`).join(", ") || "-"}`,
    `shards: ${summary.shards.map(([shard, n]) => `${shard}: ${n}`).join(", ") || "-"}`,
    `optional fields: ${summary.optional_fields.map((f) => `${f.field} (v${f.since_version})`).join(", ") || "none"}`,
  ];
  return lines.join("\n");
}

export async function indexPartCommand(args: string[]): Promise<void> {
  const [sub, ...rest] = args;
  if (sub !== "dump") {
    throw new UsageError(
      sub === undefined
        ? "index-part: missing subcommand (dump)"
        : `index-part: unknown subcommand '${sub}'`,
    );
  }
  const { values, positionals } = parseCliArgs(
    rest,
    { json: { type: "boolean", default: false } },
    { min: 1, max: 1 },
  );
  const file = positionals[0]!;
  const indexPart = readIndexPart(file);
  const summary = summarizeIndexPart(indexPart, file);
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ summary, index_part: indexPart }, null, 2)}\n`);
  } else {
    process.stdout.write(`${formatSummary(summary)}\n`);
  }
}
