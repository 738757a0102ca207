/**
 * Timelines and tenants: ingest, freeze, flush to L0, reads at every LSN against a model, reload
 * after shutdown, branches reading through to their ancestor, and every refused operation with
 * its message.
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync } from "node:fs";
import { describe, test } from "node:test";
import {
  ConflictError,
  InvalidArgumentError,
  InvalidBranchLsnError,
  MissingKeyError,
  NotFoundError,
  PreconditionError,
  TimeoutError,
} from "../src/errors.ts";
import {
  generateTenantId,
  generateTimelineId,
  type TenantId,
  type TimelineId,
} from "../src/ids.ts";
import { type Key, keyFromFields } from "../src/key/key.ts";
import { formatLsn, type Lsn } from "../src/lsn.ts";
import { BOOTSTRAP_INITDB_LSN } from "../src/tenant/tenant.ts";
import { TenantManager } from "../src/tenant/tenant_manager.ts";
import type { Timeline } from "../src/timeline/timeline.ts";
import { imageValue, recordValue, testRecord, type Value } from "../src/value/value.ts";
import { rng, seedFromEnv, tempDirectory, testIo } from "./helpers.ts";
import { TimelineModel } from "./model.ts";

function testKey(n: number): Key {
  return keyFromFields(0, 1663, 5, 16384, 0, n);
}

async function setup(workdir: string, tenantConf: Record<string, unknown> = {}) {
  const manager = new TenantManager({ workdir, io: testIo(256, 32), waitLsnTimeoutMs: 2000 });
  await manager.load();
  const tenantId = generateTenantId();
  const tenant = (await manager.setLocation(tenantId, { mode: "AttachedSingle", tenantConf }))!;
  const timelineId = generateTimelineId();
  const { timeline } = await tenant.createTimeline({ newTimelineId: timelineId });
  return { manager, tenant, tenantId, timelineId, timeline };
}

/** Ingests `count` random values (images and Test records) at increasing LSNs, mirrored in `model`. */
function ingestRandom(
  timeline: Timeline,
  model: TimelineModel,
  random: () => number,
  count: number,
  keys: number,
): void {
  let lsn = timeline.lastRecordLsn;
  const batch: Array<{ key: Key; lsn: Lsn; value: Value }> = [];
  for (let i = 0; i < count; i++) {
    lsn = (lsn + 8 + Math.floor(random() * 64) * 8) as Lsn;
    const key = testKey(Math.floor(random() * keys));
    const r = random();
    const value: Value =
      r < 0.15 || model.textAt(key, lsn) === null
        ? imageValue(Buffer.from(`img@${lsn};`))
        : r < 0.2
          ? recordValue(testRecord.init(`init@${lsn};`))
          : recordValue(testRecord.append(`+${lsn};`));
    batch.push({ key, lsn, value });
    model.put(key, lsn, value);
  }
  timeline.ingest(batch, lsn);
}

async function checkAgainstModel(
  timeline: Timeline,
  model: TimelineModel,
  random: () => number,
  probes: number,
  seed: number,
) {
  const keys = model.keys();
  for (let i = 0; i < probes; i++) {
    const key = keys[Math.floor(random() * keys.length)]!;
    const lsn = (BOOTSTRAP_INITDB_LSN +
      Math.floor(random() * (timeline.lastRecordLsn - BOOTSTRAP_INITDB_LSN + 1))) as Lsn;
    const expected = model.textAt(key, lsn);
    const result = (await timeline.getVectored([key], lsn)).get(key)!;
    if (expected === null) {
      assert.ok(
        result instanceof MissingKeyError,
        `seed ${seed}: key ${key} at ${formatLsn(lsn)} should be missing`,
      );
    } else {
      assert.ok(
        !(result instanceof Error),
        `seed ${seed}: key ${key} at ${formatLsn(lsn)}: ${(result as Error).message}`,
      );
      assert.equal(
        result.toString("utf8"),
        expected,
        `seed ${seed}: key ${key} at ${formatLsn(lsn)}`,
      );
    }
  }
}

