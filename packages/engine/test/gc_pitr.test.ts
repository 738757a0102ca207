/**
 * GC with a PITR window: the time cutoff comes from the commit timestamps ingest saw (the CLOG
 * trailers), GC removes only layers wholly below it whose keys newer images cover, every kept
 * layer has its reason, and every read at or above the cutoff is what the generator wrote.
 *
 * The generator runs "as fast as possible", which stamps transaction t with start + t ms, so a
 * wall-clock "now" can be chosen that puts the PITR boundary at a known transaction.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { findGcCutoffs, gcTimeline } from "../src/gc/gc.ts";
import { generateTenantId, generateTimelineId } from "../src/ids.ts";
import { formatLsn, type Lsn } from "../src/lsn.ts";
import { TenantManager } from "../src/tenant/tenant_manager.ts";
import { generatorParamsSchema, WalGenerator } from "../src/wal_generator/wal_generator.ts";
import { GeneratorModel } from "./generator_model.ts";
import { rng, seedFromEnv, tempDirectory, testIo } from "./helpers.ts";

const START_MS = 1_750_000_000_000;
const PITR_MS = 10_000;
const PHASES = 3;
const PHASE_TRANSACTIONS = 2000;

test("PITR: the time cutoff follows commit timestamps; nothing a read above it needs is removed", {
  timeout: 300_000,
}, async (t) => {
  const seed = seedFromEnv();
  const random = rng(seed);
  // Cleanup in t.after, in order: the managers first (they may still be flushing), then the files.
  const dir = tempDirectory("gc-pitr-");
  const managers: TenantManager[] = [];
  t.after(async () => {
    for (const m of managers) await m.shutdown({ flush: false }).catch(() => {});
    dir[Symbol.dispose]();
  });
  const manager = new TenantManager({ workdir: dir.path, io: testIo(128, 16) });
  await manager.load();
  managers.push(manager);
  const tenantId = generateTenantId();
  const tenant = (await manager.setLocation(tenantId, {
    mode: "AttachedSingle",
    tenantConf: {
      checkpoint_distance: 64 * 1024,
      compaction_threshold: 3,
      compaction_target_size: 128 * 1024,
      image_creation_threshold: 1,
      gc_horizon: 0,
      pitr_interval: "10s",
      compaction_period: "0s",
      gc_period: "0s",
    },
  }))!;
  const timelineId = generateTimelineId();
  const { timeline } = await tenant.createTimeline({ newTimelineId: timelineId });
  // Three phases, each compacted with fresh images, so older layers become garbage. Each
  // attach starts a new generator run at last_record_lsn (transaction 0 there), so each phase
  // gets its own generator and a start time that continues the previous phase's clock.
  const phases: WalGenerator[] = [];
  for (let phase = 0; phase < PHASES; phase++) {
    const params = {
      seed: seed + phase,
      workload: "pgbench",
      size: 1,
      rate: 0,
      transactions: PHASE_TRANSACTIONS,
      start_time_ms: START_MS + phase * PHASE_TRANSACTIONS,
    };
    phases.push(new WalGenerator(generatorParamsSchema.parse(params), timeline.lastRecordLsn));
    const loop = await tenant.attachWalSource(timelineId, { kind: "generator", params });
    await loop.finished();
    await tenant.detachWalSource(timelineId);
    assert.equal(timeline.lastRecordLsn, phases[phase]!.transactionEndLsn(PHASE_TRANSACTIONS - 1));
    await timeline.checkpoint();
    await tenant.compact(timelineId, { forceL0Compaction: true, forceImageLayerCreation: true });
  }
  // One model of all three phases: their LSN ranges follow each other.
  const model = new GeneratorModel(phases[0]!);
  model.advanceTo(PHASE_TRANSACTIONS);
  for (const generator of phases.slice(1)) {
    const next = new GeneratorModel(generator);
    next.advanceTo(PHASE_TRANSACTIONS);
    for (const [key, versions] of next.versions) {
      const list = model.versions.get(key);
      if (list) list.push(...versions);
      else model.versions.set(key, [...versions]);
    }
  }

  // "Now" puts the PITR boundary at the commit of the third phase's transaction 500.
  const generator = phases[2]!;
  const boundary = 500;
  const nowMs = generator.commitTimeMs(boundary) + PITR_MS;
  const cutoffs = await findGcCutoffs(timeline, 0, nowMs);
  assert.ok(
    cutoffs.time >= generator.transactionEndLsn(boundary - 1) &&
      cutoffs.time < generator.transactionEndLsn(boundary + 1),
    `seed ${seed}: time cutoff ${formatLsn(cutoffs.time)} is not at transaction ${boundary}`,
  );
  // A window older than all history keeps everything; one newer than it all, nothing extra.
  assert.equal(
    (await findGcCutoffs(timeline, 0, START_MS - 1000 + PITR_MS)).time,
    timeline.latestGcCutoffLsn,
  );
  assert.equal((await findGcCutoffs(timeline, 0, nowMs + 3_600_000)).time, timeline.lastRecordLsn);

  const before = [...timeline.layers.historicLayers()].map((l) => ({
    name: l.nameText,
    lsnRange: l.name.lsnRange,
  }));
  const result = await gcTimeline(timeline, { retainLsns: [], nowMs });
  assert.equal(result.new_cutoff, cutoffs.time);
  assert.equal(timeline.latestGcCutoffLsn, cutoffs.time);
  assert.equal(result.layers_total, before.length);
  assert.ok(result.layers_removed > 0, `seed ${seed}: GC removed nothing of ${before.length}`);
  assert.equal(result.layers_removed + Object.keys(result.retained).length, result.layers_total);
  const counted =
    result.layers_needed_by_cutoff +
    result.layers_needed_by_pitr +
    result.layers_needed_by_branches +
    result.layers_needed_by_leases +
    result.layers_not_updated;
  assert.equal(counted, Object.keys(result.retained).length, "every kept layer has one reason");
  for (const name of result.removed) {
    const layer = before.find((l) => l.name === name)!;
    assert.ok(
      layer.lsnRange.end <= result.new_cutoff,
      `seed ${seed}: removed ${name}, which reaches above the cutoff`,
    );
  }
  for (const { name, lsnRange } of before) {
    if (lsnRange.end > result.new_cutoff)
      assert.ok(name in result.retained, `${name} is above the cutoff and must stay`);
  }

  // Reads at and above the cutoff are intact, after a reload too.
  const checkAt = async (tl: typeof timeline, lsn: Lsn) => {
    for (const key of [...model.versions.keys()].filter(() => random() < 0.3)) {
      const expected = model.valueAt(key, lsn);
      const actual = (await tl.getVectored([key], lsn)).get(key)!;
      const where = `seed ${seed}: key ${key} at ${formatLsn(lsn)}`;
      if (expected === null) assert.ok(actual instanceof Error, where);
      else {
        assert.ok(!(actual instanceof Error), `${where}: ${(actual as Error).message}`);
        assert.ok(actual.equals(expected), `${where}: bytes differ`);
      }
    }
  };
  const probes = [
    result.new_cutoff,
    (Math.floor((result.new_cutoff + timeline.lastRecordLsn) / 16) * 8) as Lsn,
    timeline.lastRecordLsn,
  ];
  for (const lsn of probes) await checkAt(timeline, lsn);
  await manager.shutdown({ flush: true });

  const reloaded = new TenantManager({ workdir: dir.path, io: testIo(128, 16) });
  await reloaded.load();
  managers.push(reloaded);
  const again = reloaded.get(tenantId).getTimeline(timelineId);
  assert.equal(again.latestGcCutoffLsn, result.new_cutoff, "the cutoff is durable");
  assert.equal([...again.layers.historicLayers()].length, before.length - result.layers_removed);
  for (const lsn of probes) await checkAt(again, lsn);
  await reloaded.shutdown({ flush: false });
});
