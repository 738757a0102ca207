/**
 * Attach and detach through remote storage, against both backends: a tenant detached from one
 * pageserver attaches onto an empty disk with a higher generation and reads the same bytes,
 * downloading layers on demand (concurrent readers share one download); a stale attachment never
 * reads or overwrites a newer generation's index; a detach while remote storage is down is
 * refused and loses nothing.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { UnavailableError } from "../src/errors.ts";
import { asGeneration, generateTenantId, generateTimelineId, type TenantId } from "../src/ids.ts";
import type { Lsn } from "../src/lsn.ts";
import { downloadLatestIndex } from "../src/remote/remote_index.ts";
import { remoteIndexKey, timelinePrefix } from "../src/remote/remote_paths.ts";
import type { Timeline } from "../src/timeline/timeline.ts";
import { tempDirectory } from "./helpers.ts";
import {
  BACKENDS,
  type Backend,
  branchModel,
  checkRemoteIndexes,
  closeOpenSetups,
  dataKeysOf,
  expectedAll,
  ingestRounds,
  openBackend,
  QUIET_TENANT_CONF,
  type RemoteSetup,
  readAll,
  remoteManager,
  TimelineModel,
} from "./remote_support.ts";

interface Written {
  readonly tenantId: TenantId;
  readonly parent: { timeline: Timeline; model: TimelineModel; lsns: Lsn[] };
  readonly child: { timeline: Timeline; model: TimelineModel; lsns: Lsn[] };
}

/** Attaches `tenantId` on `setup` (from remote storage when it is there), background work off. */
async function attachQuiet(setup: RemoteSetup, tenantId: TenantId) {
  return (await setup.manager.setLocation(tenantId, {
    mode: "AttachedSingle",
    tenantConf: QUIET_TENANT_CONF,
  }))!;
}

/** A tenant with a compacted parent timeline and a branch, everything uploaded. */
async function writeTenant(setup: RemoteSetup): Promise<Written> {
  const tenantId = generateTenantId();
  const tenant = (await setup.manager.setLocation(tenantId, {
    mode: "AttachedSingle",
    tenantConf: { ...QUIET_TENANT_CONF, compaction_threshold: 3 },
  }))!;
  const { timeline: parent } = await tenant.createTimeline({ newTimelineId: generateTimelineId() });
  const parentModel = new TimelineModel();
  const parentLsns = await ingestRounds(parent, parentModel, { rounds: 4, keys: 60, padding: 200 });
  await tenant.compact(parent.timelineId, {});
  parentLsns.push(...(await ingestRounds(parent, parentModel, { rounds: 2, keys: 60 })));
  const { timeline: child } = await tenant.createTimeline({
    newTimelineId: generateTimelineId(),
    ancestorTimelineId: parent.timelineId,
    ancestorStartLsn: parentLsns[3],
  });
  // The child sees the parent up to the branch point, then its own writes.
  const childModel = branchModel(parentModel, parentLsns[3]!);
  const childLsns = await ingestRounds(child, childModel, { rounds: 2, keys: 30, seed: 1 });
  for (const timeline of [parent, child]) await timeline.remote!.waitForIdle();
  return {
    tenantId,
    parent: { timeline: parent, model: parentModel, lsns: parentLsns },
    child: { timeline: child, model: childModel, lsns: childLsns },
  };
}

