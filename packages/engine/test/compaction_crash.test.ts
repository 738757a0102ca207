/**
 * Crash consistency of compaction. Goal: a crash at any moment inside L0 compaction or image
 * layer creation leaves a timeline that loads (no temp files, no half-swapped layer set) and reads
 * exactly as before. Method: the ingest child runs with compaction turned up (threshold 2, every
 * 100 ms); each round either arms an `exit` failpoint at one of compaction's steps (the process
 * dies there, as a power cut would) or kills it with SIGKILL at a random instant. After every
 * round the workdir is loaded here and read against the generator's model up to
 * disk_consistent_lsn; at the end, compaction runs here once more and the reads are checked again.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { generateTenantId, generateTimelineId } from "../src/ids.ts";
import { isL0Name } from "../src/storage_layer/layer_name.ts";
import { BOOTSTRAP_INITDB_LSN } from "../src/tenant/tenant.ts";
import { TenantManager } from "../src/tenant/tenant_manager.ts";
import { generatorParamsSchema, WalGenerator } from "../src/wal_generator/wal_generator.ts";
import { checkTimeline, findTempFiles, startChild } from "./crash_support.ts";
import { GeneratorModel } from "./generator_model.ts";
import { rng, seedFromEnv, tempDirectory, testIo } from "./helpers.ts";

const FAILPOINTS = [
  "compaction-merge",
  "compaction-before-commit",
  "compaction-after-commit",
  "image-layer-before-finish",
  null, // SIGKILL at a random instant
];
const ROUNDS = 10;
/** Enough WAL (about 12 s at the generator's rate) that ingest, and so compaction, go on through the rounds. */
const TRANSACTIONS = 30_000;
/**
 * A round whose failpoint is never reached ends with SIGKILL after this long anyway (a fallback
 * against a hang, not a speed assumption: such a round is still a crash, and is checked).
 */
const FAILPOINT_WAIT_MS = 60_000;

test("a crash anywhere inside compaction leaves a timeline that loads and reads the same", {
  timeout: 900_000,
}, async () => {
  const seed = seedFromEnv();
  const random = rng(seed);
  using dir = tempDirectory("compaction-crash-");
  const tenantId = generateTenantId();
  const timelineId = generateTimelineId();
  const params = {
    seed,
    workload: "hot-cold",
    size: 400,
    rate: 2500,
    transactions: TRANSACTIONS,
    start_time_ms: 1_700_000_000_000,
  };
  const model = new GeneratorModel(
    new WalGenerator(generatorParamsSchema.parse(params), BOOTSTRAP_INITDB_LSN),
  );
  const env = {
    CHILD_TENANT_CONF: JSON.stringify({
      compaction_threshold: 2,
      compaction_period: "100ms",
      image_creation_threshold: 2,
      compaction_target_size: 256 * 1024,
    }),
  };
  const args = [dir.path, tenantId, timelineId, JSON.stringify(params)];
  const diedAt = new Map<string, number>();
  let previousDcl = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const point = FAILPOINTS[round % FAILPOINTS.length]!;
    const { child, started, exited, stderr } = startChild(
      args,
      point ? { ...env, FAILPOINTS: `${point}=exit` } : env,
    );
    await started;
    if (point) {
      const timer = setTimeout(() => child.kill("SIGKILL"), FAILPOINT_WAIT_MS);
      const code = await exited;
      clearTimeout(timer);
      if (stderr().includes(`failpoint ${point}: exiting`))
        diedAt.set(point, (diedAt.get(point) ?? 0) + 1);
      // Killed by the fallback (null) or died at the failpoint (1): anything else is a bug.
      else
        assert.equal(
          code,
          null,
          `seed ${seed}: the child failed on its own:\n${stderr().slice(-2000)}`,
        );
    } else {
      await new Promise((resolve) => setTimeout(resolve, 200 + random() * 1500));
      child.kill("SIGKILL");
      await exited;
    }

    const manager = new TenantManager({ workdir: dir.path, io: testIo(128, 16) });
    await manager.load();
    assert.deepEqual(findTempFiles(dir.path), [], `seed ${seed}, round ${round} (${point})`);
    const tenant = manager.get(tenantId);
    assert.equal(tenant.state.slug, "Active", `seed ${seed}: ${JSON.stringify(tenant.state)}`);
    const timeline = tenant.getTimeline(timelineId);
    assert.ok(timeline.diskConsistentLsn >= previousDcl, `seed ${seed}: went backwards`);
    previousDcl = timeline.diskConsistentLsn;
    await checkTimeline(timeline, model, random, seed);
    await manager.shutdown({ flush: false });
  }
  // The rounds did crash inside compaction, not only around it.
  assert.ok(
    diedAt.size >= 2,
    `seed ${seed}: only ${[...diedAt.keys()].join(", ") || "no"} failpoints were reached`,
  );

  const { exited } = startChild([...args, "--finish"], env);
  assert.equal(await exited, 0);
  const manager = new TenantManager({ workdir: dir.path, io: testIo(128, 16) });
  await manager.load();
  const tenant = manager.get(tenantId);
  const timeline = tenant.getTimeline(timelineId);
  const compacted = [...timeline.layers.historicLayers()].filter((l) => !isL0Name(l.name));
  assert.ok(compacted.length > 0, `seed ${seed}: no L1 or image layers: compaction never ran`);
  model.advanceTo(TRANSACTIONS);
  await checkTimeline(timeline, model, random, seed);
  await tenant.compact(timelineId, { forceL0Compaction: true, forceImageLayerCreation: true });
  assert.ok((await checkTimeline(timeline, model, random, seed)) > 300);
  await manager.shutdown({ flush: false });
});
