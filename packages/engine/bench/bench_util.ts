/**
 * Shared helpers for the engine's benchmarks: the quick flag, JSON-line output, percentiles,
 * temp directories.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { FileDescriptorCache } from "../src/io/file_descriptor_cache.ts";
import { PageCache } from "../src/io/page_cache.ts";
import type { LayerIo } from "../src/storage_layer/layer_file_reader.ts";
import { seededRandom } from "../src/util/random.ts";

export const quick = process.argv.includes("--quick") || process.env.BENCH_QUICK === "1";

/** Prints one result line: `{"bench": name, "value": N, "unit": …, …extra}`. */
export function emit(
  bench: string,
  value: number,
  unit: string,
  extra: Record<string, unknown> = {},
): void {
  process.stdout.write(
    `${JSON.stringify({ bench, value: Number(value.toPrecision(6)), unit, ...extra })}\n`,
  );
}

export function percentile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

export function median(values: number[]): number {
  return percentile(
    [...values].sort((a, b) => a - b),
    0.5,
  );
}

export function benchDirectory(): { path: string; [Symbol.dispose](): void } {
  const directory = mkdtempSync(path.join(tmpdir(), "engine-bench-"));
  return {
    path: directory,
    [Symbol.dispose]: () => rmSync(directory, { recursive: true, force: true }),
  };
}

export function benchIo(pages = 8192, files = 100): LayerIo {
  return { files: new FileDescriptorCache(files), pages: new PageCache(pages) };
}

/** Tests and benchmarks print their seed so that a run can be replayed. */
export const rng = seededRandom;
