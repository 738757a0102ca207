/**
 * How fast the console draws a big layer map, in a real Chromium: Neon's odd-brook layer-name
 * list (26,690 layers) opened on /open.
 *
 * - `console/odd_brook_first_paint`: from the file arriving in the page (`open:file-selected`,
 *   before it is read) to the first frame of the map (`layer-map:first-paint`, marked on the
 *   animation frame after the draw): reading, parsing, packing, grouping and drawing. Median of
 *   the runs, each on a freshly loaded page. Goal: under 1 s.
 * - `console/odd_brook_pan_frame`: draw time of each frame while dragging the fully zoomed-out
 *   map (every layer on screen: the worst case) back and forth, with a 1-pixel read-back so the
 *   canvas is rasterised inside the timed section. Most frames copy the layer raster
 *   (lib/layer_raster.ts); `full_redraws` counts those that redrew every layer because the view
 *   left it. `value` is the p99; p50 and max are extra fields. Goal: under 16 ms.
 *
 * `--quick`: one run and a short drag. Prints JSON lines on stdout; progress on stderr.
 * Page-side code is passed as strings: the root tsconfig has no DOM types.
 */
import path from "node:path";
import { launchBrowser } from "../harness/browser.ts";
import { startConsole } from "../harness/console_process.ts";
import { REPO_ROOT } from "../harness/pageserver_process.ts";
import { waitFor } from "./support.ts";

const quick = process.argv.includes("--quick") || process.env.BENCH_QUICK === "1";
const ODD_BROOK = path.resolve(REPO_ROOT, "../shared/data/neon/odd-brook-layernames.txt");
const LAYERS = 26_690;
const RUNS = quick ? 1 : 5;
const PAN_MOVES = quick ? 120 : 600;

function emit(bench: string, value: number, unit: string, extra: Record<string, unknown> = {}) {
  process.stdout.write(
    `${JSON.stringify({ bench, value: Number(value.toPrecision(4)), unit, ...extra })}\n`,
  );
}

function percentile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

const round = (ms: number) => Math.round(ms * 100) / 100;

const web = await startConsole();
const browser = await launchBrowser({ viewport: { width: 1400, height: 1000 } });
try {
  const page = browser.page;
  const canvas = page.getByTestId("layer-map-canvas");
  const firstPaints: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    await page.goto(`${web.url}/open`);
    await page.getByTestId("open-file-input").setInputFiles(ODD_BROOK);
    await waitFor("the first frame", async () =>
      (await canvas.getAttribute("data-painted-count", { timeout: 1000 }).catch(() => null)) ===
      String(LAYERS)
        ? true
        : undefined,
    );
    const elapsed = await page.evaluate<number>(`(() => {
      const selected = performance.getEntriesByName("open:file-selected").at(-1);
      const painted = performance.getEntriesByName("layer-map:first-paint").at(-1);
      return selected && painted ? painted.startTime - selected.startTime : Number.NaN;
    })()`);
    if (!Number.isFinite(elapsed)) throw new Error("the page did not mark both ends of the paint");
    firstPaints.push(elapsed);
    process.stderr.write(`# first paint, run ${run + 1}/${RUNS}: ${elapsed.toFixed(1)} ms\n`);
  }
  const sortedPaints = [...firstPaints].sort((a, b) => a - b);
  emit("console/odd_brook_first_paint", percentile(sortedPaints, 0.5), "ms", {
    runs: RUNS,
    min_ms: round(sortedPaints[0]!),
    max_ms: round(sortedPaints[sortedPaints.length - 1]!),
    layers: LAYERS,
  });

  // Drag back and forth across the map, 20 px per pointer move, far enough (±600 px) that the
  // view leaves the layer raster's margin and some frames redraw every layer.
  await canvas.scrollIntoViewIfNeeded();
  const box = (await canvas.boundingBox())!;
  const centre = { x: box.x + box.width / 2, y: box.y + box.height / 2 };
  const rendersBefore = Number(await canvas.getAttribute("data-renders"));
  await page.evaluate("window.__layerMapDrawTimes = []; window.__layerMapFlush = true;");
  await page.mouse.move(centre.x, centre.y);
  await page.mouse.down();
  for (let i = 0; i < PAN_MOVES; i++) {
    const phase = (i % 120) / 120;
    const offset =
      phase < 0.25 ? phase * 2400 : phase < 0.75 ? 1200 - phase * 2400 : phase * 2400 - 2400;
    await page.mouse.move(centre.x + offset, centre.y + offset / 4);
    // One frame per move: the next move waits until this one has been drawn.
    await page.evaluate("new Promise((resolve) => requestAnimationFrame(resolve))");
  }
  await page.mouse.up();
  const times = await page.evaluate<number[]>(`(() => {
    const recorded = window.__layerMapDrawTimes ?? [];
    delete window.__layerMapDrawTimes;
    delete window.__layerMapFlush;
    return recorded;
  })()`);
  if (times.length < PAN_MOVES / 2)
    throw new Error(`only ${times.length} frames were drawn for ${PAN_MOVES} pointer moves`);
  const sorted = [...times].sort((a, b) => a - b);
  emit("console/odd_brook_pan_frame", percentile(sorted, 0.99), "ms", {
    p50_ms: round(percentile(sorted, 0.5)),
    p99_ms: round(percentile(sorted, 0.99)),
    max_ms: round(sorted[sorted.length - 1]!),
    frames: times.length,
    full_redraws: Number(await canvas.getAttribute("data-renders")) - rendersBefore,
  });
} finally {
  await browser.close();
  await web.stop();
}
