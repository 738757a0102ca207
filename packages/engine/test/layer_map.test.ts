/**
 * Layer map: search and range search answer exactly as a brute-force scan over all layers does
 * (random layer sets with inserts and removals, and the 26,690 layers of a real timeline);
 * in-memory layers take precedence; batches, L0 list, lookups by name, count_deltas and layer
 * visibility behave as Neon's do.
 *
 * Method: the reference below is written from Neon's semantics alone and shares no code with the
 * implementation: for a point it scans every layer, keeps the top delta and the top image (greatest
 * lsn.end among layers starting below end_lsn, the first in insertion order on a tie) and applies
 * Neon's `select_layer`; a range is cut at every layer boundary and each piece searched at its start.
 * Random tests print their seed: rerun with TEST_SEED=<seed> to replay one.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, test } from "node:test";
import { AssertionError } from "../src/assert.ts";
import { KEY_MAX, KEY_MIN, type Key, keyFromFields, keyNext, keyPrevious } from "../src/key/key.ts";
import type { KeyRange } from "../src/key/key_space.ts";
import {
  type CoverageHit,
  compareCoverageOrder,
  HistoricCoverage,
} from "../src/layer_map/historic_coverage.ts";
import {
  type HistoricLayerRef,
  type InMemoryLayerRef,
  LayerMap,
  type RangeSearchResult,
  type SearchResult,
} from "../src/layer_map/layer_map.ts";
import { getVisibility } from "../src/layer_map/visibility.ts";
import { LSN_MAX, type Lsn } from "../src/lsn.ts";
import {
  formatLayerName,
  type LayerName,
  parseLayerName,
} from "../src/storage_layer/layer_name.ts";
import { rng, seedFromEnv } from "./helpers.ts";

// --- Fixtures ---

interface TestLayer extends HistoricLayerRef {
  readonly label: string;
}

interface TestInMemory extends InMemoryLayerRef {
  readonly label: string;
}

/** Block `n` of one relation: small integers as keys. */
function k(n: number): Key {
  return keyFromFields(0, 1663, 5, 16384, 0, n);
}

function delta(label: string, keys: [Key, Key], lsns: [number, number]): TestLayer {
  return {
    label,
    name: {
      kind: "delta",
      keyRange: { start: keys[0], end: keys[1] },
      lsnRange: { start: lsns[0] as Lsn, end: lsns[1] as Lsn },
    },
  };
}

function image(label: string, keys: [Key, Key], lsn: number): TestLayer {
  return {
    label,
    name: {
      kind: "image",
      keyRange: { start: keys[0], end: keys[1] },
      lsnRange: { start: lsn as Lsn, end: (lsn + 1) as Lsn },
    },
  };
}

function l0(label: string, lsns: [number, number]): TestLayer {
  return delta(label, [KEY_MIN, KEY_MAX], lsns);
}

function inMemory(label: string, lsnStart: number, lsnEnd: number = LSN_MAX): TestInMemory {
  return { label, lsnStart: lsnStart as Lsn, lsnEnd: lsnEnd as Lsn };
}

function mapOf(layers: readonly TestLayer[]): LayerMap<TestLayer, TestInMemory> {
  const map = new LayerMap<TestLayer, TestInMemory>();
  const batch = map.batchUpdate();
  for (const layer of layers) batch.insert(layer);
  batch.flush();
  return map;
}

// --- The reference: a scan over every layer ---

type Found = SearchResult<TestLayer, TestInMemory>;

/** Neon's insertion order: LSN start, LSN end, key start, key end, delta before image. */
function insertedBefore(a: LayerName, b: LayerName): boolean {
  const left = [a.lsnRange.start, a.lsnRange.end] as const;
  const right = [b.lsnRange.start, b.lsnRange.end] as const;
  if (left[0] !== right[0]) return left[0] < right[0];
  if (left[1] !== right[1]) return left[1] < right[1];
  if (a.keyRange.start !== b.keyRange.start) return a.keyRange.start < b.keyRange.start;
  if (a.keyRange.end !== b.keyRange.end) return a.keyRange.end < b.keyRange.end;
  return a.kind === "delta" && b.kind === "image";
}

/** The layer of `kind` on top at (key, below endLsn): greatest lsn.end, first inserted on a tie. */
function referenceTop(
  layers: readonly TestLayer[],
  kind: "delta" | "image",
  key: Key,
  endLsn: number,
): TestLayer | null {
  let top: TestLayer | null = null;
  for (const layer of layers) {
    const { keyRange, lsnRange } = layer.name;
    if (layer.name.kind !== kind || lsnRange.start >= endLsn) continue;
    if (key < keyRange.start || key >= keyRange.end) continue;
    const topEnd = top === null ? -1 : top.name.lsnRange.end;
    if (
      top === null ||
      lsnRange.end > topEnd ||
      (lsnRange.end === topEnd && insertedBefore(layer.name, top.name))
    ) {
      top = layer;
    }
  }
  return top;
}

