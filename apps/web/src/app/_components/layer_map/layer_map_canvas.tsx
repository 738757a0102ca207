"use client";
/**
 * The interactive layer map: a canvas (key × LSN), zoom with the wheel (shift: LSN only, alt:
 * keys only), pan by dragging, double-click to fit, hover for a tooltip (file name, size, LSN
 * range, key range decoded as relation and block), click for details. Redraws on the next
 * animation frame whenever the set, the view or the colouring changes, at most once per frame.
 *
 * For tests and the benchmark the canvas exposes, in its dataset: `layerCount` (historic layers
 * in the map), `drawnCount` (layers drawn by the last render of the layer raster, see
 * lib/layer_raster.ts: panning reuses it), `frames`, `renders` (of the raster), `drawMs` (last
 * frame); it marks `layer-map:first-paint` once per new set, and appends each frame's draw time
 * to `window.__layerMapDrawTimes` when that array exists (with `window.__layerMapFlush` set, a
 * 1-pixel read forces the canvas to rasterise inside the timed section).
 */
import { useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from "react";
import { describeKey } from "~/lib/key";
import {
  axisPositions,
  axisToLsn,
  type Band,
  buildGroups,
  type ColourBy,
  drawAxes,
  drawBands,
  drawMarks,
  drawSelection,
  fitView,
  hitTest,
  type LsnAxis,
  legendOf,
  lsnToAxis,
  type Mark,
  type Plot,
  TIER_COLOURS,
  type View,
} from "~/lib/layer_map_renderer";
import { LayerRaster } from "~/lib/layer_raster";
import { type LayerSet, TIER_FROZEN, TIER_NAMES, TIER_OPEN } from "~/lib/layer_set";
import { formatBytes, formatLsn } from "~/lib/lsn";

declare global {
  interface Window {
    __layerMapDrawTimes?: number[];
    __layerMapFlush?: boolean;
  }
}

const MARGIN = { left: 96, right: 12, top: 10, bottom: 28 };
const NO_MARKS: readonly Mark[] = [];
const NO_BANDS: readonly Band[] = [];

export interface LayerMapCanvasProps {
  readonly set: LayerSet;
  readonly marks?: readonly Mark[];
  /** In-memory layers (open, frozen), drawn as bands across all keys. */
  readonly bands?: readonly Band[];
  readonly colourBy?: ColourBy;
  readonly lsnAxis?: LsnAxis;
  readonly height?: number;
  readonly onSelect?: (index: number) => void;
  /** The index of the layer to outline (its details are open), or -1. */
  readonly selected?: number;
  /** Called with the LSN under the pointer on shift+click (e.g. to branch there). */
  readonly onPickLsn?: (lsn: number) => void;
  readonly testId?: string;
}

interface Hover {
  readonly index: number;
  readonly x: number;
  readonly y: number;
}

export function LayerMapCanvas(props: LayerMapCanvasProps) {
  const {
    set,
    marks = NO_MARKS,
    bands = NO_BANDS,
    colourBy = "tier",
    lsnAxis = "linear",
    height = 520,
    selected = -1,
  } = props;
  const canvasRef = useRef<HTMLCanvasElement>(null);
  const wrapperRef = useRef<HTMLDivElement>(null);
  const [width, setWidth] = useState(900);
  const [hover, setHover] = useState<Hover | null>(null);
  const groups = useMemo(() => buildGroups(set, colourBy), [set, colourBy]);
  const axis = useMemo(() => axisPositions(set, lsnAxis), [set, lsnAxis]);
  const bandMax =
    bands.length > 0 ? lsnToAxis(axis, Math.max(...bands.map((b) => b.lsnEnd))) : undefined;
  const viewRef = useRef<View>(fitView(set, axis, bandMax));
  /** Until the user zooms or pans, every update re-fits (a live map keeps growing). */
  const userMoved = useRef(false);
  const lastAxis = useRef(lsnAxis);
  const frameRef = useRef(0);
  const paintedSet = useRef<LayerSet | null>(null);
  const rasterRef = useRef(new LayerRaster());
  const drag = useRef<{ x: number; y: number; view: View; moved: boolean } | null>(null);

  const plot: Plot = useMemo(
    () => ({
      left: MARGIN.left,
      top: MARGIN.top,
      width: Math.max(10, width - MARGIN.left - MARGIN.right),
      height: Math.max(10, height - MARGIN.top - MARGIN.bottom),
    }),
    [width, height],
  );

  if (lastAxis.current !== lsnAxis) {
    lastAxis.current = lsnAxis;
    userMoved.current = false;
  }
  if (!userMoved.current) viewRef.current = fitView(set, axis, bandMax);

  const draw = useCallback(() => {
    frameRef.current = 0;
    const canvas = canvasRef.current;
    if (!canvas) return;
    const context = canvas.getContext("2d", { alpha: false });
    if (!context) return;
    const started = performance.now();
    const ratio = window.devicePixelRatio || 1;
    context.setTransform(ratio, 0, 0, ratio, 0, 0);
    context.fillStyle = "#0b1120";
    context.fillRect(0, 0, width, height);
    const raster = rasterRef.current;
    raster.draw(context, set, groups, axis, viewRef.current, plot, ratio);
    const stats = { ...raster.stats };
    stats.drawn += drawBands(context, bands, axis, viewRef.current, plot);
    drawMarks(context, marks, axis, viewRef.current, plot);
    drawSelection(context, set, axis, viewRef.current, plot, selected);
    drawAxes(context, set, axis, viewRef.current, plot);
    if (window.__layerMapFlush) context.getImageData(0, 0, 1, 1);
    const elapsed = performance.now() - started;
    canvas.dataset.drawMs = elapsed.toFixed(3);
    canvas.dataset.drawnCount = String(stats.drawn);
    canvas.dataset.historicDrawnCount = String(stats.historicDrawn);
    canvas.dataset.frames = String(Number(canvas.dataset.frames ?? 0) + 1);
    canvas.dataset.renders = String(raster.renders);
    window.__layerMapDrawTimes?.push(elapsed);
    if (paintedSet.current !== set) {
      paintedSet.current = set;
      // The frame is on screen once the browser has produced it: mark at the next frame.
      requestAnimationFrame(() => {
        performance.mark("layer-map:first-paint", { detail: { count: set.count } });
        canvas.dataset.paintedCount = String(set.count);
      });
    }
  }, [set, groups, axis, plot, marks, bands, width, height, selected]);

  // The frame runs the newest draw: a frame requested before a re-render (a new width, a new
  // set) must not paint with the closure of the render that requested it.
  const drawRef = useRef(draw);
  drawRef.current = draw;
  const schedule = useCallback(() => {
    if (frameRef.current === 0) frameRef.current = requestAnimationFrame(() => drawRef.current());
  }, []);

  // biome-ignore lint/correctness/useExhaustiveDependencies: redraw whenever draw's inputs change
  useEffect(() => {
    schedule();
  }, [draw, schedule]);

  useEffect(() => () => cancelAnimationFrame(frameRef.current), []);

  // Track the wrapper's width; measured before the first frame, so that frame is not wasted on a
  // guessed width.
  useLayoutEffect(() => {
    const wrapper = wrapperRef.current;
    if (!wrapper) return;
    const initial = Math.floor(wrapper.clientWidth);
    if (initial > 0) setWidth(initial);
    const observer = new ResizeObserver((entries) => {
      const next = Math.floor(entries[0]?.contentRect.width ?? 900);
      if (next > 0) setWidth(next);
    });
    observer.observe(wrapper);
    return () => observer.disconnect();
  }, []);

  // Zoom with the wheel (non-passive, to keep the page from scrolling).
  useEffect(() => {
    const canvas = canvasRef.current;
    if (!canvas) return;
    const onWheel = (event: WheelEvent) => {
      event.preventDefault();
      const rect = canvas.getBoundingClientRect();
      const px = (event.clientX - rect.left - plot.left) / plot.width;
      const py = 1 - (event.clientY - rect.top - plot.top) / plot.height;
      const factor = 1.15 ** (event.deltaY / 100);
      const view = viewRef.current;
      const zoomKeys = !event.shiftKey;
      const zoomLsn = !event.altKey;
      const next = { ...view };
      if (zoomKeys) {
        const k = view.k0 + px * (view.k1 - view.k0);
        next.k0 = k - (k - view.k0) * factor;
        next.k1 = k + (view.k1 - k) * factor;
      }
      if (zoomLsn) {
        const y = view.y0 + py * (view.y1 - view.y0);
        next.y0 = y - (y - view.y0) * factor;
        next.y1 = y + (view.y1 - y) * factor;
      }
      if (next.k1 - next.k0 > 1e-3 && next.y1 - next.y0 > 1e-3) viewRef.current = next;
      userMoved.current = true;
      schedule();
    };
    canvas.addEventListener("wheel", onWheel, { passive: false });
    return () => canvas.removeEventListener("wheel", onWheel);
  }, [plot, schedule]);

  const localPoint = (event: React.PointerEvent | React.MouseEvent) => {
    const rect = canvasRef.current!.getBoundingClientRect();
    return { x: event.clientX - rect.left, y: event.clientY - rect.top };
  };

  const onPointerDown = (event: React.PointerEvent<HTMLCanvasElement>) => {
    event.currentTarget.setPointerCapture(event.pointerId);
    const { x, y } = localPoint(event);
    drag.current = { x, y, view: { ...viewRef.current }, moved: false };
  };

  const onPointerMove = (event: React.PointerEvent<HTMLCanvasElement>) => {
    const { x, y } = localPoint(event);
    const active = drag.current;
    if (active) {
      const dx = x - active.x;
      const dy = y - active.y;
      if (Math.abs(dx) + Math.abs(dy) > 2) active.moved = userMoved.current = true;
      const v = active.view;
      const kPerPx = (v.k1 - v.k0) / plot.width;
      const yPerPx = (v.y1 - v.y0) / plot.height;
      viewRef.current = {
        k0: v.k0 - dx * kPerPx,
        k1: v.k1 - dx * kPerPx,
        y0: v.y0 + dy * yPerPx,
        y1: v.y1 + dy * yPerPx,
      };
      setHover(null);
      schedule();
      return;
    }
    const index = hitTest(set, groups, axis, viewRef.current, plot, x, y);
    setHover(index < 0 ? null : { index, x, y });
  };

  const onPointerUp = (event: React.PointerEvent<HTMLCanvasElement>) => {
    const active = drag.current;
    drag.current = null;
    if (!active || active.moved) return;
    const { x, y } = localPoint(event);
    if (event.shiftKey && props.onPickLsn) {
      const v = viewRef.current;
      const units = v.y0 + (1 - (y - plot.top) / plot.height) * (v.y1 - v.y0);
      props.onPickLsn(axisToLsn(axis, units));
      return;
    }
    const index = hitTest(set, groups, axis, viewRef.current, plot, x, y);
    if (index >= 0) props.onSelect?.(index);
  };

  const fit = () => {
    userMoved.current = false;
    viewRef.current = fitView(set, axis, bandMax);
    schedule();
  };
  const zoom = (factor: number) => {
    userMoved.current = true;
    const v = viewRef.current;
    const k = (v.k0 + v.k1) / 2;
    const y = (v.y0 + v.y1) / 2;
    viewRef.current = {
      k0: k - ((v.k1 - v.k0) / 2) * factor,
      k1: k + ((v.k1 - v.k0) / 2) * factor,
      y0: y - ((v.y1 - v.y0) / 2) * factor,
      y1: y + ((v.y1 - v.y0) / 2) * factor,
    };
    schedule();
  };

  const ratio = typeof window === "undefined" ? 1 : window.devicePixelRatio || 1;
  const historic = set.countsByTier[0]! + set.countsByTier[1]! + set.countsByTier[2]!;
  const legend = legendOf(groups);
  return (
    <div className="layer-map" ref={wrapperRef}>
      <div className="layer-map-toolbar">
        <button type="button" onClick={() => zoom(1 / 1.5)} aria-label="zoom in">
          +
        </button>
        <button type="button" onClick={() => zoom(1.5)} aria-label="zoom out">
          −
        </button>
        <button type="button" onClick={fit}>
          Fit
        </button>
        <span className="muted">
          wheel: zoom (shift: LSN only, alt: keys only) · drag: pan · double-click: fit
          {props.onPickLsn ? " · shift+click: pick LSN" : ""}
        </span>
      </div>
      <div className="legend" data-testid="layer-map-legend">
        {legend.map((entry) => (
          <span key={entry.label}>
            <span className="legend-swatch" style={{ background: entry.colour }} />
            {entry.label} {entry.count.toLocaleString("en-US")}
          </span>
        ))}
        {bands.map((band) => (
          <span key={`${band.kind}-${band.lsnStart}`}>
            <span
              className="legend-swatch"
              style={{ background: TIER_COLOURS[band.kind === "open" ? TIER_OPEN : TIER_FROZEN] }}
            />
            {band.kind} in-memory {formatLsn(band.lsnStart)}..
          </span>
        ))}
      </div>
      <canvas
        ref={canvasRef}
        data-testid={props.testId ?? "layer-map-canvas"}
        data-layer-count={historic}
        data-inmemory-count={set.count - historic + bands.length}
        width={Math.round(width * ratio)}
        height={Math.round(height * ratio)}
        style={{
          width: `${width}px`,
          height: `${height}px`,
          touchAction: "none",
          cursor: drag.current ? "grabbing" : "crosshair",
        }}
        onPointerDown={onPointerDown}
        onPointerMove={onPointerMove}
        onPointerUp={onPointerUp}
        onPointerLeave={() => setHover(null)}
        onDoubleClick={fit}
      />
      {hover ? <Tooltip set={set} hover={hover} width={width} /> : null}
    </div>
  );
}

function Tooltip({ set, hover, width }: { set: LayerSet; hover: Hover; width: number }) {
  const i = hover.index;
  const keyStart = set.keys[set.keyStartRank[i]!] ?? "";
  const keyEnd = set.keys[set.keyEndRank[i]!] ?? "";
  const tier = TIER_NAMES[set.tier[i]!]!;
  const left = hover.x + 16 + 360 > width ? hover.x - 376 : hover.x + 16;
  return (
    <div className="layer-tooltip" role="tooltip" style={{ left, top: hover.y + 12 }}>
      <div className="mono small break">{set.names[i]}</div>
      <div>
        <b>{tier}</b>
        {set.level[i]! >= 0 ? ` · level ${set.level[i]}` : ""}
        {set.size[i]! > 0 ? ` · ${formatBytes(set.size[i]!)}` : ""}
        {set.generation[i]! >= 0 ? ` · gen ${set.generation[i]}` : ""}
        {set.covered[i] ? " · covered" : ""}
      </div>
      <div>
        LSN {formatLsn(set.lsnStart[i]!)} .. {formatLsn(set.lsnEnd[i]!)}
      </div>
      <div>
        keys {describeKey(keyStart)} .. {describeKey(keyEnd)}
      </div>
    </div>
  );
}
