/**
 * Layer map benchmarks: `search` on the read critical path, and the cost of building the map.
 *
 *   - `layer_map/real_uniform`: the 26,690 layers of a real timeline (Neon's odd-brook dump, the
 *     one Neon's `bench_layer_map.rs` uses). One search per image layer, at its key start, just
 *     below its LSN (`endLsn` = the image LSN), in the map's own order (LSN first), as Neon's
 *     `uniform_query_pattern`. Neon reports about 82 ns per query for its persistent BST.
 *   - `layer_map/real_uniform_key_inside`: the same with Neon's exact pattern: the key after the
 *     image's key start and `endLsn` = image LSN - 1.
 *   - `layer_map/real_read_path`: the read path's pattern on the same queries: search, then search
 *     again at the returned floor, layer after layer, until an image layer; time per search.
 *     Consecutive searches share the key, which the coverage caches.
 *   - `layer_map/synthetic_100k`: 100,000 layers shaped like a busy timeline (L0 flushes, L1
 *     compactions, periodic image layers over 2,000 key stripes), random (key, LSN) searches.
 *
 * Each result is one JSON line on stdout; the batch of queries runs several times and the median
 * time per query is reported (the best one too). `--quick` (or BENCH_QUICK=1) runs fewer rounds.
 *
 * Query keys are fresh strings allocated in query order, as Neon's `Vec<(Key, Lsn)>` holds its
 * keys inline: a read path's key is hot in cache when it searches. Taking the key strings out of
 * the parsed layer names instead scatters them over the heap and adds a cache miss per query,
 * which on a small VM costs more than the search itself.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { KEY_MAX, KEY_MIN, type Key, keyFromFields, keyNext } from "../src/key/key.ts";
import { type HistoricLayerRef, LayerMap } from "../src/layer_map/layer_map.ts";
import type { Lsn } from "../src/lsn.ts";
import { type LayerName, parseLayerName } from "../src/storage_layer/layer_name.ts";

const quick = process.argv.includes("--quick") || process.env.BENCH_QUICK === "1";
const rounds = quick ? 5 : 60;
const dataPath = path.resolve(
  import.meta.dirname,
  "../../../../shared/data/neon/odd-brook-layernames.txt",
);

/** A copy of the key in a new string (allocated now, next to the other queries). */
function freshKey(key: Key): Key {
  return Buffer.from(key, "hex").toString("hex") as Key;
}

interface Query {
  key: Key;
  endLsn: Lsn;
}

function buildMap(names: readonly LayerName[]): { map: LayerMap<HistoricLayerRef>; ms: number } {
  const started = performance.now();
  const map = new LayerMap<HistoricLayerRef>();
  const batch = map.batchUpdate();
  for (const name of names) batch.insert({ name });
  batch.flush();
  return { map, ms: performance.now() - started };
}

/** The best of a few builds: the first one also pays for JIT warm-up. */
function buildMapTimed(names: readonly LayerName[]): {
  map: LayerMap<HistoricLayerRef>;
  ms: number;
} {
  let best = buildMap(names);
  for (let i = 1; i < (quick ? 2 : 4); i++) {
    const next = buildMap(names);
    if (next.ms < best.ms) best = next;
  }
  return best;
}

/** Median and best nanoseconds per query over `rounds` runs of the whole batch. */
function timeQueries(map: LayerMap<HistoricLayerRef>, queries: readonly Query[]) {
  let sink = 0;
  const perQuery: number[] = [];
  for (let round = 0; round < rounds + 2; round++) {
    const started = process.hrtime.bigint();
    for (let i = 0; i < queries.length; i++) {
      const query = queries[i]!;
      const found = map.search(query.key, query.endLsn);
      if (found !== null) sink += found.lsnFloor;
    }
    const elapsed = Number(process.hrtime.bigint() - started);
    // The first two rounds warm the JIT up.
    if (round >= 2) perQuery.push(elapsed / queries.length);
  }
  perQuery.sort((a, b) => a - b);
  const median = perQuery[perQuery.length >> 1]!;
  return { median, best: perQuery[0]!, sink };
}

function report(bench: string, fields: Record<string, number | string>): void {
  process.stdout.write(`${JSON.stringify({ bench, ...fields })}\n`);
}