for (const kind of BACKENDS) {
  describe(`attach and detach (${kind})`, () => {
    const dir = tempDirectory(`attach-${kind}-`);
    let backend: Backend;
    let n = 0;
    const workdir = () => path.join(dir.path, `w${n++}`);

    before(async () => {
      backend = await openBackend(kind, dir.path);
    });
    after(async () => {
      await closeOpenSetups();
      await backend.close();
      dir[Symbol.dispose]();
    });

    test("gc_blocking and archived_at travel in index_part.json: they hold where the tenant attaches next", async () => {
      const first = await remoteManager(workdir(), backend.storage);
      const { tenantId, parent, child } = await writeTenant(first);
      assert.ok(await child.timeline.setArchived(true));
      await child.timeline.remote!.waitForIdle();
      const timelineId = parent.timeline.timelineId;
      const latest = async () =>
        (await downloadLatestIndex(
          backend.storage,
          tenantId,
          timelineId,
          asGeneration(0xffff_fff0),
        ))!.index;
      assert.equal((await latest()).gcBlocking, null);
      assert.ok(await parent.timeline.setGcBlock("Manual", true));
      assert.ok(!(await parent.timeline.setGcBlock("Manual", true)), "idempotent");
      await parent.timeline.remote!.waitForIdle();
      assert.deepEqual((await latest()).gcBlocking?.reasons, ["Manual"]);
      await first.manager.setLocation(tenantId, { mode: "Detached" });
      await first.close();

      const second = await remoteManager(workdir(), backend.storage);
      const tenant = await attachQuiet(second, tenantId);
      assert.match(tenant.gcBlocking ?? "", /timelines: 1, reasons: EnumSet\(Manual\)/);
      assert.equal(
        tenant.getTimeline(child.timeline.timelineId).archivedAt,
        child.timeline.archivedAt,
        "archived where it was detached",
      );
      assert.equal(tenant.getTimeline(timelineId).archivedAt, null);
      const skipped = await tenant.gc(timelineId, 0);
      assert.equal(skipped.layers_total, 0, "GC is skipped while blocked");
      const timeline = tenant.getTimeline(timelineId);
      assert.ok(await timeline.setGcBlock("Manual", false));
      await timeline.remote!.waitForIdle();
      assert.equal((await latest()).gcBlocking, null, "the unblock reached the index");
      assert.equal(tenant.gcBlocking, null);
      assert.ok((await tenant.gc(timelineId, 0)).layers_total > 0);
      await second.close();
    });

    test("split brain: attached on a second pageserver while the first still runs, the first's deletions are dropped, not run", async () => {
      const first = await remoteManager(workdir(), backend.storage);
      const { tenantId, parent } = await writeTenant(first);
      const expectedParent = expectedAll(parent.model, parent.lsns);
      await first.deletionQueue.flush();
      const executedBefore = first.deletionQueue.stats.executed;
      // Not detached from the first: the second takes a higher generation over the same objects.
      const second = await remoteManager(workdir(), backend.storage);
      const tenant = await attachQuiet(second, tenantId);
      const parentAgain = tenant.getTimeline(parent.timeline.timelineId);
      await parentAgain.remote!.waitForIdle();
      // The first goes on compacting: the L0s it removes are layers the second's index names.
      const stale = first.manager.get(tenantId);
      const run = await stale.compact(parent.timeline.timelineId, {
        forceL0Compaction: true,
        forceImageLayerCreation: true,
      });
      assert.ok(
        run.steps.some((step) => step.layersIn > 0),
        "the first removed some layers",
      );
      await parent.timeline.remote!.waitForIdle();
      await first.deletionQueue.flush();
      // Every layer the second's index names is still there: its reads (on demand) are whole.
      assert.deepEqual(await readAll(parentAgain, parent.model, parent.lsns), expectedParent);
      assert.ok(first.deletionQueue.stats.dropped > 0, "deletions were dropped");
      assert.equal(first.deletionQueue.stats.executed, executedBefore, "none were run");
      await first.close();
      await second.close();
    });

    test("reset with drop_cache: attached afresh from remote storage under a new generation, every layer evicted, same bytes", async () => {
      const setup = await remoteManager(workdir(), backend.storage);
      const { tenantId, parent, child } = await writeTenant(setup);
      const expectedParent = expectedAll(parent.model, parent.lsns);
      const expectedChild = expectedAll(child.model, child.lsns);
      const oldGeneration = setup.manager.get(tenantId).generation!;
      const tenant = await setup.manager.reset(tenantId, { dropCache: true });
      assert.equal(setup.manager.get(tenantId), tenant);
      assert.equal(tenant.state.slug, "Active");
      assert.ok(tenant.generation! > oldGeneration);
      const parentAgain = tenant.getTimeline(parent.timeline.timelineId);
      const childAgain = tenant.getTimeline(child.timeline.timelineId);
      for (const timeline of [parentAgain, childAgain])
        for (const layer of timeline.layers.historicLayers())
          assert.ok(!layer.resident, `${layer.nameText} starts evicted`);
      assert.deepEqual(await readAll(childAgain, child.model, child.lsns), expectedChild);
      assert.deepEqual(await readAll(parentAgain, parent.model, parent.lsns), expectedParent);
      // A plain reset keeps the local copy and the generation.
      const again = await setup.manager.reset(tenantId, { dropCache: false });
      assert.equal(again.generation, tenant.generation);
      assert.deepEqual(
        await readAll(again.getTimeline(child.timeline.timelineId), child.model, child.lsns),
        expectedChild,
      );
      await setup.close();
    });

    test("detach, then attach on an empty disk: higher generation, same bytes, layers downloaded on demand", async () => {
      const first = await remoteManager(workdir(), backend.storage);
      const { tenantId, parent, child } = await writeTenant(first);
      const expectedParent = expectedAll(parent.model, parent.lsns);
      const expectedChild = expectedAll(child.model, child.lsns);
      assert.deepEqual(await readAll(parent.timeline, parent.model, parent.lsns), expectedParent);
      const firstGeneration = first.manager.get(tenantId).generation!;
      await first.manager.setLocation(tenantId, { mode: "Detached" });
      assert.ok(!existsSync(first.manager.tenantDirectory(tenantId)), "detach removed local data");
      await first.close();

      const second = await remoteManager(workdir(), backend.storage);
      const tenant = await attachQuiet(second, tenantId);
      assert.ok(
        tenant.generation! > firstGeneration,
        `generation ${tenant.generation} is above ${firstGeneration}, though this node's counter started at 0`,
      );
      const parentAgain = tenant.getTimeline(parent.timeline.timelineId);
      const childAgain = tenant.getTimeline(child.timeline.timelineId);
      assert.equal(childAgain.ancestor, parentAgain, "the branch is attached under its parent");
      for (const timeline of [parentAgain, childAgain]) {
        assert.ok(timeline.layers.historicCount > 0);
        for (const layer of timeline.layers.historicLayers())
          assert.ok(!layer.resident && layer.uploaded, `${layer.nameText} starts evicted`);
      }
      assert.equal(childAgain.lastRecordLsn, child.lsns.at(-1));
      assert.deepEqual(await readAll(childAgain, child.model, child.lsns), expectedChild);
      assert.deepEqual(await readAll(parentAgain, parent.model, parent.lsns), expectedParent);
      const downloads =
        parentAgain.residenceStats.onDemandDownloads + childAgain.residenceStats.onDemandDownloads;
      assert.ok(downloads > 0, "layers were downloaded on demand");
      assert.ok(
        downloads <= parentAgain.layers.historicCount + childAgain.layers.historicCount,
        "each layer at most once",
      );
      // The new attachment announced its generation with an index of its own.
      await parentAgain.remote!.waitForIdle();
      const own = remoteIndexKey(tenantId, parentAgain.timelineId, tenant.generation);
      assert.ok(
        (await backend.storage.list(timelinePrefix(tenantId, parentAgain.timelineId))).some(
          (o) => o.key === own,
        ),
        `${own} exists`,
      );
      await checkRemoteIndexes(backend.storage, tenantId, parentAgain.timelineId);
      // New writes on the new node land in the new generation and survive a restart there.
      const more = await ingestRounds(childAgain, child.model, { rounds: 1, keys: 10 });
      await childAgain.remote!.waitForIdle();
      const lsns = [...child.lsns, ...more];
      assert.deepEqual(
        await readAll(childAgain, child.model, lsns),
        expectedAll(child.model, lsns),
      );
      await second.close();
    });

    test("concurrent reads of an evicted layer share one download", async () => {
      const first = await remoteManager(workdir(), backend.storage);
      const { parent } = await writeTenant(first);
      const timeline = parent.timeline;
      for (const layer of timeline.layers.historicLayers())
        assert.ok(await timeline.evictLayer(layer), `${layer.nameText} evicted`);
      const calls = () =>
        timeline
          .remote!.counters.entries()
          .find((r) => r.fileKind === "layer" && r.opKind === "download")?.callsStarted ?? 0;
      const lsn = parent.lsns.at(-1)!;
      const keys = dataKeysOf(parent.model).slice(0, 32);
      const results = await Promise.all(
        Array.from({ length: 16 }, () => timeline.getVectored(keys, lsn)),
      );
      const downloads = calls();
      assert.ok(downloads > 0);
      assert.ok(
        downloads <= timeline.layers.historicCount,
        `${downloads} downloads for ${timeline.layers.historicCount} layers and 16 readers`,
      );
      for (const result of results)
        for (const key of keys)
          assert.equal(result.get(key)!.toString(), parent.model.textAt(key, lsn), `${key}`);
      assert.equal(timeline.residenceStats.onDemandDownloads, downloads);
      await first.close();
    });

    test("a stale attachment neither reads nor overwrites a newer generation's index", async () => {
      const workA = workdir();
      const a = await remoteManager(workA, backend.storage);
      const { tenantId, parent } = await writeTenant(a);
      const timelineId = parent.timeline.timelineId;
      const generationA = a.manager.get(tenantId).generation!;
      await a.close({ flush: true }); // A stops but keeps the tenant on its disk.

      const b = await remoteManager(workdir(), backend.storage);
      const tenantB = (await b.manager.setLocation(tenantId, {
        mode: "AttachedSingle",
        tenantConf: QUIET_TENANT_CONF,
      }))!;
      const onB = tenantB.getTimeline(timelineId);
      await ingestRounds(onB, parent.model, { rounds: 2, keys: 10 });
      await onB.remote!.waitForIdle();
      const keyB = remoteIndexKey(tenantId, timelineId, tenantB.generation);
      const indexB = await backend.storage.download(keyB);
      await b.close({ flush: true });

      const again = await remoteManager(workA, backend.storage);
      const onA = again.manager.get(tenantId).getTimeline(timelineId);
      assert.equal(again.manager.get(tenantId).generation, generationA);
      await onA.remote!.waitForIdle();
      assert.equal(
        onA.remote!.remoteConsistentLsn,
        onA.diskConsistentLsn,
        "A reads its own index, not B's (whose disk_consistent_lsn is higher)",
      );
      assert.ok(onA.diskConsistentLsn < onB.diskConsistentLsn);
      assert.ok((await backend.storage.download(keyB)).equals(indexB), "B's index is untouched");
      await again.close();
    });

    test("a detach while remote storage is down is refused and loses nothing", async () => {
      const first = await remoteManager(workdir(), backend.storage, { detachUploadTimeoutMs: 300 });
      const { tenantId, parent } = await writeTenant(first);
      await backend.outage();
      let lsns: Lsn[];
      try {
        lsns = [
          ...parent.lsns,
          ...(await ingestRounds(parent.timeline, parent.model, { rounds: 2, keys: 20 })),
        ];
        await assert.rejects(
          first.manager.setLocation(tenantId, { mode: "Detached" }),
          (e: unknown) =>
            e instanceof UnavailableError &&
            /within 300 ms/.test(e.message) &&
            /last error/.test(e.message),
        );
        const tenant = first.manager.get(tenantId);
        assert.equal(tenant.state.slug, "Active", "the tenant stays attached");
        assert.ok(existsSync(first.manager.tenantDirectory(tenantId)));
        assert.deepEqual(
          await readAll(parent.timeline, parent.model, lsns),
          expectedAll(parent.model, lsns),
        );
      } finally {
        await backend.restore();
      }
      // Once storage is back the queue drains by itself; then the detach goes through.
      await parent.timeline.remote!.waitForIdle();
      await first.manager.setLocation(tenantId, { mode: "Detached" });
      await first.close();
      const second = await remoteManager(workdir(), backend.storage);
      const tenant = await attachQuiet(second, tenantId);
      const timeline = tenant.getTimeline(parent.timeline.timelineId);
      assert.deepEqual(
        await readAll(timeline, parent.model, lsns),
        expectedAll(parent.model, lsns),
        "what was written during the outage made it to the new node",
      );
      await second.close();
    });
  });
}
