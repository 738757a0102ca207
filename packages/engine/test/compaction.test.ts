/**
 * Compaction, image layers and GC keep every read at or above the GC cutoff identical.
 * Method: a seeded random workload (PostgreSQL-shaped: relations in a database, values that are
 * images and Test records) on a parent and a branch, with a lease; after each round of
 * checkpoint, forced compaction and GC, random (key, LSN) reads at or above the cutoff, at the
 * branch point and at the leased LSN are compared with a model.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { DatadirModification, DatadirState } from "../src/datadir/datadir_modification.ts";
import { MissingKeyError } from "../src/errors.ts";
import { generateTenantId, generateTimelineId } from "../src/ids.ts";
import { type Key, relBlockKey } from "../src/key/key.ts";
import type { RelTag } from "../src/key/rel_tag.ts";
import { formatLsn, type Lsn, maxLsn } from "../src/lsn.ts";
import type { Tenant } from "../src/tenant/tenant.ts";
import { TenantManager } from "../src/tenant/tenant_manager.ts";
import type { Timeline } from "../src/timeline/timeline.ts";
import { testRecord } from "../src/value/value.ts";
import { rng, seedFromEnv, tempDirectory, testIo } from "./helpers.ts";
import { TimelineModel } from "./model.ts";

const RELS: RelTag[] = [16384, 16385, 16386].map((relNode) => ({
  spcNode: 1663,
  dbNode: 5,
  relNode,
  forkNum: 0,
}));

class Workload {
  readonly model = new TimelineModel();
  private readonly state: DatadirState;
  constructor(
    readonly timeline: Timeline,
    readonly random: () => number,
    state: DatadirState,
    parent?: TimelineModel,
    branchLsn?: Lsn,
  ) {
    this.state = state;
    if (parent && branchLsn !== undefined) {
      for (const [key, versions] of parent.versions) {
        for (const v of versions) if (v.lsn <= branchLsn) this.model.put(key, v.lsn, v.value);
      }
    }
  }

  /** One batch of writes: images and Test appends to random blocks. */
  step(records: number): void {
    const m = new DatadirModification(this.state);
    let lsn = this.timeline.lastRecordLsn;
    if (this.state.databases.size === 0) {
      lsn = (lsn + 8) as Lsn;
      m.at(lsn).putDatabaseCreation(1663, 5, Buffer.from("relmap"));
      for (const rel of RELS) m.putRelationCreation(rel, 0);
    }
    for (let i = 0; i < records; i++) {
      lsn = (lsn + 8 * (1 + Math.floor(this.random() * 20))) as Lsn;
      m.at(lsn);
      const rel = RELS[Math.floor(this.random() * RELS.length)]!;
      const block = Math.floor(this.random() * 60);
      const key = relBlockKey(rel, block);
      if (this.random() < 0.2 || this.model.textAt(key, lsn) === null) {
        m.putRelationPageImage(rel, block, Buffer.from(`img ${formatLsn(lsn)};`));
      } else {
        m.putRelationWalRecord(rel, block, testRecord.append(`+${lsn};`));
      }
    }
    const values = m.take();
    for (const v of values) this.model.put(v.key, v.lsn, v.value);
    this.timeline.ingest(values, lsn);
  }
}

async function checkReads(
  workload: Workload,
  lsns: Lsn[],
  seed: number,
  what: string,
): Promise<number> {
  const { timeline, model } = workload;
  const keys = model.keys();
  let checked = 0;
  for (const lsn of lsns) {
    const sample = keys.filter((_, i) => i % 3 === Math.floor(workload.random() * 3));
    for (let i = 0; i < sample.length; i += 32) {
      const batch = sample.slice(i, i + 32) as Key[];
      const results = await timeline.getVectored(batch, lsn);
      for (const key of batch) {
        const expected = model.textAt(key, lsn);
        const actual = results.get(key)!;
        const where = `seed ${seed}: ${what}: key ${key} at ${formatLsn(lsn)}`;
        if (expected === null)
          assert.ok(actual instanceof MissingKeyError, `${where}: expected missing, got ${actual}`);
        else {
          assert.ok(!(actual instanceof Error), `${where}: ${(actual as Error).message}`);
          assert.equal(actual.toString("utf8"), expected, where);
        }
        checked++;
      }
    }
  }
  return checked;
}