function referenceInMemory(inMemoryLayers: readonly TestInMemory[], endLsn: number): Found | null {
  // Newest first: the open layer is last in the list.
  for (let i = inMemoryLayers.length - 1; i >= 0; i--) {
    const layer = inMemoryLayers[i]!;
    if (layer.lsnStart < endLsn) return { layer, isInMemory: true, lsnFloor: layer.lsnStart };
  }
  return null;
}

function referenceSearch(
  layers: readonly TestLayer[],
  inMemoryLayers: readonly TestInMemory[],
  key: Key,
  endLsn: number,
): Found | null {
  const memory = referenceInMemory(inMemoryLayers, endLsn);
  if (memory !== null) return memory;
  const topDelta = referenceTop(layers, "delta", key, endLsn);
  const topImage = referenceTop(layers, "image", key, endLsn);
  return referenceSelect(topDelta, topImage, endLsn);
}

/** Neon's select_layer without an in-memory candidate. */
function referenceSelect(
  topDelta: TestLayer | null,
  topImage: TestLayer | null,
  endLsn: number,
): Found | null {
  if (topImage === null && topDelta === null) return null;
  if (topDelta === null) {
    return { layer: topImage!, isInMemory: false, lsnFloor: topImage!.name.lsnRange.start };
  }
  if (topImage === null) {
    return { layer: topDelta, isInMemory: false, lsnFloor: topDelta.name.lsnRange.start };
  }
  const imageLsn = topImage.name.lsnRange.start;
  const imageIsNewer = topImage.name.lsnRange.end >= topDelta.name.lsnRange.end;
  if (imageIsNewer || imageLsn + 1 === endLsn) {
    return { layer: topImage, isInMemory: false, lsnFloor: imageLsn };
  }
  const lsnFloor = Math.max(topDelta.name.lsnRange.start, imageLsn + 1) as Lsn;
  return { layer: topDelta, isInMemory: false, lsnFloor };
}

function referenceRangeSearch(
  layers: readonly TestLayer[],
  inMemoryLayers: readonly TestInMemory[],
  keyRange: KeyRange,
  endLsn: number,
): RangeSearchResult<TestLayer, TestInMemory>[] {
  const memory = referenceInMemory(inMemoryLayers, endLsn);
  if (memory !== null) return [{ ...memory, keyRange }];
  const cuts = new Set<Key>([keyRange.start, keyRange.end]);
  for (const { name } of layers) {
    for (const key of [name.keyRange.start, name.keyRange.end]) {
      if (key > keyRange.start && key < keyRange.end) cuts.add(key);
    }
  }
  const sorted = [...cuts].sort();
  const results: RangeSearchResult<TestLayer, TestInMemory>[] = [];
  for (let i = 0; i + 1 < sorted.length; i++) {
    const piece = { start: sorted[i]!, end: sorted[i + 1]! };
    const found = referenceSearch(layers, [], piece.start, endLsn);
    if (found === null) continue;
    const last = results[results.length - 1];
    if (last && last.layer === found.layer && last.lsnFloor === found.lsnFloor) {
      if (last.keyRange.end === piece.start) {
        results[results.length - 1] = {
          ...last,
          keyRange: { start: last.keyRange.start, end: piece.end },
        };
        continue;
      }
    }
    results.push({ ...found, keyRange: piece });
  }
  return results;
}

function describeFound(found: Found | null): string {
  if (found === null) return "null";
  const label = found.layer.label;
  return `${label}${found.isInMemory ? " (in-memory)" : ""} floor ${found.lsnFloor}`;
}

function describeRange(results: readonly RangeSearchResult<TestLayer, TestInMemory>[]): string {
  return results
    .map((r) => `[${r.keyRange.start.slice(-6)}..${r.keyRange.end.slice(-6)}) ${describeFound(r)}`)
    .join("; ");
}

// --- Random layer sets ---

const KEY_UNIVERSE = 48;

class RandomLayers {
  private readonly next: () => number;
  private counter = 0;

  constructor(seed: number) {
    this.next = rng(seed);
  }

  integer(below: number): number {
    return Math.floor(this.next() * below);
  }

  pick<T>(items: readonly T[]): T {
    return items[this.integer(items.length)]!;
  }

