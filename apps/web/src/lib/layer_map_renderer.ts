/**
 * Draws a LayerSet on a 2-D canvas: key rank on x, LSN upward on y. Deltas are rectangles,
 * images (one LSN tall) are bars of at least 2 px, in-memory layers are bands across all keys.
 *
 * Speed (26,690 layers within a frame): layers are grouped by colour once per (set, colouring)
 * — `buildGroups` — so a frame sets `fillStyle` once per group and then only does arithmetic on
 * typed arrays and `fillRect`; layers outside the view are culled with two comparisons per axis;
 * thin rectangles are merged per pixel row (see drawLayers); nothing is allocated per layer.
 * Outlines are drawn only for layers big enough on screen to show them.
 *
 * The y axis is in "axis units": the LSN itself (linear) or the LSN's rank among the map's
 * distinct LSN boundaries (`rank`, which gives image layers and short deltas visible height when
 * a map spans terabytes of WAL). `axisPositions` computes both ends of every layer once.
 */
import { describeKey } from "./key";
import {
  KEY_MAX_HEX,
  type LayerSet,
  lsnRanks,
  TIER_FROZEN,
  TIER_IMAGE,
  TIER_L0,
  TIER_L1,
  TIER_OPEN,
} from "./layer_set";
import { formatLsn } from "./lsn";

export type ColourBy = "tier" | "level" | "visibility" | "residence";
export type LsnAxis = "linear" | "rank";

/** Draw order, bottom to top. */
const TIER_ORDER = [TIER_L1, TIER_L0, TIER_IMAGE, TIER_FROZEN, TIER_OPEN];

export const TIER_COLOURS: Record<number, string> = {
  [TIER_L0]: "rgba(245, 158, 11, 0.55)",
  [TIER_L1]: "rgba(59, 130, 246, 0.5)",
  [TIER_IMAGE]: "rgba(16, 185, 129, 0.95)",
  [TIER_FROZEN]: "rgba(168, 85, 247, 0.6)",
  [TIER_OPEN]: "rgba(236, 72, 153, 0.6)",
};
const LEVEL_COLOURS = [
  "rgba(239, 68, 68, 0.6)",
  "rgba(249, 115, 22, 0.6)",
  "rgba(234, 179, 8, 0.6)",
  "rgba(34, 197, 94, 0.6)",
  "rgba(6, 182, 212, 0.6)",
  "rgba(59, 130, 246, 0.6)",
  "rgba(139, 92, 246, 0.6)",
];
const UNKNOWN_COLOUR = "rgba(148, 163, 184, 0.5)";

export interface ColourGroup {
  readonly colour: string;
  readonly label: string;
  readonly tier: number;
  readonly indices: Uint32Array;
}

function colourOf(set: LayerSet, i: number, by: ColourBy): { colour: string; label: string } {
  const tier = set.tier[i]!;
  if (tier === TIER_OPEN || tier === TIER_FROZEN || by === "tier")
    return { colour: TIER_COLOURS[tier]!, label: ["L0", "L1", "image", "open", "frozen"][tier]! };
  if (by === "level") {
    const level = set.level[i]!;
    if (level < 0) return { colour: UNKNOWN_COLOUR, label: "no level" };
    return { colour: LEVEL_COLOURS[level % LEVEL_COLOURS.length]!, label: `level ${level}` };
  }
  if (by === "visibility")
    return set.covered[i]
      ? { colour: "rgba(100, 116, 139, 0.45)", label: "covered" }
      : { colour: "rgba(34, 197, 94, 0.6)", label: "visible" };
  return set.remote[i]
    ? { colour: "rgba(100, 116, 139, 0.45)", label: "remote" }
    : { colour: "rgba(14, 165, 233, 0.6)", label: "resident" };
}

/** Groups layers by colour within draw-order tiers (once per set and colouring). */
export function buildGroups(set: LayerSet, by: ColourBy): ColourGroup[] {
  const groups: ColourGroup[] = [];
  for (const tier of TIER_ORDER) {
    const byColour = new Map<string, { label: string; indices: number[] }>();
    for (let i = 0; i < set.count; i++) {
      if (set.tier[i] !== tier) continue;
      const { colour, label } = colourOf(set, i, by);
      let group = byColour.get(colour);
      if (!group) byColour.set(colour, (group = { label, indices: [] }));
      group.indices.push(i);
    }
    for (const [colour, group] of byColour)
      groups.push({ colour, label: group.label, tier, indices: Uint32Array.from(group.indices) });
  }
  return groups;
}

