/**
 * Layer map benchmarks: `search` on the read critical path, and the cost of building and updating
 * the map.
 *
 *   - `layer_map/real_uniform`: the 26,690 layers of a real timeline (Neon's odd-brook dump, the
 *     one Neon's `bench_layer_map.rs` uses), and Neon's `uniform_query_pattern` on it: one search
 *     per image layer, for the key after the image's key start, with `endLsn` = image LSN - 1, in
 *     the map's own order (LSN first). Neon reports about 82 ns per query for its persistent BST.
 *     Also reports the build time.
 *   - `layer_map/real_uniform_shuffled`: the same queries in a random order (same keys, fresh
 *     strings in the new order), so that no answer rides on its predecessor's branches and caches.
 *   - `layer_map/real_uniform_key_start`: the key start itself with `endLsn` = image LSN (what
 *     this benchmark measured as `real_uniform` before it followed Neon's pattern).
 *   - `layer_map/real_read_path`: one key's walk down the layers as the read path does it: search,
 *     then search again at the returned floor, until an image layer; time per search. Consecutive
 *     searches share the key, which the coverage caches: a GetPage of one page.
 *   - `layer_map/real_read_path_vectored`: the same walks 32 keys at a time, round by round, as a
 *     vectored read routes them (`get_vectored.ts`): consecutive searches have different keys.
 *   - `layer_map/synthetic_100k`: 100,000 layers shaped like a busy timeline (L0 flushes, L1
 *     compactions, periodic image layers over 2,000 key stripes), random (key, LSN) searches.
 *   - `layer_map/update_100k_flush` and `layer_map/update_100k_compaction`: on the 100,000-layer
 *     map, the batch a flush makes (one new L0, appended) and the batch an L0 compaction makes (ten
 *     L0s out, twenty L1 deltas in: a rebuild); ms per batch.
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
import { type HistoricLayerRef, LayerMap, type LayerMapBatch } from "../src/layer_map/layer_map.ts";
import type { Lsn } from "../src/lsn.ts";
import { type LayerName, parseLayerName } from "../src/storage_layer/layer_name.ts";
import { quick, rng } from "./bench_util.ts";

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

/** The same queries in a seeded random order, their keys copied afresh in that order. */
function shuffled(queries: readonly Query[]): Query[] {
  const next = rng(7);
  const order = [...queries];
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order.map((query) => ({ key: freshKey(query.key), endLsn: query.endLsn }));
}

