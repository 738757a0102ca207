/**
 * Eviction, against both backends: only layers an uploaded index names are evicted; the
 * threshold policy (Covered layers after `period`, Visible ones after `threshold`), run by hand
 * and by the tenant's own task; disk-usage-based eviction in Neon's order (Covered first, then by
 * relative access recency across tenants, each tenant's minimum resident size last); pinned
 * layers stay; evictions survive a restart; every read after an eviction returns the same bytes.
 */
import assert from "node:assert/strict";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import {
  bytesOverThresholds,
  evictByThreshold,
  evictBytes,
  evictionCandidates,
  evictionStats,
  updateVisibility,
} from "../src/eviction/eviction.ts";
import { generateTenantId, generateTimelineId } from "../src/ids.ts";
import type { Lsn } from "../src/lsn.ts";
import type { Tenant } from "../src/tenant/tenant.ts";
import type { Timeline } from "../src/timeline/timeline.ts";
import { tempDirectory } from "./helpers.ts";
import {
  BACKENDS,
  type Backend,
  closeOpenSetups,
  eventually,
  expectedAll,
  ingestRounds,
  openBackend,
  QUIET_TENANT_CONF,
  RecordingStorage,
  type RemoteSetup,
  readAll,
  remoteManager,
  TimelineModel,
} from "./remote_support.ts";

const MINUTE = 60_000;

async function tenantWith(
  setup: RemoteSetup,
  rounds: number,
  tenantConf: Record<string, unknown> = {},
): Promise<{ tenant: Tenant; timeline: Timeline; model: TimelineModel; lsns: Lsn[] }> {
  const tenant = (await setup.manager.setLocation(generateTenantId(), {
    mode: "AttachedSingle",
    tenantConf: { ...QUIET_TENANT_CONF, ...tenantConf },
  }))!;
  const { timeline } = await tenant.createTimeline({ newTimelineId: generateTimelineId() });
  const model = new TimelineModel();
  const lsns = await ingestRounds(timeline, model, { rounds, keys: 40, padding: 100 });
  await timeline.remote!.waitForIdle();
  return { tenant, timeline, model, lsns };
}

const resident = (timeline: Timeline) =>
  [...timeline.layers.historicLayers()].filter((l) => l.resident);

