/**
 * Compaction, image creation and GC asked for at the same time on one timeline (the background
 * loop, an operator's `compact` and `do_gc` calls) while ingest goes on: they take turns, none
 * fails, and every read at or above the GC cutoff stays what the generator wrote.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { generateTenantId, generateTimelineId } from "../src/ids.ts";
import { formatLsn, type Lsn } from "../src/lsn.ts";
import { TenantManager } from "../src/tenant/tenant_manager.ts";
import { generatorParamsSchema, WalGenerator } from "../src/wal_generator/wal_generator.ts";
import { GeneratorModel } from "./generator_model.ts";
import { rng, seedFromEnv, tempDirectory, testIo } from "./helpers.ts";

const TRANSACTIONS = 6000;

test("concurrent compactions and GCs on one timeline take turns and lose nothing", {
  timeout: 300_000,
}, async (t) => {
  const seed = seedFromEnv();
  const random = rng(seed);
  // Cleanup in t.after, in order: the manager first (it may still be flushing), then the files.
  const dir = tempDirectory("compaction-concurrency-");
  const manager = new TenantManager({ workdir: dir.path, io: testIo(128, 16) });
  await manager.load();
  t.after(async () => {
    await manager.shutdown({ flush: false }).catch(() => {});
    dir[Symbol.dispose]();
  });
  const tenant = (await manager.setLocation(generateTenantId(), {
    mode: "AttachedSingle",
    tenantConf: {
      checkpoint_distance: 64 * 1024,
      compaction_threshold: 2,
      compaction_target_size: 128 * 1024,
      image_creation_threshold: 1,
      gc_horizon: 256 * 1024,
      pitr_interval: "0s",
      compaction_period: "20ms",
      gc_period: "0s",
    },
  }))!;
  const timelineId = generateTimelineId();
  const { timeline } = await tenant.createTimeline({ newTimelineId: timelineId });
  const params = {
    seed,
    workload: "hot-cold",
    size: 300,
    rate: 0,
    transactions: TRANSACTIONS,
    start_time_ms: 1_700_000_000_000,
  };
  const generator = new WalGenerator(generatorParamsSchema.parse(params), timeline.lastRecordLsn);
  const loop = await tenant.attachWalSource(timelineId, { kind: "generator", params });
  let rounds = 0;
  let finished = false;
  void loop.finished().then(() => {
    finished = true;
  });
  while (!finished || rounds < 5) {
    rounds++;
    const work: Promise<unknown>[] = [];
    for (let i = 0; i < 4; i++) {
      work.push(
        tenant.compact(timelineId, {
          forceL0Compaction: random() < 0.5,
          forceImageLayerCreation: random() < 0.5,
        }),
      );
      if (random() < 0.5) work.push(tenant.gc(timelineId, null));
      if (random() < 0.3) work.push(timeline.checkpoint());
    }
    const outcomes = await Promise.allSettled(work);
    for (const outcome of outcomes)
      assert.equal(
        outcome.status,
        "fulfilled",
        `seed ${seed}, round ${rounds}: ${(outcome as PromiseRejectedResult).reason?.stack}`,
      );
  }
  await timeline.checkpoint();
  await tenant.compact(timelineId, { forceL0Compaction: true, forceImageLayerCreation: true });
  await tenant.gc(timelineId, null);

  const model = new GeneratorModel(generator);
  model.advanceTo(TRANSACTIONS);
  const floor = timeline.latestGcCutoffLsn;
  const probes = [floor, timeline.lastRecordLsn];
  for (let i = 0; i < 3; i++)
    probes.push((floor + Math.floor((random() * (timeline.lastRecordLsn - floor)) / 8) * 8) as Lsn);
  for (const lsn of probes) {
    for (const key of model.versions.keys()) {
      const expected = model.valueAt(key, lsn);
      const actual = (await timeline.getVectored([key], lsn)).get(key)!;
      const where = `seed ${seed}: key ${key} at ${formatLsn(lsn)}`;
      if (expected === null) assert.ok(actual instanceof Error, where);
      else {
        assert.ok(!(actual instanceof Error), `${where}: ${(actual as Error).message}`);
        assert.ok(actual.equals(expected), `${where}: bytes differ`);
      }
    }
  }
});