function benchReal(): void {
  const names = readFileSync(dataPath, "utf8")
    .split("\n")
    .filter((line) => line.length > 0)
    .map(parseLayerName);
  const { map, ms } = buildMapTimed(names);
  const images = [...map.historicLayers()].filter((layer) => layer.name.kind === "image");
  // Neon's uniform_query_pattern: the key after the image's start, end_lsn = image LSN - 1.
  const uniform = images.map((layer) => ({
    key: keyNext(layer.name.keyRange.start),
    endLsn: (layer.name.lsnRange.start - 1) as Lsn,
  }));
  const atStart = images.map((layer) => ({
    key: freshKey(layer.name.keyRange.start),
    endLsn: layer.name.lsnRange.start,
  }));
  for (const [bench, queries] of [
    ["layer_map/real_uniform", uniform],
    ["layer_map/real_uniform_shuffled", shuffled(uniform)],
    ["layer_map/real_uniform_key_start", atStart],
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
  for (const [bench, batch] of [
    ["layer_map/real_read_path", 1],
    ["layer_map/real_read_path_vectored", 32],
  ] as const) {
    const readPath = timeReadPath(map, atStart, batch);
    report(bench, {
      value: Math.round(readPath.median * 10) / 10,
      unit: "ns/search",
      best_ns: Math.round(readPath.best * 10) / 10,
      layers: names.length,
      searches: readPath.searches,
    });
  }
}

/**
 * Walks the queries' keys down the layers as the read path does, `batch` keys at a time: each
 * round searches every key of the batch not done yet once, at its current floor (one key per
 * batch: a key's searches follow each other). ns per search, and the number of searches.
 */
function timeReadPath(map: LayerMap<HistoricLayerRef>, queries: readonly Query[], batch: number) {
  const perSearch: number[] = [];
  const ends = new Float64Array(batch);
  let searches = 0;
  for (let round = 0; round < rounds + 2; round++) {
    searches = 0;
    const started = process.hrtime.bigint();
    for (let first = 0; first < queries.length; first += batch) {
      const count = Math.min(batch, queries.length - first);
      for (let i = 0; i < count; i++) ends[i] = queries[first + i]!.endLsn;
      for (let pending = count, depth = 0; pending > 0 && depth < 64; depth++) {
        for (let i = 0; i < count; i++) {
          if (ends[i]! < 0) continue;
          const found = map.search(queries[first + i]!.key, ends[i]! as Lsn);
          searches++;
          if (found === null || found.isInMemory || found.layer.name.kind === "image") {
            ends[i] = -1;
            pending--;
          } else {
            ends[i] = found.lsnFloor;
          }
        }
      }
    }
    const elapsed = Number(process.hrtime.bigint() - started);
    if (round >= 2) perSearch.push(elapsed / searches);
  }
  perSearch.sort((a, b) => a - b);
  return { median: perSearch[perSearch.length >> 1]!, best: perSearch[0]!, searches };
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
  const next = rng(1);
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
  benchUpdates(map, lsnMax);
}

/** Milliseconds of one `batchUpdate` … `flush`. */
function timeBatch(
  map: LayerMap<HistoricLayerRef>,
  fill: (batch: LayerMapBatch<HistoricLayerRef>) => void,
): number {
  const started = performance.now();
  const batch = map.batchUpdate();
  fill(batch);
  batch.flush();
  return performance.now() - started;
}

function l0At(lsn: number): HistoricLayerRef {
  const lsnRange = { start: lsn as Lsn, end: (lsn + 100) as Lsn };
  return { name: { kind: "delta", keyRange: { start: KEY_MIN, end: KEY_MAX }, lsnRange } };
}

/** A flush's batch (one L0 appended) and an L0 compaction's (ten L0s for twenty L1s: a rebuild). */
function benchUpdates(map: LayerMap<HistoricLayerRef>, lsnMax: number): void {
  let lsn = lsnMax;
  const flushes: number[] = [];
  for (let i = 0; i < (quick ? 20 : 200); i++) {
    const layer = l0At(lsn);
    lsn += 100;
    flushes.push(timeBatch(map, (batch) => batch.insert(layer)));
  }
  const compactions: number[] = [];
  for (let i = 0; i < (quick ? 2 : 6); i++) {
    const l0s = Array.from({ length: 10 }, (_, j) => l0At(lsn + j * 100));
    timeBatch(map, (batch) => {
      for (const layer of l0s) batch.insert(layer);
    });
    const lsnRange = { start: lsn as Lsn, end: (lsn + 1000) as Lsn };
    const l1s = Array.from({ length: 20 }, (_, group) => ({
      name: {
        kind: "delta" as const,
        keyRange: { start: stripeKey(group * 100), end: stripeKey(group * 100 + 100) },
        lsnRange,
      },
    }));
    lsn += 1000;
    compactions.push(
      timeBatch(map, (batch) => {
        for (const layer of l0s) batch.remove(layer);
        for (const layer of l1s) batch.insert(layer);
      }),
    );
  }
  for (const [bench, times] of [
    ["layer_map/update_100k_flush", flushes],
    ["layer_map/update_100k_compaction", compactions],
  ] as const) {
    times.sort((a, b) => a - b);
    report(bench, {
      value: Math.round(times[times.length >> 1]! * 1000) / 1000,
      unit: "ms/batch",
      best_ms: Math.round(times[0]! * 1000) / 1000,
      batches: times.length,
      layers: map.historicCount,
    });
  }
}

benchReal();
benchSynthetic();
