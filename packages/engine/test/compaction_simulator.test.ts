/**
 * The compaction simulator: its runs replay exactly from a seed, keep every ingested record in
 * exactly one live delta (no GC runs in it, so nothing may be lost or duplicated), report
 * amplifications within sane bounds, and leave no level as deep as the fanout after a compaction.
 * Method: small runs (1 MiB target files, so hundreds of flushes take milliseconds) over uniform
 * and hot-cold workloads and several fanouts; the seed is printed for replay (SIM_SEED=…).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  identifyLevel,
  type Level,
  type LevelLayer,
  levelDepth,
} from "../src/compaction/levels.ts";
import {
  imageChunks,
  type MockLayer,
  MockTimeline,
  mergeRuns,
  RecordBuffer,
  renderReplayHtml,
  retileCuts,
  SimulatorRng,
  simulate,
  simulatorKey,
} from "../src/compaction/simulator/index.ts";
import type { Lsn } from "../src/lsn.ts";
import { seedFromEnv } from "./helpers.ts";

const MIB = 1024 * 1024;
const SEED = seedFromEnv("SIM_SEED");
console.log(`compaction simulator tests: SIM_SEED=${SEED}`);

function shapes(layers: readonly MockLayer[]): LevelLayer[] {
  return layers.map((layer) => ({
    kind: layer.kind,
    keyRange: { start: simulatorKey(layer.keyStart), end: simulatorKey(layer.keyEnd) },
    lsnRange: { start: layer.lsnStart as Lsn, end: layer.lsnEnd as Lsn },
    fileSize: layer.fileSize,
  }));
}

/**
 * The depth of each level counting only the layers of that level: level n is identified as the
 * compaction does (same end LSN, height target × fanout^n) and cut off where level n−1 starts.
 */
function ownLevelDepths(timeline: MockTimeline, fanout: number): number[] {
  const all = shapes(timeline.liveLayers());
  const endLsn = timeline.lastFlushedLsn as Lsn;
  const depths: number[] = [];
  let height = timeline.targetFileSizeBytes;
  let upperStart: number = endLsn;
  for (let n = 0; n < 12; n++, height *= Math.max(fanout, 2)) {
    const level = identifyLevel(all, endLsn, height * 1.75);
    if (!level) {
      depths.push(0);
      continue;
    }
    const own: Level<LevelLayer> = {
      lsnRange: { start: level.lsnRange.start, end: upperStart as Lsn },
      layers: level.layers.filter((layer) =>
        layer.kind === "image"
          ? layer.lsnRange.start <= upperStart
          : layer.lsnRange.end <= upperStart,
      ),
    };
    depths.push(levelDepth(own));
    upperStart = level.lsnRange.start;
  }
  return depths;
}