function randomLsnAtOrAbove(timeline: Timeline, floor: Lsn, random: () => number): Lsn {
  const top = timeline.lastRecordLsn;
  return (floor + Math.floor(random() * (top - floor + 1))) as Lsn;
}

describe("compaction, image layers and GC", () => {
  for (const algorithm of ["legacy", "tiered"] as const) {
    test(`${algorithm}: reads at or above the cutoff, at branch points and leases stay identical`, async () => {
      const seed = seedFromEnv();
      const random = rng(seed);
      using dir = tempDirectory();
      const manager = new TenantManager({ workdir: dir.path, io: testIo(128, 16) });
      await manager.load();
      const tenant: Tenant = (await manager.setLocation(generateTenantId(), {
        mode: "AttachedSingle",
        tenantConf: {
          checkpoint_distance: 16 * 1024,
          compaction_threshold: 3,
          compaction_target_size: 8 * 8192,
          image_creation_threshold: 2,
          gc_horizon: 4000,
          pitr_interval: "0s",
          compaction_period: "0s",
          gc_period: "0s",
          compaction_algorithm: { kind: algorithm },
        },
      }))!;
      const { timeline: parent } = await tenant.createTimeline({
        newTimelineId: generateTimelineId(),
      });
      const parentWork = new Workload(parent, random, new DatadirState());
      let child: Workload | null = null;
      let leased: Lsn | null = null;
      let sawImages = false;
      let removed = 0;
      for (let round = 0; round < 24; round++) {
        parentWork.step(120);
        child?.step(60);
        if (round === 6) {
          const branchLsn = (parent.lastRecordLsn - 400) as Lsn;
          const { timeline } = await tenant.createTimeline({
            newTimelineId: generateTimelineId(),
            ancestorTimelineId: parent.timelineId,
            ancestorStartLsn: branchLsn,
          });
          child = new Workload(
            timeline,
            random,
            await DatadirState.load(timeline, timeline.ancestorLsn),
            parentWork.model,
            timeline.ancestorLsn,
          );
        }
        if (round === 10) {
          leased = (parent.lastRecordLsn - 200) as Lsn;
          parent.gc.lease(leased, 3_600_000);
        }
        for (const work of child ? [parentWork, child] : [parentWork]) {
          await work.timeline.checkpoint();
          await tenant.compact(work.timeline.timelineId, {
            forceImageLayerCreation: round % 4 === 3,
          });
          const gc = await tenant.gc(work.timeline.timelineId, null);
          removed += gc.layers_removed;
          sawImages ||= [...work.timeline.layers.historicLayers()].some((l) => l.kind === "image");
          const floor = maxLsn(
            work.timeline.latestGcCutoffLsn,
            (work.timeline.ancestor
              ? work.timeline.ancestorLsn
              : work.timeline.initdbLsn + 8) as Lsn,
          );
          const lsns = [
            work.timeline.lastRecordLsn,
            randomLsnAtOrAbove(work.timeline, floor, random),
            floor,
          ];
          await checkReads(
            work,
            lsns,
            seed,
            `${algorithm} round ${round} ${work === child ? "child" : "parent"}`,
          );
        }
        if (child)
          await checkReads(
            parentWork,
            [child.timeline.ancestorLsn],
            seed,
            "branch point on the parent",
          );
        if (leased !== null) await checkReads(parentWork, [leased], seed, "leased LSN");
      }
      assert.ok(sawImages, "image layers were created");
      assert.ok(removed > 0, "GC removed some layers");
      assert.ok(parent.latestGcCutoffLsn > parent.initdbLsn, "the GC cutoff advanced");
      await manager.shutdown({ flush: false });
    });
  }
});
