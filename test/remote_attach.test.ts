/**
 * Attach across pageserver processes, for both remote storages (a shared local directory; S3
 * through s3rver): a tenant fed by the generator on one pageserver is detached, then attached on a
 * second pageserver with an empty disk. The second one takes a higher generation, starts with
 * every layer remote, and answers every sampled GetPage@LSN with the same bytes, downloading
 * layers on demand. `pagectl index-part dump` reads the index_part.json our pageserver wrote.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import {
  asGeneration,
  formatLsn,
  generationSuffix,
  type Lsn,
  parseLsn,
  remoteIndexKey,
  type TenantId,
  type TimelineId,
} from "@pageserver/engine";
import {
  makeWorkdir,
  type PageserverHandle,
  REPO_ROOT,
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

const TENANT_CONF = {
  checkpoint_distance: 256 * 1024,
  compaction_period: "0s",
  gc_period: "0s",
};

for (const kind of REMOTE_KINDS) {
  describe(`attach on an empty pageserver (${kind})`, () => {
    const scratch = makeWorkdir("remote-attach-");
    const servers: PageserverHandle[] = [];
    let remote: RemoteFixture;
    before(async () => {
      remote = await openRemote(kind, scratch);
    });
    after(async () => {
      for (const server of servers) await server.stop("SIGKILL");
      for (const server of servers) removeWorkdir(server.workdir);
      await remote.close();
      removeWorkdir(scratch);
    });
    const start = async (nodeId: number) => {
      const server = await startPageserver({
        nodeId,
        config: { remote_storage: remote.config },
        env: remote.env,
      });
      servers.push(server);
      return server;
    };

    test("detached from one pageserver, attached on another: same pages, layers downloaded on demand", async () => {
      const first = await start(1);
      const tenantId = randomId();
      const timelineId = randomId();
      const base = await createFedTimeline(first, tenantId, timelineId, {
        tenantConf: TENANT_CONF,
        transactions: 6000,
      });
      await waitGeneratorDone(first, base);
      await ok(first, "PUT", `${base}/compact?force_l0_compaction=true&wait_until_uploaded=true`);
      await checkpointUploaded(first, base);
      const info = await ok<TimelineInfo>(first, "GET", base);
      assert.equal(info.remote_consistent_lsn, info.disk_consistent_lsn);
      const layers = await historicLayers(first, base);
      assert.ok(layers.length >= 2, `several layers (${layers.length})`);
      const last = parseLsn(info.last_record_lsn);
      const lsns = [1, 2, 3, 4].map((i) =>
        formatLsn(
          Math.floor(parseLsn("0/1000028") + ((last - parseLsn("0/1000028")) * i) / 4) as Lsn,
        ),
      );
      const keys = await sampleKeys(first, base, 12);
      assert.ok(keys.length > 20);
      const pagesBefore = await readPages(first, base, keys, lsns);
      const firstGeneration = (
        await ok<{ generation: number }>(first, "GET", `/v1/tenant/${tenantId}`)
      ).generation;

      await ok(first, "PUT", `/v1/tenant/${tenantId}/location_config`, { mode: "Detached" });
      assert.ok(
        !existsSync(path.join(first.workdir, "tenants", tenantId)),
        "detach removed the local copy",
      );
      assert.equal((await first.api("GET", base)).status, 404);

      const second = await start(2);
      await ok(second, "PUT", `/v1/tenant/${tenantId}/location_config`, {
        mode: "AttachedSingle",
        tenant_conf: TENANT_CONF,
      });
      const attached = await ok<{ generation: number }>(second, "GET", `/v1/tenant/${tenantId}`);
      assert.ok(
        attached.generation > firstGeneration,
        `generation ${attached.generation} > ${firstGeneration}`,
      );
      // Before anything reads (the timeline's logical size reads pages), nothing is local.
      const layersAgain = await historicLayers(second, base);
      assert.deepEqual(
        layersAgain.map((l) => l.layer_file_name).sort(),
        layers.map((l) => l.layer_file_name).sort(),
      );
      assert.ok(
        layersAgain.every((l) => l.remote),
        "every layer starts remote-only",
      );
      assert.equal(
        await metric(second, "pageserver_resident_physical_size", { timeline_id: timelineId }),
        0,
      );

      const infoAgain = await ok<TimelineInfo>(second, "GET", base);
      assert.equal(infoAgain.last_record_lsn, info.last_record_lsn);
      assert.equal(infoAgain.disk_consistent_lsn, info.disk_consistent_lsn);
      const pagesAfter = await readPages(second, base, keys, lsns);
      assert.deepEqual(pagesAfter, pagesBefore, "every sampled page reads the same");
      const downloads = await metric(second, "pageserver_ondemand_download_count", {
        timeline_id: timelineId,
      });
      assert.ok(downloads > 0 && downloads <= layers.length, `${downloads} on-demand downloads`);
      assert.equal(
        await metric(second, "pageserver_remote_timeline_client_calls_started", {
          timeline_id: timelineId,
          file_kind: "layer",
          op_kind: "download",
        }),
        downloads,
      );
      assert.ok(
        (await historicLayers(second, base)).some((l) => !l.remote),
        "some are resident now",
      );

      // The new attachment wrote its own index; pagectl reads it.
      const indexKey = remoteIndexKey(
        tenantId as TenantId,
        timelineId as TimelineId,
        asGeneration(attached.generation),
      );
      await eventually(
        "the second pageserver uploaded its own index",
        async () =>
          (await ok<TimelineInfo>(second, "GET", base)).remote_consistent_lsn ===
            info.disk_consistent_lsn && (await remote.storage.list(indexKey)).length === 1,
      );
      assert.ok(indexKey.endsWith(`-${generationSuffix(asGeneration(attached.generation))}`));
      const newest = await checkRemoteIndexes(remote.storage, tenantId, timelineId);
      assert.equal(newest.size, layers.length);
      const file = path.join(scratch, `index_part-${kind}.json`);
      writeFileSync(file, await remote.storage.download(indexKey));
      const dump = spawnSync(
        process.execPath,
        [
          "--import",
          "tsx",
          "apps/pageserver/src/cli/pagectl.ts",
          "index-part",
          "dump",
          file,
          "--json",
        ],
        { cwd: REPO_ROOT, encoding: "utf8", timeout: 60_000 },
      );
      assert.equal(dump.status, 0, dump.stderr);
      const summary = JSON.parse(dump.stdout).summary;
      assert.equal(summary.layers.total.count, layers.length);
      assert.equal(summary.disk_consistent_lsn, info.disk_consistent_lsn);
      assert.equal(summary.metadata.disk_consistent_lsn, info.disk_consistent_lsn);
    });
  });
}
