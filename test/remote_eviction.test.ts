/**
 * Eviction in a pageserver process, for both remote storages. Disk pressure is produced with the
 * test-only `disk_usage_based_eviction.disk_capacity_bytes` (the resident layer bytes count as
 * usage): the disk-usage task brings usage under `max_usage_pct`, evicts only layers an uploaded
 * index names (a timeline whose index uploads fail keeps all its layers), and every sampled page
 * reads the same afterwards. Plus the bad inputs of the layer evict/download API, and an evict on
 * a pageserver without remote storage.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  makeWorkdir,
  type PageserverHandle,
  removeWorkdir,
  startPageserver,
} from "./harness/pageserver_process.ts";
import {
  checkpointUploaded,
  checkRemoteIndexes,
  createFedTimeline,
  eventually,
  historicLayers,
  metric,
  ok,
  openRemote,
  REMOTE_KINDS,
  type RemoteFixture,
  randomId,
  readPages,
  sampleKeys,
  type TimelineInfo,
  waitGeneratorDone,
} from "./harness/remote_backends.ts";

const TENANT_CONF = { checkpoint_distance: 512 * 1024, compaction_period: "0s", gc_period: "0s" };
const MAX_USAGE_PCT = 50;

for (const kind of REMOTE_KINDS) {
  describe(`eviction under disk pressure (${kind})`, () => {
    const scratch = makeWorkdir("remote-eviction-");
    let remote: RemoteFixture;
    let server: PageserverHandle | null = null;
    before(async () => {
      remote = await openRemote(kind, scratch);
    });
    after(async () => {
      await server?.stop("SIGKILL");
      await remote.close();
      removeWorkdir(scratch);
    });

    test("pressure: usage goes under the threshold, only uploaded layers go, pages read the same", async () => {
      const workdir = makeWorkdir();
      const config = { remote_storage: remote.config };
      server = await startPageserver({ workdir, config, env: remote.env });
      const tenantId = randomId();
      const timelineId = randomId();
      const base = await createFedTimeline(server, tenantId, timelineId, {
        tenantConf: TENANT_CONF,
        transactions: 5000,
      });
      await waitGeneratorDone(server, base);
      await checkpointUploaded(server, base);
      const layers = await historicLayers(server, base);
      assert.ok(layers.length >= 4, `enough layers to evict some (${layers.length})`);
      const residentBytes = layers.reduce((sum, l) => sum + l.layer_file_size, 0);
      const info = await ok<TimelineInfo>(server, "GET", base);
      // Few keys: under constant pressure nearly every read is an on-demand download.
      const keys = await sampleKeys(server, base, 3);
      const lsns = [info.last_record_lsn];
      const before = await readPages(server, base, keys, lsns);
      assert.equal(await server.stop("SIGTERM"), 0);

      // The same node with a "disk" as big as its layers: 100 % used, the threshold is 50 %.
      const eviction = {
        max_usage_pct: MAX_USAGE_PCT,
        min_avail_bytes: 0,
        // Not too often: reads under pressure download what the task keeps evicting.
        period: "1s",
        disk_capacity_bytes: residentBytes,
      };
      server = await startPageserver({
        workdir,
        config: { ...config, disk_usage_based_eviction: eviction },
        env: remote.env,
      });
      const current = server;
      const resident = async () =>
        metric(current, "pageserver_resident_physical_size", { timeline_id: timelineId });
      await eventually("usage under the threshold", async () => {
        return (await resident()) <= (residentBytes * MAX_USAGE_PCT) / 100;
      });
      const utilization = await ok<{ disk_usage_bytes: number }>(server, "GET", "/v1/utilization");
      assert.ok(utilization.disk_usage_bytes <= (residentBytes * MAX_USAGE_PCT) / 100);
      assert.ok((await resident()) > 0, "it stops once the pressure is relieved");
      const evicted = (await historicLayers(server, base)).filter((l) => l.remote);
      assert.ok(evicted.length > 0);
      const indexed = await checkRemoteIndexes(remote.storage, tenantId, timelineId);
      for (const layer of evicted)
        assert.ok(indexed.has(layer.layer_file_name), `${layer.layer_file_name} is in the index`);
      assert.ok(
        (await metric(server, "pageserver_disk_usage_based_eviction_evicted_layers_total")) >=
          evicted.length,
      );
      assert.ok(
        (await metric(server, "pageserver_evictions", { timeline_id: timelineId })) >=
          evicted.length,
      );
      assert.deepEqual(await readPages(server, base, keys, lsns), before, "same pages after");
      assert.ok(
        (await metric(server, "pageserver_ondemand_download_count", { timeline_id: timelineId })) >
          0,
        "the reads downloaded evicted layers",
      );

      // A second timeline whose index uploads fail: its layers reach remote storage, but no
      // uploaded index names them, so even a forced eviction of everything leaves them alone.
      await ok(server, "PUT", "/v1/failpoints", [
        { name: "remote-upload-index", actions: "return(index uploads are down)" },
      ]);
      const otherId = randomId();
      const other = `/v1/tenant/${tenantId}/timeline/${otherId}`;
      await ok(server, "POST", `/v1/tenant/${tenantId}/timeline`, { new_timeline_id: otherId });
      await ok(server, "PUT", `${other}/wal_source`, {
        kind: "generator",
        params: { workload: "uniform", size: 100, rate: 0, transactions: 1500, seed: 3 },
      });
      await waitGeneratorDone(server, other);
      await ok(server, "PUT", `${other}/checkpoint?compact=false`);
      const run = await ok<{ evicted_layers: number }>(
        server,
        "PUT",
        "/v1/disk_usage_eviction/run",
        {
          evict_bytes: 1e15,
        },
      );
      assert.ok(run.evicted_layers >= 0);
      const otherLayers = await historicLayers(server, other);
      assert.ok(otherLayers.length > 0);
      assert.ok(
        otherLayers.every((l) => !l.remote),
        "no layer of the unindexed timeline is evicted",
      );
      assert.ok(
        (await historicLayers(server, base)).every((l) => l.remote),
        "the first went",
      );
      await ok(server, "PUT", "/v1/failpoints", [{ name: "remote-upload-index", actions: "off" }]);
      await checkpointUploaded(server, other);
      await ok(server, "PUT", "/v1/disk_usage_eviction/run", { evict_bytes: 1e15 });
      assert.ok(
        (await historicLayers(server, other)).every((l) => l.remote),
        "now they can go",
      );
      assert.deepEqual(await readPages(server, base, keys, lsns), before);
      assert.equal(await server.stop("SIGTERM"), 0);
      server = null;
      removeWorkdir(workdir);
    });

    test("layer evict/download: unknown and malformed names answer 400 with Neon's message", async () => {
      server = await startPageserver({
        config: { remote_storage: remote.config },
        env: remote.env,
      });
      const tenantId = randomId();
      const timelineId = randomId();
      const base = await createFedTimeline(server, tenantId, timelineId, {
        tenantConf: TENANT_CONF,
        transactions: 300,
      });
      await waitGeneratorDone(server, base);
      await checkpointUploaded(server, base);
      const unknown =
        "000000000000000000000000000000000000-FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF__0000000001000029-0000000001000031";
      const current = server;
      for (const method of ["GET", "DELETE"]) {
        const missing = await current.api<{ msg: string }>(method, `${base}/layer/${unknown}`);
        assert.equal(missing.status, 400, `${method} unknown layer`);
        assert.equal(missing.body.msg, `Layer ${tenantId}/${timelineId}/${unknown} not found`);
        const malformed = await current.api<{ msg: string }>(method, `${base}/layer/not-a-layer`);
        assert.equal(malformed.status, 400, `${method} malformed name`);
        assert.match(malformed.body.msg, /not-a-layer/);
        const noTimeline = await current.api<{ msg: string }>(
          method,
          `/v1/tenant/${tenantId}/timeline/${randomId()}/layer/${unknown}`,
        );
        assert.equal(noTimeline.status, 404);
        assert.match(noTimeline.body.msg, /timeline [0-9a-f]{32} not found/);
      }
      const [layer] = await historicLayers(server, base);
      const route = `${base}/layer/${layer!.layer_file_name}`;
      assert.equal((await server.api("GET", route)).status, 304, "resident: nothing to download");
      assert.equal((await server.api("DELETE", route)).status, 200);
      assert.equal((await server.api("DELETE", route)).status, 304, "already evicted");
      assert.equal((await server.api("GET", route)).status, 200, "downloaded");
      assert.ok((await historicLayers(server, base)).every((l) => !l.remote));
      assert.equal(await server.stop("SIGTERM"), 0);
      removeWorkdir(server.workdir);
      server = null;
    });
  });
}

test("evict without remote storage is refused: the local file is the only copy", async () => {
  const server = await startPageserver();
  try {
    const tenantId = randomId();
    const timelineId = randomId();
    const base = await createFedTimeline(server, tenantId, timelineId, {
      tenantConf: TENANT_CONF,
      transactions: 300,
    });
    await waitGeneratorDone(server, base);
    await ok(server, "PUT", `${base}/checkpoint?compact=false`);
    const [layer] = await historicLayers(server, base);
    const response = await server.api<{ msg: string }>(
      "DELETE",
      `${base}/layer/${layer!.layer_file_name}`,
    );
    assert.equal(response.status, 400);
    assert.match(response.body.msg, /no remote_storage is configured/);
    assert.match(response.body.msg, new RegExp(layer!.layer_file_name));
    assert.ok((await historicLayers(server, base)).every((l) => !l.remote));
  } finally {
    await server.stop("SIGTERM");
    removeWorkdir(server.workdir);
  }
});
