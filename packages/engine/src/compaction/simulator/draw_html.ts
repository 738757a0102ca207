/**
 * The simulator's replay page (Neon's `draw_history`, adapted): one self-contained HTML file, no
 * network, that shows the layers over key × LSN at each step of a run, with a slider, step
 * buttons and a play button. A step is one flush or one compaction run. Deltas are rectangles (L0s
 * in orange, re-tiled deltas in blue), images thick dark bars; layers born in the shown step are
 * outlined in green, layers deleted in it are drawn as dashed red ghosts. Hovering a layer shows
 * its name, size and the steps it lived.
 *
 * The data goes in as one JSON block (layers as compact arrays), the drawing is plain DOM/SVG
 * code inlined below, so the file opens anywhere, including from a CI artifact.
 */
import type { MockLayer, SimulatorStats, StepInfo } from "./mock_timeline.ts";

export interface ReplayInput {
  readonly title: string;
  readonly layers: readonly MockLayer[];
  readonly steps: readonly StepInfo[];
  readonly stats: SimulatorStats;
  /** Exclusive end of the keys drawn (an L0 covers all keys; it is clipped here). */
  readonly keyspaceEnd: number;
}

/** Layers as arrays: [id, image?1:0, keyStart, keyEnd, lsnStart, lsnEnd, size, born, died, name]. */
function compactLayers(layers: readonly MockLayer[], keyspaceEnd: number): unknown[] {
  return layers.map((layer) => [
    layer.id,
    layer.kind === "image" ? 1 : 0,
    Math.min(layer.keyStart, keyspaceEnd),
    Math.min(layer.keyEnd, keyspaceEnd),
    layer.lsnStart,
    layer.lsnEnd,
    layer.fileSize,
    layer.createdStep,
    layer.deletedStep ?? -1,
    layer.name,
  ]);
}