  keyRange(): [Key, Key] {
    const a = this.integer(KEY_UNIVERSE);
    const b = a + 1 + this.integer(Math.min(12, KEY_UNIVERSE - a));
    return [k(a), k(b)];
  }

  /** A random L0, L1 delta or image with an LSN start in [lsnLow, lsnLow + lsnSpan). */
  layer(lsnLow: number, lsnSpan: number): TestLayer {
    const label = `layer${this.counter++}`;
    const lsnStart = lsnLow + this.integer(lsnSpan);
    const lsnEnd = lsnStart + 1 + this.integer(60);
    const roll = this.next();
    if (roll < 0.2) return l0(label, [lsnStart, lsnEnd]);
    if (roll < 0.55) return delta(label, this.keyRange(), [lsnStart, lsnEnd]);
    return image(label, this.keyRange(), lsnStart);
  }

  /** A layer with a known name shape but a fresh label, for the append path. */
  relabel(name: LayerName): TestLayer {
    return { label: `layer${this.counter++}`, name };
  }

  queryKey(layers: readonly TestLayer[]): Key {
    const roll = this.next();
    if (roll < 0.3 || layers.length === 0) return k(this.integer(KEY_UNIVERSE + 2));
    const { keyRange } = this.pick(layers).name;
    const boundary = this.next() < 0.5 ? keyRange.start : keyRange.end;
    if (roll < 0.55) return boundary;
    return roll < 0.8 ? keyNext(boundary) : keyPrevious(boundary);
  }

  queryLsn(layers: readonly TestLayer[], lsnMax: number): number {
    if (this.next() < 0.4 || layers.length === 0) return this.integer(lsnMax + 20);
    const { lsnRange } = this.pick(layers).name;
    const base = this.next() < 0.5 ? lsnRange.start : lsnRange.end;
    return Math.max(0, base + this.integer(3) - 1);
  }
}

function identityOf(layer: TestLayer): string {
  return formatLayerName(layer.name);
}

function checkAgainstReference(
  map: LayerMap<TestLayer, TestInMemory>,
  layers: readonly TestLayer[],
  memory: readonly TestInMemory[],
  random: RandomLayers,
  context: string,
): void {
  const lsnMax = Math.max(0, ...layers.map((layer) => layer.name.lsnRange.end));
  for (let i = 0; i < 250; i++) {
    const key = random.queryKey(layers);
    const endLsn = random.queryLsn(layers, lsnMax) as Lsn;
    const expected = referenceSearch(layers, memory, key, endLsn);
    const actual = map.search(key, endLsn);
    assert.equal(
      describeFound(actual),
      describeFound(expected),
      `${context}: search(${key}, ${endLsn})`,
    );
    assert.equal(actual?.layer, expected?.layer, `${context}: same layer object`);
  }
  for (let i = 0; i < 25; i++) {
    const [a, b] = [random.queryKey(layers), random.queryKey(layers)].sort();
    const keyRange = { start: a!, end: b! };
    const endLsn = random.queryLsn(layers, lsnMax) as Lsn;
    const expected = referenceRangeSearch(layers, memory, keyRange, endLsn);
    const actual = map.rangeSearch(keyRange, endLsn);
    assert.equal(
      describeRange(actual),
      describeRange(expected),
      `${context}: rangeSearch([${a}, ${b}), ${endLsn})`,
    );
  }
}

// --- Tests ---

