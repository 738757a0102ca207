/**
 * `ingest/*`: Neon's six bench_ingest cases — 128 MiB of values put through the in-memory layer
 * (ephemeral file + RAM index), then, for four of them, frozen and written as an L0 delta file
 * (fsynced). MiB/s of values. Neon on im4gn.2xlarge: 98.9, 59.2, 106.0, 245.5, 289.4, 755.5.
 */

import path from "node:path";
import type { TenantId, TimelineId } from "../src/ids.ts";
import { keyFromFields } from "../src/key/key.ts";
import type { Lsn } from "../src/lsn.ts";
import { InMemoryLayer } from "../src/storage_layer/inmemory_layer.ts";
import { formatLayerName } from "../src/storage_layer/layer_name.ts";
import { imageValue } from "../src/value/value.ts";
import { benchDirectory, emit, quick, rng } from "./bench_util.ts";

const MiB = 1024 * 1024;
const TOTAL_BYTES = (quick ? 16 : 128) * MiB;

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

async function run(c: (typeof cases)[number]): Promise<number> {
  using dir = benchDirectory();
  const random = rng(42);
  const count = Math.floor(TOTAL_BYTES / c.valueSize);
  // Keys and values are made before the clock starts, as Neon's bench does.
  const keys = new Array(count);
  for (let i = 0; i < count; i++) {
    const n =
      c.pattern === "sequential"
        ? i
        : c.pattern === "random"
          ? Math.floor(random() * 1e9)
          : Math.floor(random() * 1023);
    keys[i] = keyFromFields(0, 1663, 5, 16384, 0, n);
  }
  const value = imageValue(Buffer.alloc(c.valueSize - 1, 7));
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
  for (let i = 0; i < count; i++) {
    lsn += 8;
    layer.put(keys[i], lsn as Lsn, value);
  }
  if (c.write) {
    layer.freeze((lsn + 1) as Lsn);
    await layer.writeToDisk((name) => path.join(dir.path, formatLayerName(name)));
  }
  const seconds = (performance.now() - started) / 1000;
  layer.delete();
  return TOTAL_BYTES / MiB / seconds;
}

for (const c of cases) {
  const rates: number[] = [];
  for (let i = 0; i < (quick ? 1 : 3); i++) rates.push(await run(c));
  const best = Math.max(...rates);
  emit(c.name, best, "MiB/s", {
    neon_mib_s: c.neon,
    runs: rates.map((r) => Math.round(r)),
    total_mib: TOTAL_BYTES / MiB,
  });
}