describe("timeline", () => {
  test("random ingest, freezes and flushes read like the model at random (key, LSN) points, before and after reload", async () => {
    const seed = seedFromEnv();
    const random = rng(seed);
    using dir = tempDirectory();
    const { manager, tenantId, timelineId, timeline } = await setup(dir.path, {
      checkpoint_distance: 64 * 1024,
    });
    const model = new TimelineModel();
    for (let round = 0; round < 30; round++) {
      ingestRandom(timeline, model, random, 50 + Math.floor(random() * 200), 300);
      const action = random();
      if (action < 0.3) await timeline.checkpoint();
      else if (action < 0.5) timeline.freezeOpenLayer();
      await checkAgainstModel(timeline, model, random, 40, seed);
    }
    await timeline.checkpoint();
    assert.ok(timeline.layers.l0Layers().length >= 2, "several L0s were flushed");
    await checkAgainstModel(timeline, model, random, 300, seed);
    const lastRecord = timeline.lastRecordLsn;
    await manager.shutdown({ flush: true });

    const reloaded = new TenantManager({ workdir: dir.path, io: testIo(64, 8) });
    await reloaded.load();
    const again = reloaded.get(tenantId).getTimeline(timelineId);
    assert.equal(again.diskConsistentLsn, lastRecord);
    assert.equal(again.lastRecordLsn, lastRecord);
    await checkAgainstModel(again, model, random, 300, seed);
    await reloaded.shutdown({ flush: false });
  });

  test("a branch reads its ancestor up to the branch LSN and its own writes after", async () => {
    using dir = tempDirectory();
    const {
      manager,
      tenant,
      timeline: parent,
    } = await setup(dir.path, { checkpoint_distance: 16 * 1024 });
    const k = testKey(1);
    const lsn = (n: number) => (BOOTSTRAP_INITDB_LSN + n * 8) as Lsn;
    parent.ingest([{ key: k, lsn: lsn(1), value: imageValue(Buffer.from("a")) }], lsn(1));
    parent.ingest([{ key: k, lsn: lsn(2), value: recordValue(testRecord.append("b")) }], lsn(2));
    await parent.checkpoint();
    parent.ingest([{ key: k, lsn: lsn(3), value: recordValue(testRecord.append("c")) }], lsn(3));

    const childId = generateTimelineId();
    const { timeline: child } = await tenant.createTimeline({
      newTimelineId: childId,
      ancestorTimelineId: parent.timelineId,
      ancestorStartLsn: lsn(2),
    });
    assert.equal(child.ancestorLsn, lsn(2));
    child.ingest([{ key: k, lsn: lsn(4), value: recordValue(testRecord.append("X")) }], lsn(4));
    const read = async (t: Timeline, at: Lsn) => (await t.get(k, at)).toString();
    assert.equal(await read(child, lsn(2)), "ab");
    assert.equal(
      await read(child, lsn(3)),
      "ab",
      "the parent's write after the branch point is invisible",
    );
    assert.equal(await read(child, lsn(4)), "abX");
    assert.equal(await read(parent, lsn(4)), "abc");
    // A grandchild branch below the child's branch point is refused with Neon's message.
    await assert.rejects(
      tenant.createTimeline({
        newTimelineId: generateTimelineId(),
        ancestorTimelineId: childId,
        ancestorStartLsn: lsn(1),
      }),
      (error: unknown) =>
        error instanceof InvalidBranchLsnError &&
        /less than timeline ancestor lsn/.test(error.message),
    );
    // Deleting the parent is refused while it has a child; the child can go.
    await assert.rejects(
      tenant.deleteTimeline(parent.timelineId),
      (e: unknown) => e instanceof PreconditionError && /child timelines/.test(e.message),
    );
    await child.checkpoint();
    await tenant.deleteTimeline(childId);
    assert.ok(!existsSync(child.directory));
    await tenant.deleteTimeline(parent.timelineId);
    assert.deepEqual(readdirSync(tenant.timelinesDirectory), []);
    await manager.shutdown({ flush: false });
  });

  test("refusals answer with precise messages", async () => {
    using dir = tempDirectory();
    const { manager, tenant, tenantId, timeline } = await setup(dir.path);
    await assert.rejects(
      tenant.createTimeline({
        newTimelineId: generateTimelineId(),
        ancestorTimelineId: generateTimelineId(),
      }),
      NotFoundError,
    );
    // Branch below the GC cutoff.
    timeline.ingest(
      [
        {
          key: testKey(1),
          lsn: (BOOTSTRAP_INITDB_LSN + 800) as Lsn,
          value: imageValue(Buffer.from("x")),
        },
      ],
      (BOOTSTRAP_INITDB_LSN + 800) as Lsn,
    );
    timeline.setLatestGcCutoff((BOOTSTRAP_INITDB_LSN + 400) as Lsn);
    await assert.rejects(
      tenant.createTimeline({
        newTimelineId: generateTimelineId(),
        ancestorTimelineId: timeline.timelineId,
        ancestorStartLsn: (BOOTSTRAP_INITDB_LSN + 200) as Lsn,
      }),
      (e: unknown) =>
        e instanceof InvalidBranchLsnError &&
        /less than latest GC cutoff 0\/10001B8/.test(e.message),
    );
    // A lease at that LSN lets the branch through.
    timeline.gc.lease((BOOTSTRAP_INITDB_LSN + 200) as Lsn, 60_000);
    await tenant.createTimeline({
      newTimelineId: generateTimelineId(),
      ancestorTimelineId: timeline.timelineId,
      ancestorStartLsn: (BOOTSTRAP_INITDB_LSN + 200) as Lsn,
    });
    // Same id, different parameters.
    await assert.rejects(
      tenant.createTimeline({
        newTimelineId: timeline.timelineId,
        ancestorTimelineId: generateTimelineId() as TimelineId,
      }),
      ConflictError,
    );
    // Idempotent re-create.
    assert.equal(
      (await tenant.createTimeline({ newTimelineId: timeline.timelineId })).created,
      false,
    );
    // Waiting for an LSN that never comes times out with both LSNs in the message.
    await assert.rejects(
      timeline.waitLsn((BOOTSTRAP_INITDB_LSN + 8000) as Lsn, 50),
      (e: unknown) => e instanceof TimeoutError && /0\/1001F68/.test(e.message),
    );
    // Config validation names the field.
    await assert.rejects(
      tenant.patchConfig({ checkpoint_distance: -5 }),
      (e: unknown) => e instanceof InvalidArgumentError && /checkpoint_distance/.test(e.message),
    );
    await assert.rejects(
      tenant.patchConfig({ gc_period: "soon" }),
      (e: unknown) => e instanceof InvalidArgumentError && /gc_period/.test(e.message),
    );
    await assert.rejects(
      tenant.patchConfig({ no_such_knob: 1 }),
      (e: unknown) => e instanceof InvalidArgumentError && /no_such_knob/.test(e.message),
    );
    await tenant.patchConfig({ gc_period: "30s" });
    assert.equal(tenant.config.gcPeriodMs, 30_000);
    await tenant.patchConfig({ gc_period: null });
    assert.equal(tenant.config.gcPeriodMs, 3_600_000);
    // Out-of-order ingest.
    assert.throws(
      () =>
        timeline.ingest(
          [{ key: testKey(2), lsn: BOOTSTRAP_INITDB_LSN, value: imageValue(Buffer.from("y")) }],
          (BOOTSTRAP_INITDB_LSN + 900) as Lsn,
        ),
      InvalidArgumentError,
    );
    assert.throws(() => manager.get("0".repeat(32) as TenantId), NotFoundError);
    await manager.delete(tenantId);
    assert.throws(() => manager.get(tenantId), NotFoundError);
    await manager.shutdown({ flush: false });
  });
});