describe("historic coverage", () => {
  function top(coverage: HistoricCoverage, key: Key, lsn: number): [number, number] {
    const hit: CoverageHit = { delta: -1, image: -1 };
    coverage.query(key, lsn as Lsn, hit);
    return [hit.delta, hit.image];
  }

  test("versions follow LSN start; a layer shows from its LSN start on", () => {
    const names = [
      image("a", [k(0), k(5)], 100).name,
      image("b", [k(3), k(9)], 110).name,
      image("c", [k(5), k(6)], 120).name,
    ];
    const coverage = HistoricCoverage.build(names);
    assert.deepEqual(top(coverage, k(1), 99), [-1, -1]);
    assert.deepEqual(top(coverage, k(4), 100), [-1, 0]);
    assert.deepEqual(top(coverage, k(4), 109), [-1, 0]);
    assert.deepEqual(top(coverage, k(4), 110), [-1, 1]);
    assert.deepEqual(top(coverage, k(8), 115), [-1, 1]);
    assert.deepEqual(top(coverage, k(9), 115), [-1, -1]);
    assert.deepEqual(top(coverage, k(5), 125), [-1, 2]);
    assert.deepEqual(top(coverage, k(6), 125), [-1, 1]);
  });

  test("a taller layer stays on top of a later, lower one; ties keep the earlier layer", () => {
    const names = [
      delta("tall", [k(0), k(10)], [100, 300]).name,
      delta("low", [k(2), k(8)], [150, 200]).name,
      delta("same end", [k(4), k(12)], [160, 300]).name,
    ];
    const coverage = HistoricCoverage.build(names);
    assert.deepEqual(top(coverage, k(5), 170), [0, -1]);
    assert.deepEqual(top(coverage, k(11), 170), [2, -1]);
    assert.deepEqual(top(coverage, k(10), 155), [-1, -1]);
    // Indices are positions in coverage order, so the input must come in that order.
    assert.throws(() => HistoricCoverage.build([names[2]!, names[0]!, names[1]!]), AssertionError);
  });

  test("range queries cover the whole range, uncovered ends included, merged", () => {
    const names = [
      delta("d", [k(10), k(20)], [100, 200]).name,
      image("i", [k(15), k(30)], 150).name,
    ];
    const coverage = HistoricCoverage.build(names);
    const pieces = coverage
      .queryRange({ start: k(5), end: k(40) }, 160 as Lsn)
      .map((p) => [p.keyRange.start, p.keyRange.end, p.delta, p.image]);
    assert.deepEqual(pieces, [
      [k(5), k(10), -1, -1],
      [k(10), k(15), 0, -1],
      [k(15), k(20), 0, 1],
      [k(20), k(30), -1, 1],
      [k(30), k(40), -1, -1],
    ]);
    const inside = coverage.queryRange({ start: k(11), end: k(12) }, 160 as Lsn);
    assert.deepEqual(
      inside.map((p) => [p.keyRange.start, p.keyRange.end, p.delta, p.image]),
      [[k(11), k(12), 0, -1]],
    );
  });

  test("append continues the persistent structure exactly as a rebuild would", () => {
    const seed = seedFromEnv();
    const random = new RandomLayers(seed);
    const unique = new Map<string, LayerName>();
    for (let i = 0; i < 200; i++) {
      const { name } = random.layer(0, 500);
      unique.set(formatLayerName(name), name);
    }
    const base = [...unique.values()].sort(compareCoverageOrder);
    const later = base.slice(0, 40).map((name) => ({
      ...name,
      lsnRange: {
        start: (name.lsnRange.start + 1000) as Lsn,
        end: (name.lsnRange.end + 1000) as Lsn,
      },
    }));
    const appended = HistoricCoverage.build(base);
    assert.ok(appended.canAppend(later), `seed ${seed}`);
    appended.append(later);
    const rebuilt = HistoricCoverage.build([...base, ...later]);
    assert.ok(!rebuilt.canAppend(base.slice(0, 1)), "an older layer cannot be appended");
    for (let i = 0; i < 2000; i++) {
      const key = k(random.integer(KEY_UNIVERSE + 2));
      const lsn = random.integer(1700);
      assert.deepEqual(top(appended, key, lsn), top(rebuilt, key, lsn), `seed ${seed}`);
    }
  });
});