export interface AxisPositions {
  readonly mode: LsnAxis;
  readonly yStart: Float64Array;
  readonly yEnd: Float64Array;
  /** rank mode: the sorted distinct LSNs (rank → LSN). */
  readonly ranks: Float64Array | null;
  readonly min: number;
  readonly max: number;
}

function rankOf(ranks: Float64Array, lsn: number): number {
  let low = 0;
  let high = ranks.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (ranks[middle]! < lsn) low = middle + 1;
    else high = middle;
  }
  if (low < ranks.length && ranks[low] === lsn) return low;
  // Between two boundaries: interpolate, so marks (GC cutoff…) land where they belong.
  const below = ranks[low - 1] ?? ranks[0] ?? 0;
  const above = ranks[low] ?? below;
  return above === below ? low : low - 1 + (lsn - below) / (above - below);
}

export function axisPositions(set: LayerSet, mode: LsnAxis): AxisPositions {
  if (mode === "linear" || set.count === 0)
    return {
      mode: "linear",
      yStart: set.lsnStart,
      yEnd: set.lsnEnd,
      ranks: null,
      min: set.lsnMin,
      max: set.lsnMax,
    };
  const ranks = lsnRanks(set);
  const yStart = new Float64Array(set.count);
  const yEnd = new Float64Array(set.count);
  for (let i = 0; i < set.count; i++) {
    yStart[i] = rankOf(ranks, set.lsnStart[i]!);
    yEnd[i] = rankOf(ranks, set.lsnEnd[i]!);
  }
  return { mode, yStart, yEnd, ranks, min: 0, max: Math.max(ranks.length - 1, 1) };
}

/** Axis units of an LSN (for marks) and back (for labels and picking an LSN). */
export function lsnToAxis(axis: AxisPositions, lsn: number): number {
  return axis.ranks ? rankOf(axis.ranks, lsn) : lsn;
}

export function axisToLsn(axis: AxisPositions, y: number): number {
  if (!axis.ranks) return Math.round(y);
  const low = Math.max(0, Math.min(axis.ranks.length - 1, Math.floor(y)));
  const high = Math.min(axis.ranks.length - 1, low + 1);
  const a = axis.ranks[low] ?? 0;
  const b = axis.ranks[high] ?? a;
  return Math.round(a + (b - a) * Math.max(0, Math.min(1, y - low)));
}

/** The visible window: key ranks [k0, k1] and axis units [y0, y1]. */
export interface View {
  k0: number;
  k1: number;
  y0: number;
  y1: number;
}

/** The view that shows every layer (and, when given, LSNs up to `lsnMax` in axis units). */
export function fitView(set: LayerSet, axis: AxisPositions, extraMax?: number): View {
  const keys = Math.max(set.keys.length - 1, 1);
  const min = set.count === 0 && extraMax !== undefined ? extraMax - 1 : axis.min;
  const max = extraMax !== undefined && extraMax > axis.max ? extraMax : axis.max;
  const span = Math.max(max - min, 1);
  return { k0: 0, k1: keys, y0: min - span * 0.02, y1: max + span * 0.02 };
}

/** An in-memory layer: a band over the whole key space. */
export interface Band {
  readonly kind: "open" | "frozen";
  readonly lsnStart: number;
  readonly lsnEnd: number;
}

/** Draws the in-memory layers on top of the historic ones. */
export function drawBands(
  context: CanvasRenderingContext2D,
  bands: readonly Band[],
  axis: AxisPositions,
  view: View,
  plot: Plot,
): number {
  const sy = plot.height / (view.y1 - view.y0);
  let drawn = 0;
  for (const band of bands) {
    const top = plot.top + plot.height - (lsnToAxis(axis, band.lsnEnd) - view.y0) * sy;
    const bottom = plot.top + plot.height - (lsnToAxis(axis, band.lsnStart) - view.y0) * sy;
    if (bottom < plot.top || top > plot.top + plot.height) continue;
    const y0 = Math.max(plot.top, top);
    const y1 = Math.min(plot.top + plot.height, bottom);
    context.fillStyle = TIER_COLOURS[band.kind === "open" ? TIER_OPEN : TIER_FROZEN]!;
    context.fillRect(plot.left, y0, plot.width, Math.max(2, y1 - y0));
    drawn++;
  }
  return drawn;
}