/** JSON safe inside a <script> element. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, "\\u003c")
    .replace(/\u2028|\u2029/g, " ");
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function renderReplayHtml(input: ReplayInput): string {
  const data = {
    title: input.title,
    keyspaceEnd: input.keyspaceEnd,
    layers: compactLayers(input.layers, input.keyspaceEnd),
    steps: input.steps,
    stats: input.stats,
  };
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(input.title)}</title>
<style>
body{font:13px system-ui,sans-serif;margin:16px;color:#222}
#controls{display:flex;gap:8px;align-items:center;margin:8px 0}
#slider{flex:1}
#info{white-space:pre;font-family:ui-monospace,monospace;font-size:12px;background:#f6f6f6;padding:8px}
svg{border:1px solid #ccc;background:#fff}
.legend span{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px;vertical-align:middle}
</style></head><body>
<h2 id="title"></h2>
<div class="legend"><span style="background:#f4a261"></span>L0 delta<span style="background:#8ecae6"></span>delta
<span style="background:#222"></span>image<span style="border:2px solid #2a9d8f"></span>created in step
<span style="border:2px dashed #e63946"></span>deleted in step</div>
<div id="controls"><button id="prev">◀</button><button id="play">▶ play</button>
<button id="next">▶</button><input id="slider" type="range" min="0" value="0"><span id="label"></span></div>
<svg id="plot" width="1000" height="600" viewBox="0 0 1000 600"></svg>
<div id="info"></div>
<script type="application/json" id="data">${scriptJson(data)}</script>
<script>
"use strict";
const data = JSON.parse(document.getElementById("data").textContent);
const W = 1000, H = 600, M = 40, NS = "http://www.w3.org/2000/svg";
const steps = data.steps, layers = data.layers, last = steps.length ? steps[steps.length - 1].step : 0;
let lsnMin = Infinity, lsnMax = -Infinity;
for (const l of layers) { lsnMin = Math.min(lsnMin, l[4]); lsnMax = Math.max(lsnMax, l[5]); }
if (!isFinite(lsnMin)) { lsnMin = 0; lsnMax = 1; }
const x = (k) => M + (k / Math.max(1, data.keyspaceEnd)) * (W - 2 * M);
const y = (lsn) => H - M - ((lsn - lsnMin) / Math.max(1, lsnMax - lsnMin)) * (H - 2 * M);
const mib = (b) => (b / 1048576).toFixed(1) + " MiB";
document.getElementById("title").textContent = data.title;
const slider = document.getElementById("slider");
slider.max = String(last);
function el(name, attrs, text) {
  const e = document.createElementNS(NS, name);
  for (const k in attrs) e.setAttribute(k, attrs[k]);
  if (text) { const t = document.createElementNS(NS, "title"); t.textContent = text; e.appendChild(t); }
  return e;
}
function axes(svg) {
  svg.appendChild(el("line", { x1: M, y1: H - M, x2: W - M, y2: H - M, stroke: "#888" }));
  svg.appendChild(el("line", { x1: M, y1: M, x2: M, y2: H - M, stroke: "#888" }));
  const t1 = el("text", { x: W / 2, y: H - 10, "text-anchor": "middle" }); t1.textContent = "key → (" + data.keyspaceEnd + " keys)";
  const t2 = el("text", { x: 12, y: M - 10 }); t2.textContent = "LSN ↑ (" + mib(lsnMax - lsnMin) + " of WAL)";
  svg.appendChild(t1); svg.appendChild(t2);
}
function draw(step) {
  const svg = document.getElementById("plot");
  while (svg.firstChild) svg.removeChild(svg.firstChild);
  axes(svg);
  let live = 0, bornNow = 0, diedNow = 0;
  for (const l of layers) {
    const [id, image, ks, ke, ls, le, size, born, died, name] = l;
    const alive = born <= step && (died < 0 || died > step);
    const ghost = died === step;
    if (!alive && !ghost) continue;
    if (alive) live++;
    if (born === step) bornNow++;
    if (ghost) diedNow++;
    const isL0 = !image && ks === 0 && ke === data.keyspaceEnd;
    const tip = name + "\\n" + mib(size) + "\\nsteps " + born + "–" + (died < 0 ? "" : died);
    const x0 = x(ks), x1 = Math.max(x(ke), x0 + 1);
    const attrs = image
      ? { x: x0, y: y(ls) - 2, width: x1 - x0, height: 4, fill: "#222" }
      : { x: x0, y: y(le), width: x1 - x0, height: Math.max(1, y(ls) - y(le)),
          fill: isL0 ? "#f4a261" : "#8ecae6", "fill-opacity": 0.55, stroke: "#555", "stroke-width": 0.5 };
    if (ghost) Object.assign(attrs, { fill: "none", stroke: "#e63946", "stroke-dasharray": "4 3", "stroke-width": 1 });
    else if (born === step) Object.assign(attrs, { stroke: "#2a9d8f", "stroke-width": 2 });
    svg.appendChild(el("rect", attrs, tip));
  }
  const info = steps.find((s) => s.step === step);
  const lines = ["step " + step + " of " + last + (info ? " (" + info.kind + ")" : " (start)"),
    "live layers " + live + ", created in this step " + bornNow + ", deleted " + diedNow];
  if (info) {
    const wal = info.walIngestedBytes;
    lines.push("WAL ingested " + mib(wal) + ", written " + mib(info.bytesWritten) + ", deleted " + mib(info.bytesDeleted));
    if (wal > 0) lines.push("write amp " + (info.bytesWritten / wal).toFixed(2) + ", storage amp " + ((info.bytesWritten - info.bytesDeleted) / wal).toFixed(2));
    for (const lv of info.levels || []) lines.push("  L" + lv.level + " depth " + lv.depth + ": " + lv.strategy + " (" + lv.layersIn + " in, " + lv.layersOut + " out)");
  }
  const s = data.stats;
  lines.push("", "final: write amp " + s.writeAmplification.toFixed(2) + ", storage amp " + s.storageAmplification.toFixed(2) + ", " + s.layersCreated + " layers created, " + s.layersDeleted + " deleted");
  document.getElementById("info").textContent = lines.join("\\n");
  document.getElementById("label").textContent = step + " / " + last;
}
let timer = null;
function show(step) { slider.value = String(Math.max(0, Math.min(last, step))); draw(Number(slider.value)); }
slider.addEventListener("input", () => draw(Number(slider.value)));
document.getElementById("prev").onclick = () => show(Number(slider.value) - 1);
document.getElementById("next").onclick = () => show(Number(slider.value) + 1);
document.getElementById("play").onclick = (e) => {
  if (timer) { clearInterval(timer); timer = null; e.target.textContent = "▶ play"; return; }
  e.target.textContent = "❚❚ pause";
  if (Number(slider.value) >= last) show(0);
  timer = setInterval(() => { if (Number(slider.value) >= last) { clearInterval(timer); timer = null; e.target.textContent = "▶ play"; } else show(Number(slider.value) + 1); }, 250);
};
show(last);
</script></body></html>
`;
}