describe("layer map search", () => {
  test("matches the reference on random layer sets through insert and remove batches", () => {
    const seed = seedFromEnv();
    const random = new RandomLayers(seed);
    const updates = { appends: 0, fullRebuilds: 0 };
    for (let round = 0; round < 12; round++) {
      const context = `seed ${seed} round ${round}`;
      const map = new LayerMap<TestLayer, TestInMemory>();
      const present = new Map<string, TestLayer>();
      const initial = map.batchUpdate();
      // An L0 first, so the whole-key-space boundaries exist and L0 flushes can append.
      const first = l0("first-l0", [1, 5]);
      for (const layer of [
        first,
        ...Array.from({ length: 20 + random.integer(150) }, () => random.layer(1, 400)),
      ]) {
        if (present.has(identityOf(layer))) continue;
        present.set(identityOf(layer), layer);
        initial.insert(layer);
      }
      initial.flush();
      checkAgainstReference(map, [...present.values()], [], random, `${context} initial`);
      for (let step = 0; step < 8; step++) {
        applyRandomBatch(map, present, random);
        checkAgainstReference(map, [...present.values()], [], random, `${context} step ${step}`);
      }
      assert.equal(map.historicCount, present.size, context);
      updates.appends += map.stats.appends;
      updates.fullRebuilds += map.stats.fullRebuilds;
    }
    // Both ways of updating the index were exercised.
    assert.ok(
      updates.appends > 0 && updates.fullRebuilds > 0,
      `seed ${seed}: ${JSON.stringify(updates)}`,
    );
  });

  test("in-memory layers come first, newest first, with their start as the floor", () => {
    const historic = [l0("L0", [10, 100]), image("img", [k(0), k(50)], 60)];
    const map = mapOf(historic);
    const frozenOld = inMemory("frozen-old", 100, 150);
    const frozenNew = inMemory("frozen-new", 150, 200);
    const open = inMemory("open", 200);
    map.setOpenLayer(frozenOld);
    map.freezeOpenLayer();
    map.setOpenLayer(frozenNew);
    map.freezeOpenLayer();
    map.setOpenLayer(open);
    assert.deepEqual(map.frozenLayers, [frozenOld, frozenNew]);
    assert.equal(map.openLayer, open);
    const memory = [frozenOld, frozenNew, open];
    for (const endLsn of [0, 1, 11, 60, 61, 62, 100, 101, 150, 151, 200, 201, LSN_MAX]) {
      for (const key of [KEY_MIN, k(10), k(50), keyPrevious(KEY_MAX)]) {
        const expected = referenceSearch(historic, memory, key, endLsn);
        const actual = map.search(key, endLsn as Lsn);
        assert.equal(describeFound(actual), describeFound(expected), `${key} @ ${endLsn}`);
      }
      const range = { start: k(5), end: k(70) };
      assert.equal(
        describeRange(map.rangeSearch(range, endLsn as Lsn)),
        describeRange(referenceRangeSearch(historic, memory, range, endLsn)),
        `range @ ${endLsn}`,
      );
    }
    assert.equal(map.search(k(1), 201 as Lsn)?.layer, open);
    assert.equal(map.search(k(1), 151 as Lsn)?.layer, frozenNew);
    assert.equal(map.search(k(1), 61 as Lsn)?.layer.label, "img");
  });

  test("a flushed frozen layer becomes an L0, appended without a rebuild", () => {
    const map = mapOf([l0("L0-a", [10, 100])]);
    const frozen = inMemory("frozen", 100, 150);
    map.setOpenLayer(frozen);
    map.freezeOpenLayer();
    map.setOpenLayer(inMemory("open", 150));
    const rebuildsBefore = map.stats.fullRebuilds;
    // Flush: the new L0 and the frozen layer's removal in one synchronous step.
    const batch = map.batchUpdate();
    batch.insert(l0("L0-b", [100, 150]));
    batch.flush();
    map.removeOldestFrozen(frozen);
    assert.equal(map.stats.fullRebuilds, rebuildsBefore);
    assert.equal(map.stats.appends, 1);
    assert.equal(map.search(k(3), 150 as Lsn)?.layer.label, "L0-b");
    assert.equal(map.search(k(3), 151 as Lsn)?.layer.label, "open");
    assert.deepEqual(
      map.l0Layers().map((layer) => layer.label),
      ["L0-a", "L0-b"],
    );
  });

  test("in-memory bookkeeping asserts its invariants", () => {
    const map = mapOf([l0("L0", [10, 100])]);
    assert.throws(() => map.setOpenLayer(inMemory("below historic", 50)), AssertionError);
    const first = inMemory("first", 100);
    map.setOpenLayer(first);
    assert.throws(() => map.setOpenLayer(inMemory("second", 120)), AssertionError);
    assert.throws(() => map.freezeOpenLayer(), AssertionError, "the open end is not set");
    map.setOpenLayer(null);
    const frozenA = inMemory("a", 100, 120);
    const frozenB = inMemory("b", 120, 130);
    map.setOpenLayer(frozenA);
    map.freezeOpenLayer();
    assert.equal(map.openLayer, null);
    map.setOpenLayer(frozenB);
    map.freezeOpenLayer();
    assert.throws(() => map.removeOldestFrozen(frozenB), AssertionError);
    map.removeOldestFrozen(frozenA);
    assert.deepEqual(map.frozenLayers, [frozenB]);
    // A historic layer above the in-memory ones breaks the invariant search relies on.
    const batch = map.batchUpdate();
    batch.insert(l0("too new", [120, 140]));
    batch.flush();
    assert.throws(() => map.search(k(1), 125 as Lsn), AssertionError);
  });

  test("batches assert on duplicates and absent layers, and net out insert-then-remove", () => {
    const a = image("a", [k(0), k(10)], 50);
    const map = mapOf([a]);
    const batch = map.batchUpdate();
    assert.throws(() => batch.insert(image("a again", [k(0), k(10)], 50)), AssertionError);
    assert.throws(() => batch.remove(image("absent", [k(0), k(10)], 51)), AssertionError);
    assert.throws(() => map.batchUpdate(), AssertionError, "one batch at a time");
    const b = delta("b", [k(5), k(15)], [60, 70]);
    batch.insert(b);
    batch.remove(b);
    batch.remove(a);
    assert.throws(() => batch.remove(a), AssertionError);
    assert.equal(map.search(k(1), 100 as Lsn)?.layer, a, "nothing visible before flush");
    batch.flush();
    assert.equal(map.historicCount, 0);
    assert.equal(map.search(k(1), 100 as Lsn), null);
    assert.throws(() => batch.flush(), AssertionError);
    {
      using disposed = map.batchUpdate();
      disposed.insert(b);
    }
    assert.equal(map.search(k(6), 100 as Lsn)?.layer, b, "flushed on dispose");
  });

  test("lists layers in coverage order, finds them by name, keeps L0s apart", () => {
    const layers = [
      image("img", [k(0), k(10)], 300),
      l0("L0-late", [200, 250]),
      delta("L1", [k(0), k(20)], [100, 200]),
      l0("L0-early", [100, 200]),
    ];
    const map = mapOf(layers);
    assert.deepEqual(
      [...map.historicLayers()].map((layer) => layer.label),
      ["L0-early", "L1", "L0-late", "img"],
    );
    assert.deepEqual(
      map.l0Layers().map((layer) => layer.label),
      ["L0-early", "L0-late"],
    );
    const imageName = formatLayerName(layers[0]!.name);
    assert.equal(map.findByName(imageName)?.label, "img");
    assert.equal(map.findByName(`${imageName}-v1-00000001`)?.label, "img");
    assert.equal(map.findByName(imageName.toLowerCase())?.label, "img");
    assert.equal(map.findByName(formatLayerName(image("x", [k(0), k(10)], 301).name)), undefined);
    assert.equal(map.historicCount, 4);
  });
});