export interface Plot {
  /** Plot rectangle inside the canvas, CSS pixels. */
  readonly left: number;
  readonly top: number;
  readonly width: number;
  readonly height: number;
}

export interface Mark {
  readonly lsn: number;
  readonly label: string;
  readonly colour: string;
}

export interface FrameStats {
  drawn: number;
  historicDrawn: number;
}

/** Pixel rectangle of layer i in the plot (not clamped); images get at least 2 px of height. */
function layerRect(
  set: LayerSet,
  axis: AxisPositions,
  view: View,
  plot: Plot,
  i: number,
  out: Float64Array,
): void {
  const sx = plot.width / (view.k1 - view.k0);
  const sy = plot.height / (view.y1 - view.y0);
  const x0 = plot.left + (set.keyStartRank[i]! - view.k0) * sx;
  const x1 = plot.left + (set.keyEndRank[i]! - view.k0) * sx;
  const top = plot.top + plot.height - (axis.yEnd[i]! - view.y0) * sy;
  const bottom = plot.top + plot.height - (axis.yStart[i]! - view.y0) * sy;
  const minHeight = set.tier[i] === TIER_IMAGE ? 2 : 1;
  const height = Math.max(minHeight, bottom - top);
  out[0] = x0;
  out[1] = bottom - height;
  out[2] = Math.max(1, x1 - x0);
  out[3] = height;
}

const scratch = new Float64Array(4);

/** Rectangles at most this tall (CSS px) are merged per pixel row before they are drawn. */
const THIN_PX = 3;
/** Packing of a thin rectangle into one exact double: row key · 2^26 + x0 · 2^13 + x1. */
const X_BITS = 8192;
const ROW_SCALE = X_BITS * X_BITS;
/** Packed thin rectangles of the current group; grown as needed, reused across frames. */
let thinKeys = new Float64Array(4096);

/**
 * Draws the layers; returns how many layers were on screen (culled ones are not counted).
 *
 * Thin rectangles — image bars, and short deltas when zoomed out — are most of a big map
 * (24,070 of odd-brook's 26,690 layers are images) and pile up on the same few pixel rows. They
 * are not drawn one by one: each becomes a packed number (pixel row, height, x0, x1), a group's
 * numbers are sorted (a typed-array sort, no comparator) and overlapping spans of one row are
 * merged, so the canvas gets one fillRect per visible span instead of one per layer. Overlaps
 * of thin bars therefore do not darken; a thin bar's x is rounded to whole pixels.
 */
