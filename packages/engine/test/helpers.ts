/**
 * Shared helpers for the engine's tests: temp directories, I/O caches, deterministic randomness.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { FileDescriptorCache } from "../src/io/file_descriptor_cache.ts";
import { PageCache } from "../src/io/page_cache.ts";
import type { LayerIo } from "../src/storage_layer/layer_file_reader.ts";
import { seededRandom } from "../src/util/random.ts";

export function tempDirectory(prefix = "engine-test-"): { path: string; [Symbol.dispose](): void } {
  const directory = mkdtempSync(path.join(tmpdir(), prefix));
  return {
    path: directory,
    [Symbol.dispose]() {
      rmSync(directory, { recursive: true, force: true });
    },
  };
}

export function testIo(pages = 64, files = 8): LayerIo {
  return { files: new FileDescriptorCache(files), pages: new PageCache(pages) };
}

/** Tests and benchmarks print their seed so that a run can be replayed. */
export const rng = seededRandom;

export function seedFromEnv(name = "TEST_SEED"): number {
  const fromEnv = process.env[name];
  return fromEnv ? Number(fromEnv) : Math.floor(Math.random() * 2 ** 31);
}