describe("layer map on a real timeline", () => {
  const dataPath = path.resolve(
    import.meta.dirname,
    "../../../../shared/data/neon/odd-brook-layernames.txt",
  );

  test("answers 10,000 searches and 200 range searches as the reference does", () => {
    assert.ok(existsSync(dataPath), `missing ${dataPath}`);
    const names = readFileSync(dataPath, "utf8")
      .split("\n")
      .filter((line) => line.length > 0)
      .map(parseLayerName);
    assert.equal(names.length, 26_690);
    const layers = names.map((name, i) => ({ label: `#${i}`, name }));
    const map = mapOf(layers);
    assert.equal(map.historicCount, 26_690);
    const reference = new SortedReference(layers);
    const seed = seedFromEnv();
    const random = new RandomLayers(seed);
    const lsnMax = Math.max(...names.map((name) => name.lsnRange.end));
    for (let i = 0; i < 10_000; i++) {
      const key = random.queryKey(layers);
      const endLsn = random.queryLsn(layers, lsnMax) as Lsn;
      const expected = reference.search(key, endLsn);
      const actual = map.search(key, endLsn);
      assert.equal(
        describeFound(actual),
        describeFound(expected),
        `seed ${seed}: ${key} @ ${endLsn}`,
      );
    }
    // Ranges around one non-L0 layer's keys: a few dozen pieces each, so the reference keeps up.
    const narrow = layers.filter((layer) => layer.name.keyRange.start !== KEY_MIN);
    let ranges = 0;
    while (ranges < 200) {
      const { keyRange } = random.pick(narrow).name;
      const start = random.pick([
        keyRange.start,
        keyPrevious(keyRange.start),
        keyNext(keyRange.start),
      ]);
      const end = random.pick([keyRange.end, keyNext(keyRange.end)]);
      const endLsn = random.queryLsn(layers, lsnMax) as Lsn;
      const expected = reference.rangeSearch({ start, end }, endLsn);
      if (expected === null) continue;
      const actual = map.rangeSearch({ start, end }, endLsn);
      assert.equal(describeRange(actual), describeRange(expected), `seed ${seed}: range ${ranges}`);
      ranges++;
    }
  });
});

/**
 * The reference scan, made fast enough for 26,690 layers: layers sorted in insertion order, so the
 * scan stops at the first layer starting at or above end_lsn and the first maximum wins ties.
 */
class SortedReference {
  private readonly layers: TestLayer[];
  // The scanned fields, flattened: the scan touches no layer object until it has a candidate.
  private readonly lsnStarts: Float64Array;
  private readonly lsnEnds: Float64Array;
  private readonly isImage: Uint8Array;
  private readonly keyStarts: Key[];
  private readonly keyEnds: Key[];