export function drawLayers(
  context: CanvasRenderingContext2D,
  set: LayerSet,
  groups: readonly ColourGroup[],
  axis: AxisPositions,
  view: View,
  plot: Plot,
): FrameStats {
  const right = plot.left + plot.width;
  const bottomEdge = plot.top + plot.height;
  const sx = plot.width / (view.k1 - view.k0);
  const sy = plot.height / (view.y1 - view.y0);
  // Origins of the packed coordinates: every culled-in rectangle lands at 0 or above.
  const rowOrigin = plot.top - 8;
  const xOrigin = plot.left - 2;
  const xMax = Math.min(X_BITS - 1, plot.width + 4);
  const { keyStartRank, keyEndRank, tier } = set;
  const { yStart, yEnd } = axis;
  let drawn = 0;
  let historicDrawn = 0;
  context.save();
  context.beginPath();
  context.rect(plot.left, plot.top, plot.width, plot.height);
  context.clip();
  for (const group of groups) {
    context.fillStyle = group.colour;
    const minHeight = group.tier === TIER_IMAGE ? 2 : 1;
    const historic = group.tier === TIER_L0 || group.tier === TIER_L1 || group.tier === TIER_IMAGE;
    const outline: number[] = [];
    const indices = group.indices;
    if (thinKeys.length < indices.length) thinKeys = new Float64Array(indices.length * 2);
    let thin = 0;
    for (let j = 0; j < indices.length; j++) {
      const i = indices[j]!;
      let x0 = plot.left + (keyStartRank[i]! - view.k0) * sx;
      let x1 = plot.left + (keyEndRank[i]! - view.k0) * sx;
      if (x1 < plot.left || x0 > right) continue;
      const top = bottomEdge - (yEnd[i]! - view.y0) * sy;
      const bottom = bottomEdge - (yStart[i]! - view.y0) * sy;
      if (bottom < plot.top - minHeight || top > bottomEdge) continue;
      if (x0 < plot.left - 1) x0 = plot.left - 1;
      if (x1 > right + 1) x1 = right + 1;
      const width = x1 - x0 < 1 ? 1 : x1 - x0;
      const height = bottom - top < minHeight ? minHeight : bottom - top;
      drawn++;
      if (historic) historicDrawn++;
      if (height <= THIN_PX) {
        const row = Math.round(bottom - height - rowOrigin) * 4 + Math.round(height);
        const a = Math.round(x0 - xOrigin);
        const b = Math.min(xMax, Math.max(a + 1, Math.round(x0 + width - xOrigin)));
        thinKeys[thin++] = row * ROW_SCALE + a * X_BITS + b;
        continue;
      }
      context.fillRect(x0, bottom - height, width, height);
      if (width >= 6 && height >= 4 && tier[i] !== TIER_IMAGE)
        outline.push(x0, bottom - height, width, height);
    }
    if (thin > 0) {
      const keys = thinKeys.subarray(0, thin);
      keys.sort();
      let spanRow = -1;
      let spanX0 = 0;
      let spanX1 = 0;
      const flush = () => {
        if (spanRow >= 0)
          context.fillRect(
            spanX0 + xOrigin,
            Math.floor(spanRow / 4) + rowOrigin,
            spanX1 - spanX0,
            spanRow % 4,
          );
      };
      for (let k = 0; k < thin; k++) {
        const key = keys[k]!;
        const row = Math.floor(key / ROW_SCALE);
        const rest = key - row * ROW_SCALE;
        const a = Math.floor(rest / X_BITS);
        const b = rest - a * X_BITS;
        if (row === spanRow && a <= spanX1) {
          if (b > spanX1) spanX1 = b;
        } else {
          flush();
          spanRow = row;
          spanX0 = a;
          spanX1 = b;
        }
      }
      flush();
    }
    if (outline.length > 0) {
      context.strokeStyle = "rgba(15, 23, 42, 0.55)";
      context.lineWidth = 1;
      context.beginPath();
      for (let o = 0; o < outline.length; o += 4)
        context.rect(
          outline[o]! + 0.5,
          outline[o + 1]! + 0.5,
          outline[o + 2]! - 1,
          outline[o + 3]! - 1,
        );
      context.stroke();
    }
  }
  context.restore();
  return { drawn, historicDrawn };
}

/** The topmost layer under (x, y) in CSS pixels, or -1. Images are easier to hit (±3 px). */
export function hitTest(
  set: LayerSet,
  groups: readonly ColourGroup[],
  axis: AxisPositions,
  view: View,
  plot: Plot,
  x: number,
  y: number,
): number {
  for (let g = groups.length - 1; g >= 0; g--) {
    const group = groups[g]!;
    const slack = group.tier === TIER_IMAGE ? 3 : 0;
    for (let j = group.indices.length - 1; j >= 0; j--) {
      const i = group.indices[j]!;
      layerRect(set, axis, view, plot, i, scratch);
      if (
        x >= scratch[0]! &&
        x <= scratch[0]! + scratch[2]! &&
        y >= scratch[1]! - slack &&
        y <= scratch[1]! + scratch[3]! + slack
      )
        return i;
    }
  }
  return -1;
}

const MARK_LABEL_HEIGHT = 13;

/**
 * Horizontal lines across the plot at marked LSNs (GC cutoff, branch points, leases…). Labels
 * sit at the right end of their line; a label that would cover one already drawn (marks a few
 * pixels apart, or at one LSN) moves left past it.
 */
