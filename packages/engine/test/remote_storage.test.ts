/**
 * Remote storage, against both backends (a local directory and S3 through a real s3rver): the
 * backend contract and its errors, the upload queue's ordering rules observed on the wire,
 * remote_consistent_lsn, retries through an outage, generations, and a restart with uploads
 * pending. Each test states what it proves; none depends on how fast the machine is (waits are
 * for conditions, with generous deadlines).
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { asGeneration, generateTenantId, generateTimelineId } from "../src/ids.ts";
import { formatLsn, type Lsn } from "../src/lsn.ts";
import { INDEX_PART_VERSION, serializeIndexPart } from "../src/remote/index_part.ts";
import {
  findLatestIndex,
  highestRemoteGeneration,
  pickIndexKey,
} from "../src/remote/remote_index.ts";
import { remoteIndexKey, timelinePrefix } from "../src/remote/remote_paths.ts";
import {
  LocalSourceError,
  RemoteNotFoundError,
  RemoteStorageError,
  withRetries,
} from "../src/remote/remote_storage.ts";
import { initialMetadata } from "../src/timeline/metadata.ts";
import type { Timeline } from "../src/timeline/timeline.ts";
import { tempDirectory } from "./helpers.ts";
import {
  BACKENDS,
  type Backend,
  checkRemoteIndexes,
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
  START_LSN,
  TimelineModel,
} from "./remote_support.ts";

const isIndex = (key: string) => /\/index_part\.json(-[0-9a-f]{8})?$/.test(key);
const isLayer = (key: string) => key.includes("__") && !isIndex(key);

for (const kind of BACKENDS) {
  describe(`remote storage (${kind})`, () => {
    const dir = tempDirectory(`remote-${kind}-`);
    let backend: Backend;
    let testNumber = 0;
    /** A fresh workdir per test; the backend is shared, tenants are unique. */
    const workdir = () => path.join(dir.path, `w${testNumber++}`);

    before(async () => {
      backend = await openBackend(kind, dir.path);
    });
    after(async () => {
      await closeOpenSetups();
      await backend.close();
      dir[Symbol.dispose]();
    });

    test("objects round-trip: files and buffers, prefix listing, idempotent deletes", async () => {
      const storage = backend.storage;
      const file = path.join(dir.path, "blob");
      const blob = Buffer.alloc(3 * 1024 * 1024 + 17);
      for (let i = 0; i < blob.length; i++) blob[i] = (i * 31) & 0xff;
      writeFileSync(file, blob);
      await storage.upload("rt/a/one-00000001", { file });
      await storage.upload("rt/a/two", { data: Buffer.from("two") });
      await storage.upload("rt/b/three", { data: Buffer.from("three") });
      assert.deepEqual(
        (await storage.list("rt/a/")).map((o) => [o.key, o.size]),
        [
          ["rt/a/one-00000001", blob.length],
          ["rt/a/two", 3],
        ],
      );
      assert.deepEqual(
        (await storage.list("rt/")).map((o) => o.key),
        ["rt/a/one-00000001", "rt/a/two", "rt/b/three"],
      );
      const copy = path.join(dir.path, "copy");
      assert.equal(await storage.downloadToFile("rt/a/one-00000001", copy), blob.length);
      assert.ok(readFileSync(copy).equals(blob), "downloaded bytes equal the uploaded ones");
      assert.equal((await storage.download("rt/b/three")).toString(), "three");
      await storage.delete(["rt/a/two", "rt/a/never-existed"]);
      assert.deepEqual(
        (await storage.list("rt/a/")).map((o) => o.key),
        ["rt/a/one-00000001"],
      );
    });

    test("errors name the object key and say whether a retry can help", async () => {
      const storage = backend.storage;
      await assert.rejects(
        storage.download("missing/object"),
        (e: unknown) =>
          e instanceof RemoteNotFoundError &&
          !e.transient &&
          e.key === "missing/object" &&
          e.message.includes("missing/object"),
      );
      await assert.rejects(
        storage.downloadToFile("missing/layer", path.join(dir.path, "nowhere")),
        (e: unknown) => e instanceof RemoteNotFoundError && e.key === "missing/layer",
      );
      assert.ok(!existsSync(path.join(dir.path, "nowhere")), "no partial file is left");
      await assert.rejects(
        storage.upload("some/key", { file: path.join(dir.path, "no-such-file") }),
        (e: unknown) =>
          e instanceof LocalSourceError &&
          !e.transient &&
          e.message.includes("some/key") &&
          e.message.includes("no-such-file"),
      );
    });

    test("while storage is down calls fail naming the key; withRetries completes once it is back", async () => {
      const storage = backend.storage;
      await backend.outage();
      let restored = false;
      try {
        await assert.rejects(
          storage.upload("outage/object", { data: Buffer.from("x") }),
          (e: unknown) => e instanceof RemoteStorageError && e.key === "outage/object",
        );
        let attempts = 0;
        const done = withRetries(
          () => {
            attempts++;
            return storage.upload("outage/object", { data: Buffer.from("after") });
          },
          { retryPermanent: true, delayMsMax: 50 },
        );
        await eventually("a few failed attempts", () => attempts >= 3);
        await backend.restore();
        restored = true;
        await done;
        assert.equal((await storage.download("outage/object")).toString(), "after");
      } finally {
        if (!restored) await backend.restore();
      }
    });

    test("the newest index at or below our generation is picked, never a newer one", async () => {
      const storage = backend.storage;
      const tenantId = generateTenantId();
      const timelineId = generateTimelineId();
      const metadata = (n: number) =>
        initialMetadata({
          ancestorTimeline: null,
          ancestorLsn: 0 as Lsn,
          startLsn: (START_LSN + n * 8) as Lsn,
          initdbLsn: START_LSN,
          pgVersion: 15,
        });
      for (const [generation, n] of [
        [null, 1],
        [asGeneration(3), 3],
        [asGeneration(5), 5],
        [asGeneration(7), 7],
      ] as const) {
        const index = {
          version: INDEX_PART_VERSION,
          layers: new Map(),
          diskConsistentLsn: metadata(n).diskConsistentLsn,
          metadata: metadata(n),
          lineage: {},
          deletedAt: null,
          archivedAt: null,
          gcBlocking: null,
          extra: {},
        };
        await storage.upload(remoteIndexKey(tenantId, timelineId, generation), {
          data: Buffer.from(serializeIndexPart(index)),
        });
      }
      const at = async (g: number | null) =>
        findLatestIndex(storage, tenantId, timelineId, g === null ? null : asGeneration(g));
      assert.equal((await at(6)).generation, 5, "below 6: generation 5");
      assert.equal((await at(5)).generation, 5, "our own generation first");
      assert.equal((await at(100)).generation, 7);
      assert.equal((await at(2)).generation, null, "only the generation-less index is below 2");
      assert.equal(
        (await at(2)).index?.diskConsistentLsn,
        metadata(1).diskConsistentLsn,
        "and it is the one read",
      );
      assert.equal(await highestRemoteGeneration(storage, tenantId), 7);
      const prefix = timelinePrefix(tenantId, timelineId);
      assert.equal(
        pickIndexKey([`${prefix}index_part.json-0000000a`], prefix, asGeneration(9)),
        null,
      );
    });

    test("flushes upload each layer before the index that names it; remote_consistent_lsn follows uploaded indexes only", async () => {
      const recording = new RecordingStorage(backend.storage);
      const setup = await remoteManager(workdir(), recording);
      const tenantId = generateTenantId();
      const tenant = (await setup.manager.setLocation(tenantId, {
        mode: "AttachedSingle",
        tenantConf: QUIET_TENANT_CONF,
      }))!;
      const { timeline } = await tenant.createTimeline({ newTimelineId: generateTimelineId() });
      const remote = timeline.remote!;
      await remote.waitForIdle();
      assert.equal(remote.remoteConsistentLsn, timeline.diskConsistentLsn, "the empty index is up");
      // Hold every layer upload: the indexes behind them must wait.
      const releaseLayers = recording.hold((op, key) => op === "upload" && isLayer(key));
      const model = new TimelineModel();
      const ends = await ingestRounds(timeline, model, { rounds: 3, keys: 40 });
      await eventually(
        "the three layer uploads started in parallel",
        () =>
          recording.events.filter((e) => e.startsWith("start upload") && isLayer(e)).length === 3,
      );
      const indexesBefore = recording.indexUploads.length;
      assert.equal(remote.remoteConsistentLsn, START_LSN, "nothing new is remote-consistent yet");
      assert.ok(remote.pending >= 4, "uploads and indexes wait in the queue");
      assert.equal(remote.counters.depth("layer", "upload"), 3, "queue depth: three layer uploads");
      releaseLayers();
      await remote.waitForIdle();
      assert.equal(remote.remoteConsistentLsn, ends[2], "remote_consistent_lsn = last flush");
      assert.ok(recording.indexUploads.length > indexesBefore);
      // On the wire: every index came after the uploads of every layer it names.
      for (const { key, names, at } of recording.indexUploads) {
        for (const name of names) {
          const layerAt = recording.events.indexOf(`upload ${name}`);
          assert.ok(layerAt >= 0 && layerAt < at, `${name} was uploaded before ${key}`);
        }
      }
      const { newestLayers } = await checkRemoteIndexes(
        backend.storage,
        tenantId,
        timeline.timelineId,
      );
      assert.deepEqual(
        [...newestLayers].sort(),
        [...timeline.layers.historicLayers()].map((l) => l.nameText).sort(),
      );
      for (const layer of timeline.layers.historicLayers())
        assert.ok(layer.uploaded, `${layer.nameText} counts as uploaded`);
      assert.equal(remote.counters.depth("layer", "upload"), 0);
      assert.equal(remote.counters.depth("index", "upload"), 0);
      assert.deepEqual(await readAll(timeline, model, ends), expectedAll(model, ends));
      await setup.close();
    });

    test("layer uploads pass a running index upload; index uploads ready together coalesce", async () => {
      const recording = new RecordingStorage(backend.storage);
      const setup = await remoteManager(workdir(), recording);
      const tenant = (await setup.manager.setLocation(generateTenantId(), {
        mode: "AttachedSingle",
        tenantConf: QUIET_TENANT_CONF,
      }))!;
      const { timeline } = await tenant.createTimeline({ newTimelineId: generateTimelineId() });
      const remote = timeline.remote!;
      await remote.waitForIdle();
      const releaseIndex = recording.hold((op, key) => op === "upload" && isIndex(key));
      const model = new TimelineModel();
      await ingestRounds(timeline, model, { rounds: 1, keys: 20 });
      await eventually("the first index upload is running (held)", () =>
        recording.events.some((e) => e.startsWith("start upload") && isIndex(e)),
      );
      const indexesBefore = recording.indexUploads.length;
      const ends = await ingestRounds(timeline, model, { rounds: 3, keys: 20 });
      await eventually(
        "the three later layers uploaded while the index is held",
        () => recording.completed("upload").filter(isLayer).length === 4,
      );
      assert.equal(recording.indexUploads.length, indexesBefore, "no index passed the held one");
      releaseIndex();
      await remote.waitForIdle();
      const after = recording.indexUploads.slice(indexesBefore);
      assert.equal(after.length, 2, "the held index, then one for the three that queued behind it");
      assert.equal(after[1]!.names.length, 4, "the coalesced index names all four layers");
      assert.equal(remote.remoteConsistentLsn, ends[2]);
      assert.equal(remote.counters.depth("index", "upload"), 0, "coalesced ones count as finished");
      await setup.close();
    });

    test("a compacted-away layer is deleted remotely only after an index without it is uploaded", async () => {
      const recording = new RecordingStorage(backend.storage);
      const setup = await remoteManager(workdir(), recording);
      const tenantId = generateTenantId();
      const tenant = (await setup.manager.setLocation(tenantId, {
        mode: "AttachedSingle",
        tenantConf: { ...QUIET_TENANT_CONF, compaction_threshold: 2 },
      }))!;
      const { timeline } = await tenant.createTimeline({ newTimelineId: generateTimelineId() });
      const model = new TimelineModel();
      const ends = await ingestRounds(timeline, model, { rounds: 3, keys: 30 });
      await timeline.remote!.waitForIdle();
      const l0Keys = timeline.layers.l0Layers().map((l) => timeline.remote!.remoteKeyOf(l));
      assert.equal(l0Keys.length, 3);
      const releaseIndex = recording.hold((op, key) => op === "upload" && isIndex(key));
      await tenant.compact(timeline.timelineId, {});
      assert.equal(timeline.layers.l0Layers().length, 0, "the L0s were compacted");
      await eventually("the index without the L0s is being uploaded (held)", () =>
        recording.events.some((e) => e.startsWith("start upload") && isIndex(e)),
      );
      await setup.deletionQueue.flush();
      const remoteKeys = new Set(
        (await backend.storage.list(timelinePrefix(tenantId, timeline.timelineId))).map(
          (o) => o.key,
        ),
      );
      for (const key of l0Keys)
        assert.ok(remoteKeys.has(key), `${key} is still there: the uploaded index names it`);
      assert.ok(
        !recording.events.some((e) => e.startsWith("start delete")),
        "no deletion started while the index was held",
      );
      releaseIndex();
      await timeline.remote!.waitForIdle();
      await setup.deletionQueue.flush();
      const left = new Set(
        (await backend.storage.list(timelinePrefix(tenantId, timeline.timelineId))).map(
          (o) => o.key,
        ),
      );
      for (const key of l0Keys) assert.ok(!left.has(key), `${key} was deleted after the new index`);
      await checkRemoteIndexes(backend.storage, tenantId, timeline.timelineId);
      assert.deepEqual(await readAll(timeline, model, ends), expectedAll(model, ends));
      await setup.close();
    });

    test("through an outage ingest goes on, the queue retries with the key in its error, and drains once storage is back", async () => {
      const setup = await remoteManager(workdir(), backend.storage);
      const tenantId = generateTenantId();
      const tenant = (await setup.manager.setLocation(tenantId, {
        mode: "AttachedSingle",
        tenantConf: QUIET_TENANT_CONF,
      }))!;
      const { timeline } = await tenant.createTimeline({ newTimelineId: generateTimelineId() });
      const remote = timeline.remote!;
      await remote.waitForIdle();
      const model = new TimelineModel();
      await backend.outage();
      let ends: Lsn[];
      try {
        ends = await ingestRounds(timeline, model, { rounds: 4, keys: 25 });
        assert.equal(timeline.diskConsistentLsn, ends[3], "flushes go on locally");
        await eventually("the queue reports the failing object", () =>
          /tenants\/[0-9a-f]{32}\/timelines\//.test(remote.lastError ?? ""),
        );
        assert.equal(remote.remoteConsistentLsn, START_LSN, "nothing new is remote-consistent");
        for (const layer of timeline.layers.historicLayers())
          assert.ok(!layer.uploaded, "no layer counts as uploaded");
      } finally {
        await backend.restore();
      }
      await remote.waitForIdle();
      assert.equal(remote.remoteConsistentLsn, ends[3]);
      assert.equal(remote.lastError, null);
      const { newestLayers } = await checkRemoteIndexes(
        backend.storage,
        tenantId,
        timeline.timelineId,
      );
      assert.equal(newestLayers.size, 4, "every layer made it");
      await setup.close();
    });

    test("a restart with uploads pending reconciles: missing layers are uploaded and the index names exactly the local ones", async () => {
      const work = workdir();
      const recording = new RecordingStorage(backend.storage);
      const first = await remoteManager(work, recording);
      const tenantId = generateTenantId();
      const tenant = (await first.manager.setLocation(tenantId, {
        mode: "AttachedSingle",
        tenantConf: QUIET_TENANT_CONF,
      }))!;
      const timelineId = generateTimelineId();
      const { timeline } = await tenant.createTimeline({ newTimelineId: timelineId });
      const model = new TimelineModel();
      await ingestRounds(timeline, model, { rounds: 2, keys: 20 });
      await timeline.remote!.waitForIdle();
      // The next uploads never finish: the process "dies" with them in the queue.
      recording.hold((op, key) => op === "upload" && isLayer(key));
      const ends = await ingestRounds(timeline, model, { rounds: 3, keys: 20 });
      await first.close({ flush: false });
      const before = await checkRemoteIndexes(backend.storage, tenantId, timelineId);
      assert.equal(before.newestLayers.size, 2, "the remote index still names only the first two");

      const second = await remoteManager(work, backend.storage);
      const again = second.manager.get(tenantId).getTimeline(timelineId);
      await again.remote!.waitForIdle();
      const after = await checkRemoteIndexes(backend.storage, tenantId, timelineId);
      assert.deepEqual(
        [...after.newestLayers].sort(),
        [...again.layers.historicLayers()].map((l) => l.nameText).sort(),
      );
      assert.equal(after.newestLayers.size, 5);
      assert.equal(again.remote!.remoteConsistentLsn, ends[2]);
      assert.deepEqual(await readAll(again, model, ends), expectedAll(model, ends));
      await second.close();
    });

    test("a restart while storage is down: the tenant serves and ingests locally, then connects and uploads", async () => {
      const work = workdir();
      const first = await remoteManager(work, backend.storage);
      const tenantId = generateTenantId();
      const tenant = (await first.manager.setLocation(tenantId, {
        mode: "AttachedSingle",
        tenantConf: QUIET_TENANT_CONF,
      }))!;
      const timelineId = generateTimelineId();
      const { timeline } = await tenant.createTimeline({ newTimelineId: timelineId });
      const model = new TimelineModel();
      const ends = await ingestRounds(timeline, model, { rounds: 2, keys: 20 });
      await timeline.remote!.waitForIdle();
      await first.close({ flush: true });

      await backend.outage();
      let second: RemoteSetup;
      let again: Timeline;
      try {
        second = await remoteManager(work, backend.storage);
        const loaded = second.manager.get(tenantId);
        assert.equal(loaded.state.slug, "Active", "remote storage is not needed to load");
        again = loaded.getTimeline(timelineId);
        assert.equal(again.remote, null, "not connected yet");
        ends.push(...(await ingestRounds(again, model, { rounds: 2, keys: 20 })));
        assert.deepEqual(await readAll(again, model, ends), expectedAll(model, ends));
      } finally {
        await backend.restore();
      }
      await eventually("connected in the background", () => again.remote !== null);
      await again.remote!.waitForIdle();
      assert.equal(again.remote!.remoteConsistentLsn, ends[3]);
      const { newestLayers } = await checkRemoteIndexes(backend.storage, tenantId, timelineId);
      assert.equal(newestLayers.size, 4, "the layers flushed while disconnected were uploaded");
      await second.close();
    });

    test(`index_part.json objects carry the generation (${formatLsn(START_LSN)} start)`, async () => {
      const setup = await remoteManager(workdir(), backend.storage);
      const tenantId = generateTenantId();
      const tenant = (await setup.manager.setLocation(tenantId, {
        mode: "AttachedSingle",
        tenantConf: QUIET_TENANT_CONF,
      }))!;
      const { timeline } = await tenant.createTimeline({ newTimelineId: generateTimelineId() });
      await ingestRounds(timeline, new TimelineModel(), { rounds: 1, keys: 5 });
      await timeline.remote!.waitForIdle();
      const keys = (await backend.storage.list(timelinePrefix(tenantId, timeline.timelineId))).map(
        (o) => o.key.slice(o.key.lastIndexOf("/") + 1),
      );
      const suffix = `-${tenant.generation!.toString(16).padStart(8, "0")}`;
      assert.ok(keys.includes(`index_part.json${suffix}`), `index_part.json${suffix} in ${keys}`);
      const layer = [...timeline.layers.historicLayers()][0]!;
      assert.ok(keys.includes(`${layer.nameText}${suffix}`), "the layer object has the suffix");
      assert.ok(layer.fileName.endsWith(`-v1${suffix}`), "the local file has -v1-<gen>");
      await setup.close();
    });
  });
}