function benchReal(): void {
  const names = readFileSync(dataPath, "utf8")
    .split("\n")
    .filter((line) => line.length > 0)
    .map(parseLayerName);
  const { map, ms } = buildMapTimed(names);
  const images = [...map.historicLayers()].filter((layer) => layer.name.kind === "image");
  const atStart = images.map((layer) => ({
    key: freshKey(layer.name.keyRange.start),
    endLsn: layer.name.lsnRange.start,
  }));
  const inside = images.map((layer) => ({
    key: keyNext(layer.name.keyRange.start),
    endLsn: (layer.name.lsnRange.start - 1) as Lsn,
  }));
  for (const [bench, queries] of [
    ["layer_map/real_uniform", atStart],
    ["layer_map/real_uniform_key_inside", inside],
  ] as const) {
    const { median, best, sink } = timeQueries(map, queries);
    report(bench, {
      value: Math.round(median * 10) / 10,
      unit: "ns/query",
      best_ns: Math.round(best * 10) / 10,
      build_ms: Math.round(ms),
      layers: names.length,
      queries: queries.length,
      sink: sink % 1000,
    });
  }
  const readPath = timeReadPath(map, atStart);
  report("layer_map/real_read_path", {
    value: Math.round(readPath.median * 10) / 10,
    unit: "ns/search",
    best_ns: Math.round(readPath.best * 10) / 10,
    layers: names.length,
    searches: readPath.searches,
  });
}

/** Walks each query's key down the layers as the read path does; ns per search and searches. */
function timeReadPath(map: LayerMap<HistoricLayerRef>, queries: readonly Query[]) {
  const perSearch: number[] = [];
  let searches = 0;
  for (let round = 0; round < rounds + 2; round++) {
    searches = 0;
    const started = process.hrtime.bigint();
    for (const query of queries) {
      let endLsn = query.endLsn;
      for (let depth = 0; depth < 64; depth++) {
        const found = map.search(query.key, endLsn);
        searches++;
        if (found === null || found.isInMemory || found.layer.name.kind === "image") break;
        endLsn = found.lsnFloor;
      }
    }
    const elapsed = Number(process.hrtime.bigint() - started);
    if (round >= 2) perSearch.push(elapsed / searches);
  }
  perSearch.sort((a, b) => a - b);
  return { median: perSearch[perSearch.length >> 1]!, best: perSearch[0]!, searches };
}

/** A small seeded PRNG (mulberry32), so every run measures the same map and queries. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const STRIPES = 2000;
const BLOCKS_PER_STRIPE = 1024;

function stripeKey(stripe: number): Key {
  return keyFromFields(0, 1663, 5, 16384 + (stripe >> 8), 0, (stripe & 255) * BLOCKS_PER_STRIPE);
}

/**
 * 100,000 layers in epochs of 1,000 LSN units each: 10 L0 flushes, then 100 L1 deltas of 20
 * stripes each over the same LSN span; every third epoch adds an image per stripe at its end.
 */
function syntheticNames(count: number): LayerName[] {
  const names: LayerName[] = [];
  for (let epoch = 0; names.length < count; epoch++) {
    const base = epoch * 1000 + 1;
    for (let flush = 0; flush < 10; flush++) {
      const lsnRange = {
        start: (base + flush * 100) as Lsn,
        end: (base + flush * 100 + 100) as Lsn,
      };
      names.push({ kind: "delta", keyRange: { start: KEY_MIN, end: KEY_MAX }, lsnRange });
    }
    const lsnRange = { start: base as Lsn, end: (base + 1000) as Lsn };
    for (let group = 0; group < STRIPES / 20; group++) {
      const keyRange = { start: stripeKey(group * 20), end: stripeKey(group * 20 + 20) };
      names.push({ kind: "delta", keyRange, lsnRange });
    }
    if (epoch % 3 === 2) {
      const imageLsn = (base + 999) as Lsn;
      for (let stripe = 0; stripe < STRIPES; stripe++) {
        const keyRange = { start: stripeKey(stripe), end: stripeKey(stripe + 1) };
        names.push({
          kind: "image",
          keyRange,
          lsnRange: { start: imageLsn, end: (imageLsn + 1) as Lsn },
        });
      }
    }
  }
  return names.slice(0, count);
}

function benchSynthetic(): void {
  const names = syntheticNames(100_000);
  const { map, ms } = buildMapTimed(names);
  const next = random(1);
  const lsnMax = Math.max(...names.map((name) => name.lsnRange.end));
  const queries: Query[] = [];
  // 10,000 queries: their keys and objects stay in cache, as Neon's (100 queries) do.
  for (let i = 0; i < 10_000; i++) {
    const stripe = Math.floor(next() * STRIPES);
    const block = Math.floor(next() * BLOCKS_PER_STRIPE);
    const key = keyFromFields(0, 1663, 5, 16384 + (stripe >> 8), 0, (stripe & 255) * 1024 + block);
    queries.push({ key, endLsn: (1 + Math.floor(next() * lsnMax)) as Lsn });
  }
  const { median, best, sink } = timeQueries(map, queries);
  report("layer_map/synthetic_100k", {
    value: Math.round(median * 10) / 10,
    unit: "ns/query",
    best_ns: Math.round(best * 10) / 10,
    build_ms: Math.round(ms),
    layers: names.length,
    queries: queries.length,
    sink: sink % 1000,
  });
}

benchReal();
benchSynthetic();
