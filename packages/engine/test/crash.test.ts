/**
 * Crash consistency of ingest. Goal: a SIGKILL at any instant loses nothing at or below
 * disk_consistent_lsn, leaves no temp files once loaded, and ingest resumes to the same final
 * state. Method: a child process ingests the deterministic generator into a real workdir; we kill
 * it at random moments (20+ rounds), load the workdir here, compare reads with the generator's
 * model up to disk_consistent_lsn, then let the child finish and compare the final state.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { generateTenantId, generateTimelineId } from "../src/ids.ts";
import { formatLsn, type Lsn } from "../src/lsn.ts";
import { BOOTSTRAP_INITDB_LSN } from "../src/tenant/tenant.ts";
import { TenantManager } from "../src/tenant/tenant_manager.ts";
import type { Timeline } from "../src/timeline/timeline.ts";
import { generatorParamsSchema, WalGenerator } from "../src/wal_generator/wal_generator.ts";
import { GeneratorModel } from "./generator_model.ts";
import { rng, seedFromEnv, tempDirectory, testIo } from "./helpers.ts";

const CHILD = path.join(import.meta.dirname, "fixtures", "ingest_child.ts");
const ROUNDS = 20;
const TRANSACTIONS = 12_000;

function startChild(args: string[]): {
  child: ChildProcess;
  started: Promise<void>;
  exited: Promise<number | null>;
} {
  const child = spawn(process.execPath, ["--import", "tsx", CHILD, ...args], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const started = new Promise<void>((resolve) => {
    child.stdout!.on("data", (chunk: Buffer) => {
      if (chunk.toString().includes("started")) resolve();
    });
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return { child, started, exited };
}

function findTempFiles(directory: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(directory, { withFileTypes: true, recursive: true })) {
    if (entry.name.endsWith("___temp") || entry.name.startsWith("ephemeral-"))
      found.push(entry.name);
  }
  return found;
}

async function checkTimeline(
  timeline: Timeline,
  model: GeneratorModel,
  random: () => number,
  seed: number,
): Promise<number> {
  const dcl = timeline.diskConsistentLsn;
  model.advanceTo(Math.max(0, model.generator.firstTransactionAfter(dcl)));
  let checked = 0;
  for (const key of model.versions.keys()) {
    const lsns = model.lsnsOf(key).filter((lsn) => lsn <= dcl);
    // Every key at disk_consistent_lsn, plus a few of its versions and the LSN just below each.
    const probes = new Set<Lsn>([dcl]);
    for (let i = 0; i < 3 && lsns.length > 0; i++) {
      const lsn = lsns[Math.floor(random() * lsns.length)]!;
      probes.add(lsn);
      probes.add((lsn - 1) as Lsn);
    }
    for (const lsn of probes) {
      if (lsn < BOOTSTRAP_INITDB_LSN) continue;
      const expected = model.valueAt(key, lsn);
      const actual = (await timeline.getVectored([key], lsn)).get(key)!;
      const where = `seed ${seed}: key ${key} at ${formatLsn(lsn)} (disk_consistent_lsn ${formatLsn(dcl)})`;
      if (expected === null) assert.ok(actual instanceof Error, `${where}: expected no value`);
      else {
        assert.ok(!(actual instanceof Error), `${where}: ${(actual as Error).message}`);
        assert.ok(actual.equals(expected), `${where}: bytes differ`);
      }
      checked++;
    }
  }
  return checked;
}

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
