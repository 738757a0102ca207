/**
 * `pagectl draw-timeline`: an SVG of a timeline's layers over key × LSN, as Neon's pagectl
 * draw-timeline draws it — key to the right, LSN upwards, every delta a rectangle and every
 * image a thick bar at its LSN; `gc_cutoff:`/`branch:` markers as horizontal lines.
 *
 *     pagectl draw-timeline <names.txt|-> [-o out.svg]
 *     pagectl draw-timeline --url http://127.0.0.1:9898 --tenant T --timeline TL [-o out.svg]
 *     pagectl draw-timeline --index-part index_part.json [-o out.svg]
 *
 * Both axes are coordinate-compressed: a key or LSN value becomes its rank among all the values
 * used, so a timeline spanning terabytes of WAL and the whole key space still shows every layer
 * at a visible size. The picture therefore shows order and overlap, not distances. L0 deltas are
 * filled orange; every shape carries its layer name as a `<title>` (a tooltip in browsers). One
 * `<rect>` per layer and no other rects, so shapes can be counted. Counts go to stderr.
 */
import { writeFileSync } from "node:fs";
import { isL0Name } from "@pageserver/engine";
import { parseCliArgs } from "../cli_support.ts";
import {
  LAYER_SOURCE_OPTIONS,
  type LayerSet,
  layerSourceArgs,
  loadLayerSet,
} from "./layer_source.ts";

/** Vertical stretch: LSN ranks are drawn this many units apart. */
const LSN_STRETCH = 3;
/** Room left of the first key, for the marker labels. */
const KEY_MARGIN = 5;
/** Share of a delta's height (and of one key unit) left empty on each side, so stacks separate. */
const INSET_SHARE = 0.05;
const IMAGE_BAR_HEIGHT = 0.6;

function rank<T>(values: Iterable<T>, compare: (a: T, b: T) => number): Map<T, number> {
  const sorted = [...new Set(values)].sort(compare);
  return new Map(sorted.map((value, index) => [value, index]));
}

function num(value: number): string {
  return String(Math.round(value * 100) / 100);
}

function escapeXml(text: string): string {
  return text.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

export interface TimelineDrawing {
  readonly svg: string;
  readonly deltas: number;
  readonly images: number;
}

/** Renders a layer set; pure, for tests and for the console's download. */
export function drawTimeline(set: LayerSet): TimelineDrawing {
  const keyRank = rank(
    set.layers.flatMap((layer) => [layer.name.keyRange.start, layer.name.keyRange.end]),
    (a, b) => (a < b ? -1 : a > b ? 1 : 0),
  );
  const lsnRank = rank<number>(
    [
      ...set.layers.flatMap((layer) => [layer.name.lsnRange.start, layer.name.lsnRange.end]),
      ...set.markers.map((marker) => marker.lsn),
    ],
    (a, b) => a - b,
  );
  const width = keyRank.size + 2 * KEY_MARGIN;
  const height = LSN_STRETCH * (lsnRank.size + 1);
  const y = (lsn: number) => height - LSN_STRETCH * (lsnRank.get(lsn)! + 0.5);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    "<style>rect{stroke:#000;stroke-width:0.1}.d{fill:none}.l0{fill:#f4a261;fill-opacity:0.4}" +
      ".i{fill:#000}line{stroke-width:0.4}.gc_cutoff{stroke:#e00}.branch{stroke:#0a0}</style>",
  ];
  let deltas = 0;
  let images = 0;
  for (const layer of set.layers) {
    const { keyRange, lsnRange } = layer.name;
    const x0 = KEY_MARGIN + keyRank.get(keyRange.start)! + INSET_SHARE;
    const x1 = KEY_MARGIN + keyRank.get(keyRange.end)! - INSET_SHARE;
    const title = `<title>${escapeXml(layer.fileName)}</title>`;
    if (layer.name.kind === "image") {
      images++;
      const top = y(lsnRange.start) - IMAGE_BAR_HEIGHT / 2;
      out.push(
        `<rect class="i" x="${num(x0)}" y="${num(top)}" width="${num(x1 - x0)}" height="${IMAGE_BAR_HEIGHT}">${title}</rect>`,
      );
      continue;
    }
    deltas++;
    const top = y(lsnRange.end);
    const bottom = y(lsnRange.start);
    const inset = (bottom - top) * INSET_SHARE;
    const kind = isL0Name(layer.name) ? "l0" : "d";
    out.push(
      `<rect class="${kind}" x="${num(x0)}" y="${num(top + inset)}" width="${num(x1 - x0)}" height="${num(bottom - top - 2 * inset)}" rx="0.4">${title}</rect>`,
    );
  }
  for (const marker of set.markers) {
    const at = num(y(marker.lsn));
    out.push(
      `<line class="${marker.kind}" x1="0" y1="${at}" x2="${width}" y2="${at}"><title>${marker.kind}</title></line>`,
    );
  }
  out.push("</svg>");
  return { svg: `${out.join("\n")}\n`, deltas, images };
}

export async function drawTimelineCommand(args: string[]): Promise<void> {
  const { values, positionals } = parseCliArgs(
    args,
    { ...LAYER_SOURCE_OPTIONS, output: { type: "string", short: "o" } },
    { min: 0, max: 1 },
  );
  const set = await loadLayerSet(layerSourceArgs(values, positionals[0]));
  const drawing = drawTimeline(set);
  if (typeof values.output === "string") writeFileSync(values.output, drawing.svg);
  else process.stdout.write(drawing.svg);
  process.stderr.write(`num_images: ${drawing.images}\nnum_deltas: ${drawing.deltas}\n`);
}