export function drawMarks(
  context: CanvasRenderingContext2D,
  marks: readonly Mark[],
  axis: AxisPositions,
  view: View,
  plot: Plot,
): void {
  const sy = plot.height / (view.y1 - view.y0);
  const placed: Array<{ left: number; right: number; y: number }> = [];
  context.save();
  context.font = "11px ui-monospace, monospace";
  context.textAlign = "left";
  for (const mark of marks) {
    const y = plot.top + plot.height - (lsnToAxis(axis, mark.lsn) - view.y0) * sy;
    if (y < plot.top || y > plot.top + plot.height) continue;
    context.strokeStyle = mark.colour;
    context.setLineDash([6, 4]);
    context.beginPath();
    context.moveTo(plot.left, Math.round(y) + 0.5);
    context.lineTo(plot.left + plot.width, Math.round(y) + 0.5);
    context.stroke();
    const width = context.measureText(mark.label).width;
    let right = plot.left + plot.width - 4;
    for (let moved = true; moved; ) {
      moved = false;
      for (const other of placed) {
        const overlaps =
          Math.abs(other.y - y) < MARK_LABEL_HEIGHT &&
          right > other.left - 6 &&
          right - width < other.right + 6;
        if (overlaps) {
          right = other.left - 8;
          moved = true;
        }
      }
    }
    placed.push({ left: right - width, right, y });
    context.fillStyle = mark.colour;
    context.fillText(mark.label, right - width, y - 3);
  }
  context.restore();
}

/** Axis labels: LSNs on the left, decoded keys along the bottom. */
export function drawAxes(
  context: CanvasRenderingContext2D,
  set: LayerSet,
  axis: AxisPositions,
  view: View,
  plot: Plot,
): void {
  context.save();
  context.fillStyle = "#94a3b8";
  context.strokeStyle = "#334155";
  context.font = "11px ui-monospace, monospace";
  context.strokeRect(plot.left + 0.5, plot.top + 0.5, plot.width - 1, plot.height - 1);
  context.textAlign = "right";
  context.textBaseline = "middle";
  const yTicks = 6;
  for (let t = 0; t <= yTicks; t++) {
    const value = view.y0 + ((view.y1 - view.y0) * t) / yTicks;
    const y = plot.top + plot.height - (plot.height * t) / yTicks;
    context.fillText(formatLsn(Math.max(0, axisToLsn(axis, value))), plot.left - 6, y);
  }
  // Key labels at the boundary nearest each tick: one label per distinct boundary, none drawn
  // over its left neighbour (a map with few distinct keys has fewer labels than ticks).
  context.textAlign = "left";
  context.textBaseline = "top";
  const xTicks = Math.max(2, Math.floor(plot.width / 220));
  const sx = plot.width / (view.k1 - view.k0);
  let lastRank = -1;
  let lastRight = Number.NEGATIVE_INFINITY;
  for (let t = 0; t <= xTicks; t++) {
    const rank = Math.max(
      0,
      Math.min(set.keys.length - 1, Math.round(view.k0 + ((view.k1 - view.k0) * t) / xTicks)),
    );
    const key = set.keys[rank];
    if (!key || rank === lastRank) continue;
    const full = key === KEY_MAX_HEX ? "end of key space" : describeKey(key);
    const text = full.length > 34 ? `${full.slice(0, 33)}…` : full;
    const width = context.measureText(text).width;
    const at = plot.left + (rank - view.k0) * sx;
    const left = Math.max(plot.left, Math.min(plot.left + plot.width - width, at - width / 2));
    if (left < lastRight + 12) continue;
    context.fillText(text, left, plot.top + plot.height + 6);
    lastRank = rank;
    lastRight = left + width;
  }
  context.restore();
}

/** Outlines the selected layer (the one whose details are open). */
export function drawSelection(
  context: CanvasRenderingContext2D,
  set: LayerSet,
  axis: AxisPositions,
  view: View,
  plot: Plot,
  index: number,
): void {
  if (index < 0 || index >= set.count) return;
  layerRect(set, axis, view, plot, index, scratch);
  context.save();
  context.beginPath();
  context.rect(plot.left, plot.top, plot.width, plot.height);
  context.clip();
  context.strokeStyle = "#f8fafc";
  context.lineWidth = 2;
  context.strokeRect(scratch[0]! - 1, scratch[1]! - 1, scratch[2]! + 2, scratch[3]! + 2);
  context.restore();
}

export interface LegendEntry {
  readonly label: string;
  readonly colour: string;
  readonly count: number;
}

/** One legend entry per label, in draw order, with how many layers carry it. */
export function legendOf(groups: readonly ColourGroup[]): LegendEntry[] {
  const byLabel = new Map<string, { colour: string; count: number }>();
  for (const group of groups) {
    const entry = byLabel.get(group.label);
    if (entry) entry.count += group.indices.length;
    else byLabel.set(group.label, { colour: group.colour, count: group.indices.length });
  }
  return [...byLabel].map(([label, { colour, count }]) => ({ label, colour, count }));
}
