/**
 * Remote storage goes away in the middle of a run (s3rver stopped; the local directory replaced by
 * a file), for both remote storages. Ingest and flushes go on locally; remote_consistent_lsn stays
 * behind; the pageserver logs the failing object key while it retries. Once storage is back the
 * uploads complete: remote_consistent_lsn reaches disk_consistent_lsn and the newest index names
 * every layer, all of which exist.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { parseLsn } from "@pageserver/engine";
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
  ok,
  openRemote,
  REMOTE_KINDS,
  type RemoteFixture,
  randomId,
  type TimelineInfo,
  waitGeneratorDone,
} from "./harness/remote_backends.ts";

for (const kind of REMOTE_KINDS) {
  describe(`remote storage outage (${kind})`, () => {
    const scratch = makeWorkdir("remote-outage-");
    let remote: RemoteFixture;
    let server: PageserverHandle | null = null;
    let down = false;
    before(async () => {
      remote = await openRemote(kind, scratch);
    });
    after(async () => {
      if (down) await remote.restore();
      await server?.stop("SIGKILL");
      if (server) removeWorkdir(server.workdir);
      await remote.close();
      removeWorkdir(scratch);
    });

    test("storage stopped mid-run: ingest goes on locally, uploads retry naming the object, and complete once it is back", async () => {
      server = await startPageserver({
        config: { remote_storage: remote.config },
        env: remote.env,
      });
      const current = server;
      const tenantId = randomId();
      const timelineId = randomId();
      const base = await createFedTimeline(server, tenantId, timelineId, {
        tenantConf: { checkpoint_distance: 128 * 1024, compaction_period: "0s", gc_period: "0s" },
        transactions: 8000,
        rate: 1000,
      });
      const info = () => ok<TimelineInfo>(current, "GET", base);
      const initial = parseLsn((await info()).remote_consistent_lsn);
      await eventually("some uploads before the outage", async () => {
        return parseLsn((await info()).remote_consistent_lsn) > initial;
      });
      await remote.outage();
      down = true;
      const logged = current.output.length;
      await eventually("a retry names the failing object", async () =>
        current.output
          .slice(logged)
          .some((line) => line.includes("retrying") && line.includes(`timelines/${timelineId}/`)),
      );
      const stalledAt = parseLsn((await info()).remote_consistent_lsn);
      await waitGeneratorDone(server, base);
      await ok(server, "PUT", `${base}/checkpoint?compact=false`);
      const during = await info();
      assert.equal(during.disk_consistent_lsn, during.last_record_lsn, "flushes went on locally");
      assert.ok(
        parseLsn(during.disk_consistent_lsn) > stalledAt,
        "ingest and flushes went past the outage",
      );
      assert.ok(
        parseLsn(during.remote_consistent_lsn) < parseLsn(during.disk_consistent_lsn),
        "remote_consistent_lsn stays behind",
      );

      await remote.restore();
      down = false;
      await checkpointUploaded(server, base);
      const done = await info();
      assert.equal(done.remote_consistent_lsn, done.disk_consistent_lsn);
      const layers = await historicLayers(server, base);
      const newest = await checkRemoteIndexes(remote.storage, tenantId, timelineId);
      assert.deepEqual([...newest].sort(), layers.map((l) => l.layer_file_name).sort());
      assert.equal(await server.stop("SIGTERM"), 0);
      removeWorkdir(server.workdir);
      server = null;
    });
  });
}
