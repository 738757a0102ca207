/**
 * Where `draw-timeline` and `analyze-layer-map` get their layers from — names are enough, since
 * a layer name carries its key and LSN ranges:
 *
 * - a text file (or `-` for stdin) of layer file names, one per line, as `ls` of a timeline
 *   directory or a dump like odd-brook-layernames.txt gives them. Paths are reduced to their
 *   base name; lines without `__` (metadata, ephemeral files) are skipped; `gc_cutoff:<lsn>` and
 *   `branch:<lsn>` lines (LSN as `X/Y` or 16 hex digits) become markers, as in Neon's
 *   draw-timeline; any other line that is not a layer name is an error naming the line;
 * - a running pageserver: `--url <http> --tenant <id> --timeline <id>` reads `…/layer` (names and
 *   sizes) and the timeline's GC cutoff as a marker;
 * - an `index_part.json` (`--index-part <file>`): names and sizes.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import {
  type LayerName,
  type Lsn,
  parseLayerFileName,
  parseLsn,
  parseLsnHex,
  parseTenantId,
  parseTimelineId,
} from "@pageserver/engine";
import { CliError, fetchJson, UsageError } from "../cli_support.ts";
import { indexPartLayers, readIndexPart } from "./index_part.ts";

export interface LayerDescription {
  readonly fileName: string;
  readonly name: LayerName;
  /** null when only the name is known. */
  readonly fileSize: number | null;
}

export type MarkerKind = "gc_cutoff" | "branch";

export interface LsnMarker {
  readonly kind: MarkerKind;
  readonly lsn: Lsn;
}

export interface LayerSet {
  readonly source: string;
  readonly layers: LayerDescription[];
  readonly markers: LsnMarker[];
}

export interface LayerSourceArgs {
  readonly file?: string;
  readonly url?: string;
  readonly tenant?: string;
  readonly timeline?: string;
  readonly indexPart?: string;
}

/** The options every layer-set command takes (for parseCliArgs). */
export const LAYER_SOURCE_OPTIONS = {
  url: { type: "string" },
  tenant: { type: "string" },
  timeline: { type: "string" },
  "index-part": { type: "string" },
} as const;

function parseMarkerLsn(text: string): Lsn {
  return text.includes("/") ? parseLsn(text) : parseLsnHex(text);
}

/** Parses the text form (see the module comment); `source` names the input in errors. */
export function parseLayerList(text: string, source: string): LayerSet {
  const layers: LayerDescription[] = [];
  const markers: LsnMarker[] = [];
  const lines = text.split("\n");
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index]!.trim();
    if (line === "" || line.startsWith("#")) continue;
    const marker = /^(gc_cutoff|branch):(\S+)$/.exec(line);
    try {
      if (marker) {
        markers.push({ kind: marker[1] as MarkerKind, lsn: parseMarkerLsn(marker[2]!) });
        continue;
      }
      const fileName = path.basename(line);
      if (!fileName.includes("__")) continue;
      layers.push({ fileName, name: parseLayerFileName(fileName).name, fileSize: null });
    } catch (error) {
      throw new CliError(`${source} line ${index + 1}: ${(error as Error).message}`);
    }
  }
  return { source, layers, markers };
}

interface LayerMapInfoJson {
  historic_layers: Array<{ layer_file_name: string; layer_file_size: number }>;
}

async function fromPageserver(url: string, tenant: string, timeline: string): Promise<LayerSet> {
  const base = `${url.replace(/\/+$/, "")}/v1/tenant/${tenant}/timeline/${timeline}`;
  const info = await fetchJson<LayerMapInfoJson>(`${base}/layer`);
  const layers = info.historic_layers.map((layer) => {
    try {
      return {
        fileName: layer.layer_file_name,
        name: parseLayerFileName(layer.layer_file_name).name,
        fileSize: layer.layer_file_size,
      };
    } catch (error) {
      throw new CliError(`${base}/layer: ${(error as Error).message}`);
    }
  });
  const markers: LsnMarker[] = [];
  const detail = await fetchJson<{ applied_gc_cutoff_lsn?: string }>(base).catch(() => null);
  if (detail?.applied_gc_cutoff_lsn) {
    const lsn = parseLsn(detail.applied_gc_cutoff_lsn);
    if (lsn > 0) markers.push({ kind: "gc_cutoff", lsn });
  }
  return { source: `${base}/layer`, layers, markers };
}

/** Loads the layer set the arguments name; exactly one source must be given. */
export async function loadLayerSet(args: LayerSourceArgs): Promise<LayerSet> {
  const sources = [args.file, args.url, args.indexPart].filter((s) => s !== undefined);
  if (sources.length !== 1) {
    throw new UsageError(
      "give exactly one of: a file of layer names (or -), --url with --tenant and --timeline, --index-part",
    );
  }
  if (args.url !== undefined) {
    if (!args.tenant || !args.timeline) throw new UsageError("--url needs --tenant and --timeline");
    try {
      parseTenantId(args.tenant);
      parseTimelineId(args.timeline);
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
    return fromPageserver(args.url, args.tenant, args.timeline);
  }
  if (args.indexPart !== undefined) {
    const indexPart = readIndexPart(args.indexPart);
    const layers = indexPartLayers(indexPart, args.indexPart).map((layer) => ({
      fileName: layer.fileName,
      name: layer.name,
      fileSize: layer.fileSize,
    }));
    return { source: args.indexPart, layers, markers: [] };
  }
  const file = args.file!;
  let text: string;
  try {
    text = readFileSync(file === "-" ? 0 : file, "utf8");
  } catch (error) {
    throw new CliError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? error}`);
  }
  return parseLayerList(text, file === "-" ? "stdin" : file);
}

/** The source arguments out of parsed CLI values and the optional positional file. */
export function layerSourceArgs(
  values: Record<string, unknown>,
  file: string | undefined,
): LayerSourceArgs {
  const pick = (name: string) =>
    typeof values[name] === "string" ? (values[name] as string) : undefined;
  const args: Record<string, string> = {};
  const entries: Array<[keyof LayerSourceArgs, string | undefined]> = [
    ["file", file],
    ["url", pick("url")],
    ["tenant", pick("tenant")],
    ["timeline", pick("timeline")],
    ["indexPart", pick("index-part")],
  ];
  for (const [key, value] of entries) if (value !== undefined) args[key] = value;
  return args as LayerSourceArgs;
}
