/**
 * The WAL generator: deterministic from (seed, workload, start LSN) — replaying after any LSN
 * yields exactly the values a full run has above it — and PostgreSQL-shaped, so the datadir
 * readers (relation sizes, keyspace, CLOG) see consistent directories.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { DatadirState } from "../src/datadir/datadir_modification.ts";
import { collectKeyspace, listRelations, relationSize } from "../src/datadir/datadir_reader.ts";
import { generateTenantId, generateTimelineId } from "../src/ids.ts";
import type { Lsn } from "../src/lsn.ts";
import { BOOTSTRAP_INITDB_LSN } from "../src/tenant/tenant.ts";
import { TenantManager } from "../src/tenant/tenant_manager.ts";
import { encodeValue } from "../src/value/value.ts";
import {
  generatorParamsSchema,
  WalGenerator,
  WORKLOADS,
} from "../src/wal_generator/wal_generator.ts";
import { tempDirectory, testIo } from "./helpers.ts";

function fingerprint(
  values: Array<{ key: string; lsn: number; value: Parameters<typeof encodeValue>[0] }>,
): string[] {
  return values.map(
    (v) =>
      `${v.key}@${v.lsn}:${encodeValue(v.value).toString("base64").slice(0, 40)}:${encodeValue(v.value).length}`,
  );
}

describe("WAL generator", () => {
  for (const workload of WORKLOADS) {
    test(`${workload}: replay after any LSN equals the tail of a full run`, () => {
      const params = generatorParamsSchema.parse({
        seed: 7,
        workload,
        size: workload === "pgbench" ? 1 : 500,
        start_time_ms: 0,
      });
      const generator = new WalGenerator(params, BOOTSTRAP_INITDB_LSN);
      const full = generator.generate(new DatadirState(), 0, 400);
      for (const cut of [0, 1, 57, 199, 399]) {
        const after = generator.transactionEndLsn(cut - 1 < 0 ? 0 : cut - 1);
        const from = generator.firstTransactionAfter(after);
        const replay = generator.generate(generator.stateBefore(from), from, 400, after);
        assert.deepEqual(
          fingerprint(replay),
          fingerprint(full.filter((v) => v.lsn > after)),
          `cut after transaction ${cut}`,
        );
      }
      // LSNs strictly increase per key and every transaction ends where the next begins.
      assert.equal(generator.transactionEndLsn(399), full[full.length - 1]!.lsn);
    });
  }

  test("a generator-fed timeline has PostgreSQL-shaped directories", async () => {
    using dir = tempDirectory();
    const manager = new TenantManager({ workdir: dir.path, io: testIo() });
    await manager.load();
    const tenant = (await manager.setLocation(generateTenantId(), { mode: "AttachedSingle" }))!;
    const timelineId = generateTimelineId();
    const { timeline } = await tenant.createTimeline({ newTimelineId: timelineId });
    const loop = await tenant.attachWalSource(timelineId, {
      kind: "generator",
      params: { workload: "pgbench", size: 1, transactions: 300 },
    });
    await loop.finished();
    assert.equal(loop.progress.state, "finished");
    const lsn = timeline.lastRecordLsn as Lsn;
    const relations = await listRelations(timeline, 1663, 5, lsn);
    assert.equal(relations.length, 5, "four tables and the accounts visibility map");
    assert.equal(
      await relationSize(
        timeline,
        relations.find((r) => r.relNode === 16390 && r.forkNum === 0)!,
        lsn,
      ),
      1640,
    );
    const keyspace = await collectKeyspace(timeline, lsn);
    assert.ok(keyspace.totalSize() > 1640);
    // Bad parameters name the field.
    await assert.rejects(
      tenant.attachWalSource(timelineId, { kind: "generator", params: { workload: "tpcc" } }),
      /workload/,
    );
    await assert.rejects(
      tenant.attachWalSource(timelineId, { kind: "generator", params: { rows: 5 } }),
      /rows/,
    );
    await manager.shutdown({ flush: false });
  });
});
