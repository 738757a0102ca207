/**
 * `pagectl layer print <file>` and `pagectl layer verify <file>`: look inside one layer file of
 * our format (packages/engine/FORMAT.md) without a pageserver.
 *
 * - `print` shows the header summary and the entries in (key, LSN) order: each key in Neon's hex
 *   and in PostgreSQL's terms, the LSN, will_init and the value size; `--values` decodes every
 *   value (page header fields of images, the fields of WAL records); `--limit N` stops early.
 * - `verify` is a full scrub: every index node and every value is read and its checksum checked,
 *   the entry order and count are checked against the header, and the file name (when it is a
 *   layer name) must match the header's key and LSN ranges. Damage exits 1 with the typed
 *   CorruptionError, whose message names the file and the offset.
 *
 * Reads go through the engine's own LayerFileReader, so pagectl sees exactly what the pageserver
 * would, and a file pagectl calls intact is one the pageserver can read.
 */
import { existsSync, statSync } from "node:fs";
import path from "node:path";
import {
  CorruptionError,
  describeKey,
  FileDescriptorCache,
  formatKey,
  formatLayerName,
  formatLsn,
  LayerFileReader,
  type LayerFileSummary,
  type LayerIo,
  PageCache,
  parseLayerFileName,
} from "@pageserver/engine";
import { CliError, formatBytes, parseCliArgs, parseCount, UsageError } from "../cli_support.ts";
import { describeEncodedValue } from "./page_format.ts";

/** A small private cache: pagectl reads one file, once. */
function cliIo(): LayerIo {
  return { files: new FileDescriptorCache(8), pages: new PageCache(64) };
}

function openLayer(file: string): LayerFileReader {
  if (!existsSync(file)) throw new CliError(`layer file ${file} does not exist`);
  if (!statSync(file).isFile()) throw new CliError(`${file} is not a file`);
  return LayerFileReader.open(file, cliIo());
}

/** The layer name the header describes (what the file should be called). */
export function summaryLayerName(summary: LayerFileSummary): string {
  return formatLayerName({
    kind: summary.kind,
    keyRange: summary.keyRange,
    lsnRange: summary.lsnRange,
  });
}

/** null when the file's name matches its header, or is not a layer name at all; else why not. */
function nameMismatch(file: string, summary: LayerFileSummary): string | null {
  let parsed: ReturnType<typeof parseLayerFileName>;
  try {
    parsed = parseLayerFileName(path.basename(file));
  } catch {
    return null;
  }
  const expected = summaryLayerName(summary);
  const actual = formatLayerName(parsed.name);
  return actual === expected ? null : `file name says ${actual}, header says ${expected}`;
}

function summaryLines(file: string, summary: LayerFileSummary): string[] {
  const { keyRange, lsnRange } = summary;
  const lsns =
    summary.kind === "image"
      ? `${formatLsn(lsnRange.start)} (image)`
      : `${formatLsn(lsnRange.start)}..${formatLsn(lsnRange.end)}`;
  const mismatch = nameMismatch(file, summary);
  return [
    `layer file ${file}`,
    `  kind:        ${summary.kind}`,
    `  layer name:  ${summaryLayerName(summary)}${mismatch ? `  (MISMATCH: ${mismatch})` : ""}`,
    `  tenant:      ${summary.tenantId}`,
    `  timeline:    ${summary.timelineId}`,
    `  key range:   ${formatKey(keyRange.start)}..${formatKey(keyRange.end)}`,
    `               (${describeKey(keyRange.start).text} .. ${describeKey(keyRange.end).text})`,
    `  LSN range:   ${lsns}`,
    `  entries:     ${summary.entryCount}`,
    `  values:      ${summary.valuesBytes} bytes (${formatBytes(summary.valuesBytes)})`,
    `  index:       height ${summary.indexHeight}, root at offset ${summary.indexRootOffset}`,
    `  file size:   ${summary.fileSize} bytes (${formatBytes(summary.fileSize)})`,
  ];
}

export async function layerPrintCommand(args: string[]): Promise<void> {
  const { values, positionals } = parseCliArgs(
    args,
    { values: { type: "boolean", default: false }, limit: { type: "string" } },
    { min: 1, max: 1 },
  );
  const limit =
    values.limit === undefined
      ? Number.POSITIVE_INFINITY
      : parseCount(values.limit as string, "--limit");
  const file = positionals[0]!;
  const reader = openLayer(file);
  try {
    const out = summaryLines(file, reader.summary);
    out.push("entries:");
    process.stdout.write(`${out.join("\n")}\n`);
    let printed = 0;
    for (const entry of reader.entries()) {
      if (printed >= limit) {
        process.stdout.write(`  ... (${reader.summary.entryCount - printed} more entries)\n`);
        break;
      }
      const flag = entry.willInit ? " will_init" : "";
      let line = `  ${formatKey(entry.key)} ${describeKey(entry.key).text} @ ${formatLsn(entry.lsn)}${flag} ${entry.length} B`;
      if (values.values) {
        line += `\n      ${describeEncodedValue(reader.readBlob(entry.blobOffset, entry.length))}`;
      }
      process.stdout.write(`${line}\n`);
      printed++;
    }
  } finally {
    reader.close();
  }
}

export async function layerVerifyCommand(args: string[]): Promise<void> {
  const { positionals } = parseCliArgs(args, {}, { min: 1, max: 1 });
  const file = positionals[0]!;
  const reader = openLayer(file);
  try {
    const mismatch = nameMismatch(file, reader.summary);
    if (mismatch) {
      throw new CorruptionError(`layer file ${file} is misnamed: ${mismatch}`, { file });
    }
    const started = performance.now();
    const entries = reader.verify();
    const ms = (performance.now() - started).toFixed(0);
    process.stdout.write(
      `ok: ${file}: ${entries} entries, ${reader.summary.fileSize} bytes verified in ${ms} ms\n`,
    );
  } finally {
    reader.close();
  }
}

export async function layerCommand(args: string[]): Promise<void> {
  const [sub, ...rest] = args;
  switch (sub) {
    case "print":
      return layerPrintCommand(rest);
    case "verify":
      return layerVerifyCommand(rest);
    case undefined:
      throw new UsageError("layer: missing subcommand (print or verify)");
    default:
      throw new UsageError(`layer: unknown subcommand '${sub}' (print or verify)`);
  }
}
