/**
 * The drawn layers, kept as a bitmap so that panning does not redraw them. Dragging only
 * translates the map, so a frame while panning is one `drawImage` of the part of the raster
 * under the view (plus the marks and axes drawn on top by the caller): a fixed cost, whatever
 * the number of layers.
 *
 * The raster covers the view plus a margin on every side (`MARGIN` of the plot), at the view's
 * scale. It is redrawn when the view leaves it, when the scale changes (zoom: then without the
 * margin, since the next wheel step changes the scale again), or when the set, the colouring,
 * the axis, the plot size or the pixel ratio change. Offsets are whole device pixels and the
 * copy is unsmoothed, so a panned map is exactly as sharp as a redrawn one.
 */
import {
  type AxisPositions,
  type ColourGroup,
  drawLayers,
  type FrameStats,
  type Plot,
  type View,
} from "./layer_map_renderer";
import type { LayerSet } from "./layer_set";

/** Margin around the view, as a fraction of the plot, in each direction. */
const MARGIN = 0.4;

function sameScale(a: number, b: number): boolean {
  return Math.abs(a - b) <= Math.abs(b) * 1e-9;
}

export class LayerRaster {
  private canvas: HTMLCanvasElement | null = null;
  private set: LayerSet | null = null;
  private groups: readonly ColourGroup[] | null = null;
  private axis: AxisPositions | null = null;
  private ratio = 0;
  private plotWidth = 0;
  private plotHeight = 0;
  private kPerPx = 0;
  private yPerPx = 0;
  /** The view the raster shows (the caller's view plus the margin, when it was drawn). */
  private extent: View = { k0: 0, k1: 0, y0: 0, y1: 0 };
  /** What the last render drew (margins included). */
  stats: FrameStats = { drawn: 0, historicDrawn: 0 };
  /** Renders since creation: for tests and the benchmark. */
  renders = 0;

  /** Draws the layers of `view` into `plot` of `target` (whose transform is scaled by `ratio`). */
  draw(
    target: CanvasRenderingContext2D,
    set: LayerSet,
    groups: readonly ColourGroup[],
    axis: AxisPositions,
    view: View,
    plot: Plot,
    ratio: number,
  ): void {
    const kPerPx = (view.k1 - view.k0) / plot.width;
    const yPerPx = (view.y1 - view.y0) / plot.height;
    const sameSource =
      this.canvas !== null &&
      this.set === set &&
      this.groups === groups &&
      this.axis === axis &&
      this.ratio === ratio &&
      this.plotWidth === plot.width &&
      this.plotHeight === plot.height;
    const scaled = sameSource && sameScale(kPerPx, this.kPerPx) && sameScale(yPerPx, this.yPerPx);
    const e = this.extent;
    const slackK = kPerPx * 1e-6;
    const slackY = yPerPx * 1e-6;
    const covered =
      scaled &&
      view.k0 >= e.k0 - slackK &&
      view.k1 <= e.k1 + slackK &&
      view.y0 >= e.y0 - slackY &&
      view.y1 <= e.y1 + slackY;
    if (!covered)
      this.render(set, groups, axis, view, plot, ratio, sameSource && !scaled ? 0 : MARGIN);
    const canvas = this.canvas!;
    const x = Math.round(((view.k0 - this.extent.k0) / kPerPx) * ratio);
    const y = Math.round(((this.extent.y1 - view.y1) / yPerPx) * ratio);
    const width = Math.round(plot.width * ratio);
    const height = Math.round(plot.height * ratio);
    target.save();
    target.setTransform(1, 0, 0, 1, 0, 0);
    target.imageSmoothingEnabled = false;
    target.drawImage(
      canvas,
      x,
      y,
      width,
      height,
      Math.round(plot.left * ratio),
      Math.round(plot.top * ratio),
      width,
      height,
    );
    target.restore();
  }

  private render(
    set: LayerSet,
    groups: readonly ColourGroup[],
    axis: AxisPositions,
    view: View,
    plot: Plot,
    ratio: number,
    margin: number,
  ): void {
    const kPerPx = (view.k1 - view.k0) / plot.width;
    const yPerPx = (view.y1 - view.y0) / plot.height;
    const mx = Math.round(plot.width * margin);
    const my = Math.round(plot.height * margin);
    const width = plot.width + 2 * mx;
    const height = plot.height + 2 * my;
    this.canvas ??= document.createElement("canvas");
    const canvas = this.canvas;
    const deviceWidth = Math.round(width * ratio);
    const deviceHeight = Math.round(height * ratio);
    // Resizing a canvas clears it; otherwise clear by hand.
    if (canvas.width !== deviceWidth || canvas.height !== deviceHeight) {
      canvas.width = deviceWidth;
      canvas.height = deviceHeight;
    }
    const context = canvas.getContext("2d")!;
    context.setTransform(1, 0, 0, 1, 0, 0);
    context.clearRect(0, 0, deviceWidth, deviceHeight);
    context.setTransform(ratio, 0, 0, ratio, 0, 0);
    const extent: View = {
      k0: view.k0 - mx * kPerPx,
      k1: view.k1 + mx * kPerPx,
      y0: view.y0 - my * yPerPx,
      y1: view.y1 + my * yPerPx,
    };
    this.stats = drawLayers(context, set, groups, axis, extent, { left: 0, top: 0, width, height });
    this.set = set;
    this.groups = groups;
    this.axis = axis;
    this.ratio = ratio;
    this.plotWidth = plot.width;
    this.plotHeight = plot.height;
    this.kPerPx = kPerPx;
    this.yPerPx = yPerPx;
    this.extent = extent;
    this.renders++;
  }
}