for (const kind of BACKENDS) {
  describe(`eviction (${kind})`, () => {
    const dir = tempDirectory(`eviction-${kind}-`);
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

    test("only layers an uploaded index names are evicted", async () => {
      const recording = new RecordingStorage(backend.storage);
      const setup = await remoteManager(workdir(), recording);
      const { tenant, timeline, model, lsns } = await tenantWith(setup, 2);
      // The next layers reach remote storage, but the index naming them does not (yet).
      const release = recording.hold((op, key) => op === "upload" && key.includes("index_part"));
      lsns.push(...(await ingestRounds(timeline, model, { rounds: 2, keys: 40 })));
      await eventually("the two new layers are uploaded", () =>
        [...timeline.layers.historicLayers()].every((l) =>
          recording.completed("upload").includes(timeline.remote!.remoteKeyOf(l)),
        ),
      );
      const result = await evictBytes([tenant], Number.MAX_SAFE_INTEGER);
      assert.equal(result.evictedLayers, 2, "only the two layers the uploaded index names");
      assert.equal(resident(timeline).length, 2);
      for (const layer of resident(timeline)) assert.ok(!layer.uploaded);
      release();
      await timeline.remote!.waitForIdle();
      assert.equal((await evictBytes([tenant], Number.MAX_SAFE_INTEGER)).evictedLayers, 2);
      assert.equal(resident(timeline).length, 0);
      assert.deepEqual(await readAll(timeline, model, lsns), expectedAll(model, lsns));
      await setup.close();
    });

    test("threshold policy: Covered layers go after `period`, Visible ones after `threshold`; reads return the same bytes", async () => {
      const setup = await remoteManager(workdir(), backend.storage);
      const { tenant, timeline, model, lsns } = await tenantWith(setup, 4, {
        eviction_policy: { kind: "LayerAccessThreshold", period: "10m", threshold: "1h" },
        compaction_threshold: 2,
      });
      await tenant.compact(timeline.timelineId, { forceImageLayerCreation: true });
      await timeline.remote!.waitForIdle();
      updateVisibility(timeline, []);
      const layers = [...timeline.layers.historicLayers()];
      const covered = layers.filter((l) => l.visibility === "Covered");
      assert.ok(covered.length > 0, "compaction under a fresh image layer left Covered layers");
      const now = Date.now();
      assert.equal(await evictByThreshold(tenant, now), 0, "nothing is idle yet");
      assert.equal(
        await evictByThreshold(tenant, now + 20 * MINUTE),
        covered.length,
        "after the period: the Covered layers",
      );
      for (const layer of covered) assert.ok(!layer.resident);
      assert.ok(resident(timeline).length > 0, "Visible layers stay until the threshold");
      const visible = resident(timeline).length;
      assert.equal(await evictByThreshold(tenant, now + 2 * 60 * MINUTE), visible);
      assert.equal(resident(timeline).length, 0);
      assert.equal(timeline.residenceStats.evictions, layers.length);
      assert.deepEqual(await readAll(timeline, model, lsns), expectedAll(model, lsns));
      await setup.close();
    });

    test("download_remote_layers: every evicted layer comes back, one task at a time; a missing object is counted, not fatal", async () => {
      const setup = await remoteManager(workdir(), backend.storage);
      const { tenant, timeline } = await tenantWith(setup, 5);
      assert.equal(timeline.downloadAllRemoteLayersTask, null);
      assert.equal((await evictBytes([tenant], Number.MAX_SAFE_INTEGER)).evictedLayers, 5);
      // One layer's object is gone from remote storage: its download fails, the others go on.
      const [lost, ...others] = [...timeline.layers.historicLayers()];
      await backend.storage.delete([timeline.remote!.remoteKeyOf(lost!)]);
      const first = timeline.downloadAllRemoteLayers(2);
      assert.ok(first.started);
      assert.equal(first.task.info.state, "Running");
      assert.equal(first.task.info.total_layer_count, 5);
      const second = timeline.downloadAllRemoteLayers(2);
      assert.ok(!second.started, "a second task is refused while one runs");
      assert.equal(second.task.info.task_id, first.task.info.task_id);
      await first.task.done;
      assert.deepEqual(first.task.info, {
        task_id: first.task.info.task_id,
        state: "Completed",
        total_layer_count: 5,
        successful_download_count: 4,
        failed_download_count: 1,
      });
      assert.ok(!lost!.resident);
      for (const layer of others) assert.ok(layer.resident, layer.fileName);
      // Ended, a new one may start: nothing is left to download but the lost layer.
      const third = timeline.downloadAllRemoteLayers(1);
      assert.ok(third.started);
      assert.notEqual(third.task.info.task_id, first.task.info.task_id);
      await third.task.done;
      assert.equal(third.task.info.total_layer_count, 1);
      assert.equal(third.task.info.failed_download_count, 1);
      await setup.close();
    });

    test("the tenant's eviction task evicts idle layers by itself", async () => {
      const setup = await remoteManager(workdir(), backend.storage);
      const { timeline, model, lsns } = await tenantWith(setup, 3, {
        eviction_policy: { kind: "LayerAccessThreshold", period: "100ms", threshold: "300ms" },
      });
      await eventually("every layer is evicted", () => resident(timeline).length === 0);
      assert.equal(timeline.residenceStats.evictions, 3);
      assert.deepEqual(await readAll(timeline, model, lsns), expectedAll(model, lsns));
      await setup.close();
    });

    test("disk-usage eviction takes the relative LRU across tenants and keeps each tenant's minimum resident size", async () => {
      const setup = await remoteManager(workdir(), backend.storage);
      const conf = { min_resident_size_override: 1 };
      const big = await tenantWith(setup, 6, conf);
      const small = await tenantWith(setup, 2, conf);
      // Access times: oldest first within each tenant, the small tenant's interleaved.
      const base = Date.now() - 60 * MINUTE;
      const bigLayers = [...big.timeline.layers.historicLayers()];
      const smallLayers = [...small.timeline.layers.historicLayers()];
      bigLayers.forEach((l, i) => {
        l.access.lastAccessMs = base + i * 1000;
      });
      smallLayers.forEach((l, i) => {
        l.access.lastAccessMs = base + 500 + i * 1000;
      });
      const order = evictionCandidates([big.tenant, small.tenant]).map((c) => ({
        layer: c.layer,
        partition: c.partition,
      }));
      // big: 6 layers, recency (i+1)/7 from its newest; small: 2 layers, (i+1)/3.
      const expected = [
        { layer: bigLayers[0]!, partition: "Above" }, // 6/7
        { layer: bigLayers[1]!, partition: "Above" }, // 5/7
        { layer: smallLayers[0]!, partition: "Above" }, // 2/3
        { layer: bigLayers[2]!, partition: "Above" }, // 4/7
        { layer: bigLayers[3]!, partition: "Above" }, // 3/7
        { layer: bigLayers[4]!, partition: "Above" }, // 2/7
        { layer: smallLayers[1]!, partition: "Below" }, // reserved: 1/3
        { layer: bigLayers[5]!, partition: "Below" }, // reserved: 1/7
      ];
      assert.deepEqual(
        order.map((c) => `${c.partition} ${c.layer.nameText}`),
        expected.map((c) => `${c.partition} ${c.layer.nameText}`),
      );
      const before = { ...evictionStats };
      const want = bigLayers[0]!.fileSize + bigLayers[1]!.fileSize + smallLayers[0]!.fileSize;
      const result = await evictBytes([big.tenant, small.tenant], want);
      assert.equal(result.evictedBytes, want);
      assert.deepEqual(result.partitions, { EvictNow: 0, Above: 3, Below: 0 });
      assert.deepEqual(
        [...bigLayers, ...smallLayers].filter((l) => !l.resident),
        [bigLayers[0], bigLayers[1], smallLayers[0]],
      );
      assert.equal(evictionStats.diskUsageEvictedLayers - before.diskUsageEvictedLayers, 3);
      assert.equal(evictionStats.diskUsageEvictedBytes - before.diskUsageEvictedBytes, want);
      for (const t of [big, small])
        assert.deepEqual(await readAll(t.timeline, t.model, t.lsns), expectedAll(t.model, t.lsns));
      await setup.close();
    });

    test("Covered layers come first (EvictNow)", async () => {
      const setup = await remoteManager(workdir(), backend.storage);
      const { tenant, timeline } = await tenantWith(setup, 4, { compaction_threshold: 2 });
      await tenant.compact(timeline.timelineId, { forceImageLayerCreation: true });
      await timeline.remote!.waitForIdle();
      const candidates = evictionCandidates([tenant]);
      const covered = candidates.filter((c) => c.partition === "EvictNow");
      assert.ok(covered.length > 0);
      assert.ok(covered.every((c) => c.layer.visibility === "Covered"));
      assert.deepEqual(
        candidates.slice(0, covered.length).map((c) => c.partition),
        covered.map(() => "EvictNow"),
      );
      await setup.close();
    });

    test("a pinned layer is not evicted; evictions survive a restart", async () => {
      const work = workdir();
      const setup = await remoteManager(work, backend.storage);
      const { tenant, timeline, model, lsns } = await tenantWith(setup, 3);
      const [first, ...rest] = [...timeline.layers.historicLayers()];
      const unpin = await timeline.pinResident([first!]);
      assert.equal(await timeline.evictLayer(first!), false, "pinned");
      unpin();
      assert.equal(await timeline.evictLayer(first!), true);
      for (const layer of rest) assert.ok(await timeline.evictLayer(layer));
      assert.equal(resident(timeline).length, 0);
      await setup.close({ flush: true });

      const again = await remoteManager(work, backend.storage);
      const reloaded = again.manager.get(tenant.tenantId).getTimeline(timeline.timelineId);
      assert.equal(reloaded.layers.historicCount, 3);
      assert.equal(resident(reloaded).length, 0, "still evicted after the restart");
      assert.deepEqual(await readAll(reloaded, model, lsns), expectedAll(model, lsns));
      assert.equal(resident(reloaded).length, 3, "downloaded again on demand");
      await again.close();
    });
  });
}

test("bytesOverThresholds: the larger of the two pressures, zero without pressure", () => {
  const gib = 1024 ** 3;
  const thresholds = { maxUsagePct: 80, minAvailBytes: 2 * gib };
  assert.equal(bytesOverThresholds({ totalBytes: 100 * gib, usedBytes: 50 * gib }, thresholds), 0);
  assert.equal(
    bytesOverThresholds({ totalBytes: 100 * gib, usedBytes: 85 * gib }, thresholds),
    5 * gib,
    "usage above 80 %",
  );
  assert.equal(
    bytesOverThresholds({ totalBytes: 5 * gib, usedBytes: 4 * gib }, thresholds),
    1 * gib,
    "free space below 2 GiB dominates",
  );
});
