/**
 * Opening a layer map from a file, in the browser, without a pageserver (what `pagectl
 * draw-timeline` does, interactively):
 *
 * - a layer-name list: one Neon layer name per line (anything after the first whitespace on a
 *   line is ignored; blank lines and `#` comments are skipped);
 * - an `index_part.json`: the `layer_metadata` keys are layer names, the values carry
 *   `file_size` and `generation`; `disk_consistent_lsn` is kept as a mark.
 *
 * Names are parsed here (not with the engine, which is Node-only): `<KEY>-<KEY>__<LSN>[-<LSN>]`
 * with an optional generation suffix `-v1-xxxxxxxx` (local) or `-xxxxxxxx` (remote). Lines that
 * are not layer names are counted and the first few reported, not fatal.
 */

import {
  KEY_MAX_HEX,
  KEY_MIN_HEX,
  type LayerSet,
  LayerSetBuilder,
  TIER_IMAGE,
  TIER_L0,
  TIER_L1,
} from "./layer_set";
import { parseLsn, parseLsnHexAt } from "./lsn";

const NAME =
  /^([0-9A-Fa-f]{36})-([0-9A-Fa-f]{36})__([0-9A-Fa-f]{16})(?:-([0-9A-Fa-f]{16}))?(?:-v\d+)?(?:-([0-9A-Fa-f]{8}))?$/;

export interface OpenedLayerFile {
  readonly set: LayerSet;
  readonly format: "names" | "index_part";
  readonly skipped: number;
  readonly skippedExamples: readonly string[];
  readonly diskConsistentLsn: number | null;
}

export class LayerFileError extends Error {}

/** Adds one name; false when it is not a layer name. */
function addName(
  builder: LayerSetBuilder,
  text: string,
  size: number,
  generation: number | null,
): boolean {
  const match = NAME.exec(text);
  if (!match) return false;
  const keyStart = match[1]!.toUpperCase();
  const keyEnd = match[2]!.toUpperCase();
  if (keyStart >= keyEnd) return false;
  const lsnStart = parseLsnHexAt(match[3]!, 0);
  const isDelta = match[4] !== undefined;
  const lsnEnd = isDelta ? parseLsnHexAt(match[4]!, 0) : lsnStart + 1;
  if (!(lsnEnd > lsnStart)) return false;
  const suffix = match[5] === undefined ? null : Number.parseInt(match[5], 16);
  const tier = !isDelta
    ? TIER_IMAGE
    : keyStart === KEY_MIN_HEX && keyEnd === KEY_MAX_HEX
      ? TIER_L0
      : TIER_L1;
  builder.add({
    name: text,
    keyStart,
    keyEnd,
    lsnStart,
    lsnEnd,
    tier,
    size,
    generation: generation ?? suffix,
  });
  return true;
}

function parseNameList(text: string): OpenedLayerFile {
  const lines = text.split(/\r?\n/);
  const builder = new LayerSetBuilder(lines.length);
  let skipped = 0;
  const skippedExamples: string[] = [];
  for (const raw of lines) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const name = line.split(/\s/, 1)[0]!;
    if (!addName(builder, name, 0, null)) {
      skipped++;
      if (skippedExamples.length < 3) skippedExamples.push(line.slice(0, 120));
    }
  }
  return {
    set: builder.build(),
    format: "names",
    skipped,
    skippedExamples,
    diskConsistentLsn: null,
  };
}

interface IndexPart {
  layer_metadata?: Record<string, { file_size?: number; generation?: number }>;
  disk_consistent_lsn?: string;
}

function parseIndexPart(text: string): OpenedLayerFile {
  let json: IndexPart;
  try {
    json = JSON.parse(text) as IndexPart;
  } catch (error) {
    throw new LayerFileError(`not valid JSON: ${(error as Error).message}`);
  }
  const metadata = json.layer_metadata;
  if (!metadata || typeof metadata !== "object")
    throw new LayerFileError("index_part.json has no layer_metadata object");
  const entries = Object.entries(metadata);
  const builder = new LayerSetBuilder(entries.length);
  let skipped = 0;
  const skippedExamples: string[] = [];
  for (const [name, meta] of entries) {
    const size = typeof meta?.file_size === "number" ? meta.file_size : 0;
    const generation = typeof meta?.generation === "number" ? meta.generation : null;
    if (!addName(builder, name, size, generation)) {
      skipped++;
      if (skippedExamples.length < 3) skippedExamples.push(name.slice(0, 120));
    }
  }
  return {
    set: builder.build(),
    format: "index_part",
    skipped,
    skippedExamples,
    diskConsistentLsn:
      typeof json.disk_consistent_lsn === "string" ? parseLsn(json.disk_consistent_lsn) : null,
  };
}

/** Parses a dropped or picked file's text; throws LayerFileError when it holds no layer. */
export function parseLayerFile(text: string): OpenedLayerFile {
  const opened = text.trimStart().startsWith("{") ? parseIndexPart(text) : parseNameList(text);
  if (opened.set.count === 0) {
    const example = opened.skippedExamples[0];
    throw new LayerFileError(
      example
        ? `no layer names found (first line that is not one: '${example}')`
        : "the file is empty",
    );
  }
  return opened;
}