describe("compaction simulator", () => {
  test("a seed replays a run exactly; another seed gives another run", () => {
    const options = {
      distribution: "uniform" as const,
      records: 40_000,
      recordLengthBytes: 500,
      logicalSizeMb: 8,
      timeline: { targetFileSizeBytes: MIB },
    };
    const first = simulate({ ...options, seed: SEED });
    const second = simulate({ ...options, seed: SEED });
    const other = simulate({ ...options, seed: SEED + 1 });
    assert.deepEqual(second.stats, first.stats);
    assert.deepEqual(second.timeline.history, first.timeline.history);
    const names = (run: typeof first) => run.timeline.layers.map((layer) => layer.name);
    assert.deepEqual(names(second), names(first));
    assert.notDeepEqual(names(other), names(first));
  });

  test("every ingested record is in exactly one live delta, inside its ranges", () => {
    const records = 30_000;
    const { timeline, stats } = simulate({
      distribution: "hot-cold",
      records,
      recordLengthBytes: 300,
      logicalSizeMb: 4,
      seed: SEED,
      timeline: { targetFileSizeBytes: MIB / 2 },
    });
    let count = 0;
    let bytes = 0;
    const seen = new Set<number>();
    for (const layer of timeline.liveLayers()) {
      if (layer.kind === "image") continue;
      const run = layer.records!;
      for (let i = 0; i < run.keys.length; i++) {
        const key = run.keys[i]!;
        const lsn = run.lsns[i]!;
        assert.ok(key >= layer.keyStart && key < layer.keyEnd, `key ${key} outside ${layer.name}`);
        assert.ok(lsn >= layer.lsnStart && lsn < layer.lsnEnd, `LSN ${lsn} outside ${layer.name}`);
        if (i > 0) {
          const previousKey = run.keys[i - 1]!;
          assert.ok(previousKey < key || (previousKey === key && run.lsns[i - 1]! < lsn));
        }
        assert.ok(!seen.has(lsn), `record at LSN ${lsn} stored twice`);
        seen.add(lsn);
        bytes += run.lengths[i]!;
        count++;
      }
    }
    assert.equal(count, records);
    assert.equal(bytes, stats.walIngestedBytes);
  });

  test("amplification stays within sane bounds", () => {
    for (const distribution of ["uniform", "hot-cold"] as const) {
      const { stats } = simulate({
        distribution,
        records: 60_000,
        recordLengthBytes: 1000,
        logicalSizeMb: 16,
        seed: SEED,
        timeline: { targetFileSizeBytes: MIB },
      });
      const context = `${distribution}: ${JSON.stringify(stats)}`;
      assert.equal(stats.walIngestedBytes, 60_000 * 1000);
      // Every byte is written at least once (its L0); deltas are never dropped (no GC here).
      assert.ok(stats.writeAmplification >= 1, context);
      assert.ok(stats.storageAmplification >= 1, context);
      assert.ok(stats.storageAmplification <= stats.writeAmplification, context);
      // Tiered with fanout 4 over ~57 flushes: L0, two re-tiled levels, maybe images.
      assert.ok(stats.writeAmplification < 6, context);
      assert.ok(stats.storageAmplification < 3, context);
      assert.ok(stats.compactions >= 10, context);
    }
  });

  test("after every compaction no level is as deep as the fanout", () => {
    for (const [fanout, logicalSizeMb] of [
      [4, 50],
      [3, 10],
      [2, 5],
      [4, 400],
    ] as const) {
      const timeline = new MockTimeline({ targetFileSizeBytes: MIB, tiersPerLevel: fanout });
      const rng = new SimulatorRng(SEED);
      const keys = logicalSizeMb * 128;
      timeline.addKeyRange({ start: 0, end: keys });
      let compactions = 0;
      for (let i = 0; i < 120_000; i++) {
        timeline.ingestRecord(rng.integer(0, keys), 1000);
        const reports = timeline.compactIfNeeded();
        if (!reports) continue;
        compactions++;
        const last = reports[reports.length - 1];
        if (last) assert.ok(last.strategy === "none" && last.depth < fanout, JSON.stringify(last));
        for (const report of reports.slice(0, -1)) assert.ok(report.depth >= fanout);
        const depths = ownLevelDepths(timeline, fanout);
        assert.ok(
          depths.every((depth) => depth < fanout),
          `fanout ${fanout}, logical ${logicalSizeMb} MB: level depths ${depths}`,
        );
      }
      assert.ok(compactions >= 20, `only ${compactions} compactions`);
    }
  });

  test("images are created when the keyspace is smaller than the level's deltas", () => {
    // 1 MiB of keyspace against 4 MiB of L0s: the first compaction covers it with images.
    const { timeline } = simulate({
      distribution: "uniform",
      records: 5_000,
      recordLengthBytes: 1000,
      logicalSizeMb: 1,
      seed: SEED,
      timeline: { targetFileSizeBytes: MIB },
    });
    const images = timeline.layers.filter((layer) => layer.kind === "image");
    assert.ok(images.length >= 1);
    for (const image of images) assert.equal(image.lsnEnd, image.lsnStart + 1);
    assert.equal(images[0]!.keyStart, 0);
  });

  test("building blocks: sort, merge, cuts, image chunks", () => {
    const buffer = new RecordBuffer();
    const keys = [5, 3, 5, 1, 3];
    keys.forEach((key, i) => {
      buffer.push(key, 100 + i, 10 + i);
    });
    const sorted = buffer.takeSortedByKey();
    assert.deepEqual([...sorted.keys], [1, 3, 3, 5, 5]);
    assert.deepEqual([...sorted.lsns], [103, 101, 104, 100, 102]);
    assert.equal(buffer.count, 0);

    const other = new RecordBuffer();
    [3, 4, 9].forEach((key, i) => {
      other.push(key, 200 + i, 1);
    });
    const merged = mergeRuns([sorted, other.takeSortedByKey()]);
    assert.deepEqual([...merged.keys], [1, 3, 3, 3, 4, 5, 5, 9]);
    assert.deepEqual([...merged.lsns], [103, 101, 104, 200, 201, 100, 102, 202]);

    // Cuts never split one key's versions; a small tail joins the previous piece.
    const cuts = retileCuts(merged, 20);
    assert.equal(cuts[0], 0);
    assert.equal(cuts[cuts.length - 1], merged.keys.length);
    for (const cut of cuts.slice(1, -1)) assert.notEqual(merged.keys[cut], merged.keys[cut - 1]);

    const chunks = imageChunks(
      [
        { start: 0, end: 100 },
        { start: 200, end: 210 },
      ],
      50,
    );
    // 110 keys: one of 50, then 60 left, within 1.25 × 50, so the last one stretches.
    assert.deepEqual(
      chunks.map((c) => c.keys),
      [50, 60],
    );
    const three = imageChunks([{ start: 0, end: 130 }], 50);
    assert.deepEqual(
      three.map((c) => c.keys),
      [50, 50, 30],
    );
    assert.equal(chunks[0]!.range.start, 0);
    assert.equal(chunks[1]!.range.start, chunks[0]!.range.end);
    assert.equal(chunks[1]!.range.end, Number.MAX_SAFE_INTEGER);
  });

  test("the replay page is self-contained and lists every step", () => {
    const { timeline, stats, keyspaceKeys } = simulate({
      distribution: "uniform",
      records: 20_000,
      recordLengthBytes: 500,
      logicalSizeMb: 8,
      seed: SEED,
      timeline: { targetFileSizeBytes: MIB },
    });
    const html = renderReplayHtml({
      title: "test </script> run",
      layers: timeline.layers,
      steps: timeline.steps,
      stats,
      keyspaceEnd: keyspaceKeys,
    });
    assert.ok(html.startsWith("<!doctype html>"));
    assert.ok(!/<script[^>]+src=|<link[^>]+href=/i.test(html), "no external resources");
    const json = /<script type="application\/json" id="data">(.*?)<\/script>/s.exec(html);
    assert.ok(json, "data block present and not broken by the title");
    const data = JSON.parse(json[1]!) as { layers: unknown[]; steps: unknown[] };
    assert.equal(data.layers.length, timeline.layers.length);
    assert.equal(data.steps.length, stats.flushes + stats.compactions);
  });
});
