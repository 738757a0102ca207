/**
 * Crash consistency of ingest. Goal: a SIGKILL at any instant loses nothing at or below
 * disk_consistent_lsn, leaves no temp files once loaded, and ingest resumes to the same final
 * state. Method: a child process ingests the deterministic generator into a real workdir; we kill
 * it at random moments (20+ rounds), load the workdir here, compare reads with the generator's
 * model up to disk_consistent_lsn, then let the child finish and compare the final state.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { generateTenantId, generateTimelineId } from "../src/ids.ts";
import { BOOTSTRAP_INITDB_LSN } from "../src/tenant/tenant.ts";
import { TenantManager } from "../src/tenant/tenant_manager.ts";
import { generatorParamsSchema, WalGenerator } from "../src/wal_generator/wal_generator.ts";
import { checkTimeline, findTempFiles, startChild } from "./crash_support.ts";
import { GeneratorModel } from "./generator_model.ts";
import { rng, seedFromEnv, tempDirectory, testIo } from "./helpers.ts";

const ROUNDS = 20;
const TRANSACTIONS = 12_000;

test("SIGKILL during ingest loses nothing at or below disk_consistent_lsn", {
  timeout: 600_000,
}, async () => {
  const seed = seedFromEnv();
  const random = rng(seed);
  using dir = tempDirectory("crash-test-");
  const tenantId = generateTenantId();
  const timelineId = generateTimelineId();
  const params = {
    seed,
    workload: "hot-cold",
    size: 300,
    rate: 3000,
    transactions: TRANSACTIONS,
    start_time_ms: 1_700_000_000_000,
  };
  const model = new GeneratorModel(
    new WalGenerator(generatorParamsSchema.parse(params), BOOTSTRAP_INITDB_LSN),
  );
  const args = [dir.path, tenantId, timelineId, JSON.stringify(params)];
  let previousDcl = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const { child, started, exited } = startChild(args);
    await started;
    await new Promise((resolve) => setTimeout(resolve, 150 + random() * 450));
    child.kill("SIGKILL");
    await exited;

    const manager = new TenantManager({ workdir: dir.path, io: testIo(128, 16) });
    await manager.load();
    assert.deepEqual(
      findTempFiles(dir.path),
      [],
      `seed ${seed}: temp or ephemeral files remain after load`,
    );
    const timeline = manager.get(tenantId).getTimeline(timelineId);
    assert.ok(
      timeline.diskConsistentLsn >= previousDcl,
      `seed ${seed}: disk_consistent_lsn went backwards`,
    );
    previousDcl = timeline.diskConsistentLsn;
    await checkTimeline(timeline, model, random, seed);
    await manager.shutdown({ flush: false });
  }
  assert.ok(previousDcl > BOOTSTRAP_INITDB_LSN, "some WAL became durable across the rounds");

  // Let ingest run to the end and compare the final state with the model of every transaction.
  const { exited } = startChild([...args, "--finish"]);
  assert.equal(await exited, 0);
  const manager = new TenantManager({ workdir: dir.path, io: testIo(128, 16) });
  await manager.load();
  const timeline = manager.get(tenantId).getTimeline(timelineId);
  assert.equal(timeline.lastRecordLsn, model.generator.transactionEndLsn(TRANSACTIONS - 1));
  model.advanceTo(TRANSACTIONS);
  assert.ok((await checkTimeline(timeline, model, random, seed)) > 300);
  await manager.shutdown({ flush: false });
});
