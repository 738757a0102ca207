/**
 * Shared helpers for the engine's tests: temp directories, I/O caches, deterministic randomness.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { FileDescriptorCache } from "../src/io/file_descriptor_cache.ts";
import { PageCache } from "../src/io/page_cache.ts";
import type { LayerIo } from "../src/storage_layer/layer_file_reader.ts";

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

/** A small seeded PRNG (mulberry32): tests print their seed so a failure can be replayed. */
export function rng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function seedFromEnv(name = "TEST_SEED"): number {
  const fromEnv = process.env[name];
  return fromEnv ? Number(fromEnv) : Math.floor(Math.random() * 2 ** 31);
}