  constructor(layers: readonly TestLayer[]) {
    this.layers = [...layers].sort((a, b) =>
      insertedBefore(a.name, b.name) ? -1 : insertedBefore(b.name, a.name) ? 1 : 0,
    );
    this.lsnStarts = new Float64Array(this.layers.map((layer) => layer.name.lsnRange.start));
    this.lsnEnds = new Float64Array(this.layers.map((layer) => layer.name.lsnRange.end));
    this.isImage = new Uint8Array(
      this.layers.map((layer) => (layer.name.kind === "image" ? 1 : 0)),
    );
    this.keyStarts = this.layers.map((layer) => layer.name.keyRange.start);
    this.keyEnds = this.layers.map((layer) => layer.name.keyRange.end);
  }

  search(key: Key, endLsn: number): Found | null {
    let topDelta = -1;
    let topImage = -1;
    let deltaEnd = -1;
    let imageEnd = -1;
    for (let i = 0; i < this.layers.length && this.lsnStarts[i]! < endLsn; i++) {
      const lsnEnd = this.lsnEnds[i]!;
      const isImage = this.isImage[i] === 1;
      // Strictly greater: the first maximum in insertion order wins a tie.
      if (lsnEnd <= (isImage ? imageEnd : deltaEnd)) continue;
      if (key < this.keyStarts[i]! || key >= this.keyEnds[i]!) continue;
      if (isImage) {
        topImage = i;
        imageEnd = lsnEnd;
      } else {
        topDelta = i;
        deltaEnd = lsnEnd;
      }
    }
    return referenceSelect(this.layers[topDelta] ?? null, this.layers[topImage] ?? null, endLsn);
  }

  /** The reference range search, or null when the range has more than 32 pieces. */
  rangeSearch(
    keyRange: KeyRange,
    endLsn: number,
  ): RangeSearchResult<TestLayer, TestInMemory>[] | null {
    const cuts = new Set<Key>([keyRange.start, keyRange.end]);
    for (const { name } of this.layers) {
      for (const key of [name.keyRange.start, name.keyRange.end]) {
        if (key > keyRange.start && key < keyRange.end) cuts.add(key);
      }
    }
    if (cuts.size > 33) return null;
    const sorted = [...cuts].sort();
    const results: RangeSearchResult<TestLayer, TestInMemory>[] = [];
    for (let i = 0; i + 1 < sorted.length; i++) {
      const piece = { start: sorted[i]!, end: sorted[i + 1]! };
      const found = this.search(piece.start, endLsn);
      if (found === null) continue;
      const last = results[results.length - 1];
      if (last && last.layer === found.layer && last.lsnFloor === found.lsnFloor) {
        results[results.length - 1] = {
          ...last,
          keyRange: { start: last.keyRange.start, end: piece.end },
        };
      } else {
        results.push({ ...found, keyRange: piece });
      }
    }
    return results;
  }
}

/**
 * One random batch: L0 flushes and copies of existing shapes at higher LSNs (the append path),
 * or arbitrary inserts and removals (the rebuild path), sometimes both in one batch.
 */
function applyRandomBatch(
  map: LayerMap<TestLayer, TestInMemory>,
  present: Map<string, TestLayer>,
  random: RandomLayers,
): void {
  const layers = [...present.values()];
  const lsnStartMax = Math.max(...layers.map((layer) => layer.name.lsnRange.start));
  const batch = map.batchUpdate();
  const kind = random.integer(3);
  const toInsert: TestLayer[] = [];
  const toRemove: TestLayer[] = [];
  if (kind === 0) {
    // New L0 flushes above everything.
    for (let i = 0; i < 1 + random.integer(3); i++) {
      const start = lsnStartMax + 1 + i * 10;
      toInsert.push(l0(`flush${start}`, [start, start + 10]));
    }
  } else if (kind === 1) {
    // Known shapes at higher LSNs: no new boundaries.
    for (let i = 0; i < 1 + random.integer(6); i++) {
      const { name } = random.pick(layers);
      const shift = lsnStartMax + 1 - name.lsnRange.start + random.integer(40);
      const lsnRange = {
        start: (name.lsnRange.start + shift) as Lsn,
        end: (name.lsnRange.end + shift) as Lsn,
      };
      toInsert.push(random.relabel({ ...name, lsnRange }));
    }
  } else {
    for (let i = 0; i < random.integer(15); i++) toInsert.push(random.layer(1, lsnStartMax + 50));
    for (let i = 0; i < random.integer(10) && layers.length > 1; i++)
      toRemove.push(random.pick(layers));
  }
  const pending = new Map(present);
  for (const layer of toRemove) {
    if (!pending.has(identityOf(layer))) continue;
    pending.delete(identityOf(layer));
    batch.remove(layer);
  }
  for (const layer of toInsert) {
    if (pending.has(identityOf(layer))) continue;
    pending.set(identityOf(layer), layer);
    batch.insert(layer);
  }
  batch.flush();
  present.clear();
  for (const [identity, layer] of pending) present.set(identity, layer);
}

