/**
 * `ingest/*`: Neon's six bench_ingest cases — 128 MiB of values put through the in-memory layer
 * (ephemeral file + RAM index) with the `put` ingest uses, then, for four of them, frozen and
 * written as an L0 delta file (fsynced). MiB/s of values. Neon on im4gn.2xlarge: 98.9, 59.2,
 * 106.0, 245.5, 289.4, 755.5.
 *
 * As in Neon's: each value is an image of the case's size; keys are one relation's blocks —
 * block i (sequential), a 32-bit mix of i (random, all distinct), or that mix's low 10 bits
 * (1024 keys); the timed part creates the layer, puts, freezes, writes the L0 and deletes both
 * files. Criterion warms up before it samples; so does this (one untimed run per case, reported
 * as `cold_mib_s`: the first case's is a cold process, whose big buffers are not yet faulted in),
 * then reports the median of the timed runs.
 */

import { unlinkSync } from "node:fs";
import path from "node:path";
import type { TenantId, TimelineId } from "../src/ids.ts";
import { type Key, keyFromFields } from "../src/key/key.ts";
import type { Lsn } from "../src/lsn.ts";
import { InMemoryLayer } from "../src/storage_layer/inmemory_layer.ts";
import { formatLayerName } from "../src/storage_layer/layer_name.ts";
import { imageValue } from "../src/value/value.ts";
import { benchDirectory, emit, median, quick } from "./bench_util.ts";

const MiB = 1024 * 1024;
const TOTAL_BYTES = (quick ? 16 : 128) * MiB;
const RUNS = quick ? 1 : 3;

type KeyPattern = "sequential" | "random" | "random-reuse";

const cases: Array<{
  name: string;
  valueSize: number;
  pattern: KeyPattern;
  write: boolean;
  neon: number;
}> = [
  { name: "ingest/100b_seq", valueSize: 100, pattern: "sequential", write: true, neon: 98.9 },
  { name: "ingest/100b_rand", valueSize: 100, pattern: "random", write: true, neon: 59.2 },
  {
    name: "ingest/100b_rand_1024keys",
    valueSize: 100,
    pattern: "random-reuse",
    write: true,
    neon: 106.0,
  },
  {
    name: "ingest/100b_seq_no_delta",
    valueSize: 100,
    pattern: "sequential",
    write: false,
    neon: 245.5,
  },
  { name: "ingest/8k_seq", valueSize: 8192, pattern: "sequential", write: true, neon: 289.4 },
  {
    name: "ingest/8k_seq_no_delta",
    valueSize: 8192,
    pattern: "sequential",
    write: false,
    neon: 755.5,
  },
];

/** murmur3's 32-bit finaliser: a bijection, so `random` keys are distinct. */
function mix32(i: number): number {
  let h = i >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

function makeKeys(pattern: KeyPattern, count: number): Key[] {
  const keys = new Array<Key>(count);
  for (let i = 0; i < count; i++) {
    const block = pattern === "sequential" ? i : pattern === "random" ? mix32(i) : mix32(i) & 0x3ff;
    keys[i] = keyFromFields(0, 1663, 5, 16384, 0, block);
  }
  return keys;
}

async function run(c: (typeof cases)[number], keys: readonly Key[]): Promise<number> {
  using dir = benchDirectory();
  const value = imageValue(Buffer.alloc(c.valueSize, 7));
  if (global.gc) global.gc();
  const started = performance.now();
  const layer = new InMemoryLayer({
    directory: dir.path,
    tenantId: "11".repeat(16) as TenantId,
    timelineId: "22".repeat(16) as TimelineId,
    lsnStart: 8 as Lsn,
    sequence: 0,
  });
  let lsn = 8;
  for (let i = 0; i < keys.length; i++) {
    lsn += 8;
    layer.put(keys[i]!, lsn as Lsn, value);
  }
  layer.freeze((lsn + 1) as Lsn);
  if (c.write) {
    const written = await layer.writeToDisk((name) => path.join(dir.path, formatLayerName(name)));
    unlinkSync(written.path);
  }
  layer.delete();
  const seconds = (performance.now() - started) / 1000;
  return TOTAL_BYTES / MiB / seconds;
}

for (const c of cases) {
  // Made before the clock starts: a key here is a hex string, and making it is the WAL
  // decoder's cost, not the layer's (Neon's bench sets a field of a struct).
  const keys = makeKeys(c.pattern, Math.floor(TOTAL_BYTES / c.valueSize));
  const cold = quick ? null : await run(c, keys);
  const rates: number[] = [];
  for (let i = 0; i < RUNS; i++) rates.push(await run(c, keys));
  emit(c.name, median(rates), "MiB/s", {
    neon_mib_s: c.neon,
    runs: rates.map((r) => Math.round(r)),
    ...(cold === null ? {} : { cold_mib_s: Math.round(cold) }),
    total_mib: TOTAL_BYTES / MiB,
  });
}