describe("count_deltas", () => {
  test("counts stacked deltas under the top one, L0s only over the whole key space", () => {
    const map = mapOf([
      delta("a", [k(0), k(10)], [100, 200]),
      delta("b", [k(0), k(5)], [200, 300]),
      delta("c", [k(0), k(20)], [300, 400]),
      delta("d", [k(15), k(20)], [400, 500]),
      l0("L0", [500, 600]),
    ]);
    const lsns = { start: 0 as Lsn, end: 1000 as Lsn };
    assert.equal(map.countDeltas({ start: k(0), end: k(20) }, lsns), 3);
    assert.equal(map.countDeltas({ start: k(0), end: k(20) }, lsns, 2), 2);
    assert.equal(map.countDeltas({ start: k(5), end: k(10) }, lsns), 2);
    assert.equal(map.countDeltas({ start: k(15), end: k(20) }, lsns), 2);
    assert.equal(
      map.countDeltas({ start: k(0), end: k(20) }, { start: 250 as Lsn, end: 450 as Lsn }),
      2,
    );
    assert.equal(map.countDeltas({ start: k(30), end: k(40) }, lsns), 0);
    // The whole key space: the L0 on top counts too.
    assert.equal(map.countDeltas({ start: KEY_MIN, end: KEY_MAX }, lsns), 4);
  });
});

describe("layer visibility", () => {
  test("follows Neon's sweep: images shadow, read points reset, deltas wait for read points", () => {
    const layers = [
      delta("above all images", [k(10), k(30)], [400, 450]),
      image("top image", [k(0), k(40)], 390),
      delta("ends where the top image is", [k(0), k(5)], [385, 391]),
      delta("under the top image", [k(10), k(30)], [300, 380]),
      delta("half under it", [k(35), k(50)], [300, 380]),
      image("inside the shadow", [k(5), k(15)], 290),
      image("adds keys 40..45", [k(38), k(45)], 290),
      delta("seen from read point 200", [k(10), k(30)], [180, 199]),
      image("below read point 200", [k(10), k(30)], 175),
      delta("read point 165 inside", [k(10), k(20)], [160, 176]),
      delta("passed without read point", [k(20), k(30)], [168, 175]),
      image("below read point 165", [k(10), k(30)], 150),
      delta("nothing covers it", [k(50), k(60)], [100, 120]),
      image("under the last image", [k(12), k(18)], 140),
    ];
    const { entries, shadow } = getVisibility(layers, [500, 200, 165] as Lsn[]);
    const byLabel = Object.fromEntries(entries.map((e) => [e.layer.label, e.visibility]));
    assert.deepEqual(byLabel, {
      "above all images": "Visible",
      "top image": "Visible",
      "ends where the top image is": "Covered",
      "under the top image": "Covered",
      "half under it": "Visible",
      "inside the shadow": "Covered",
      "adds keys 40..45": "Visible",
      "seen from read point 200": "Visible",
      "below read point 200": "Visible",
      "read point 165 inside": "Visible",
      "passed without read point": "Covered",
      "below read point 165": "Visible",
      "nothing covers it": "Visible",
      "under the last image": "Covered",
    });
    assert.deepEqual(shadow.ranges, [{ start: k(10), end: k(30) }]);
    assert.deepEqual(
      entries.map((e) => e.layer),
      layers,
      "entries come in input order",
    );
    const fromMap = mapOf(layers).getVisibility([500, 200, 165] as Lsn[]);
    assert.deepEqual(
      Object.fromEntries(fromMap.entries.map((e) => [e.layer.label, e.visibility])),
      byLabel,
    );
  });

  test("an image at a read point's LSN is read there", () => {
    const layers = [image("upper", [k(0), k(10)], 200), image("at read point", [k(0), k(10)], 100)];
    const { entries } = getVisibility(layers, [300, 100] as Lsn[]);
    assert.deepEqual(
      entries.map((e) => e.visibility),
      ["Visible", "Visible"],
    );
    const withoutPoint = getVisibility(layers, [300] as Lsn[]);
    assert.deepEqual(
      withoutPoint.entries.map((e) => e.visibility),
      ["Visible", "Covered"],
    );
  });
});
