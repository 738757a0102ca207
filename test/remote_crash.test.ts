/**
 * SIGKILL in the middle of uploads, for both remote storages. Layer uploads are slowed by a
 * failpoint so that each kill lands with uploads queued and running; after every kill, straight
 * from remote storage, no index_part.json names an object that does not exist. The last restart
 * (without the failpoint) finishes the queue: remote_consistent_lsn reaches disk_consistent_lsn,
 * the newest index names exactly the timeline's layers, and with every layer evicted the pages read
 * back from remote storage equal the ones read before.
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

const KILLS = 3;

for (const kind of REMOTE_KINDS) {
  describe(`crash during uploads (${kind})`, () => {
    const scratch = makeWorkdir("remote-crash-");
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

    test(`${KILLS} SIGKILLs with uploads in flight: no index names a missing object; the restart finishes the queue`, async () => {
      const workdir = makeWorkdir();
      const config = { remote_storage: remote.config };
      const slowUploads = { ...remote.env, FAILPOINTS: "remote-upload-layer=sleep(250)" };
      server = await startPageserver({ workdir, config, env: slowUploads });
      const tenantId = randomId();
      const timelineId = randomId();
      const base = await createFedTimeline(server, tenantId, timelineId, {
        tenantConf: { checkpoint_distance: 128 * 1024, compaction_period: "0s", gc_period: "0s" },
        transactions: 12_000,
      });
      const labels = { timeline_id: timelineId, file_kind: "layer", op_kind: "upload" };
      for (let kill = 0; kill < KILLS; kill++) {
        const current = server;
        await eventually(`round ${kill}: uploads done and more queued`, async () => {
          const started = await metric(
            current,
            "pageserver_remote_timeline_client_calls_started",
            labels,
          );
          const finished = await metric(
            current,
            "pageserver_remote_timeline_client_calls_finished",
            labels,
          );
          return finished >= 1 && started - finished >= 2;
        });
        await server.stop("SIGKILL");
        await checkRemoteIndexes(remote.storage, tenantId, timelineId);
        const last = kill === KILLS - 1;
        server = await startPageserver({ workdir, config, env: last ? remote.env : slowUploads });
      }
      await waitGeneratorDone(server, base);
      await checkpointUploaded(server, base);
      const info = await ok<TimelineInfo>(server, "GET", base);
      assert.equal(info.remote_consistent_lsn, info.disk_consistent_lsn);
      assert.equal(info.disk_consistent_lsn, info.last_record_lsn);
      const layers = await historicLayers(server, base);
      const newest = await checkRemoteIndexes(remote.storage, tenantId, timelineId);
      assert.deepEqual([...newest].sort(), layers.map((l) => l.layer_file_name).sort());
      assert.equal(
        await metric(server, "pageserver_remote_physical_size", { timeline_id: timelineId }),
        layers.reduce((sum, l) => sum + l.layer_file_size, 0),
      );

      // What remote storage holds is the right data: evict everything and read it back.
      const keys = await sampleKeys(server, base, 8);
      const lsns = [info.last_record_lsn];
      const resident = await readPages(server, base, keys, lsns);
      for (const layer of layers) {
        const { status } = await server.api("DELETE", `${base}/layer/${layer.layer_file_name}`);
        assert.ok(status === 200 || status === 304, `evict ${layer.layer_file_name}: ${status}`);
      }
      assert.ok((await historicLayers(server, base)).every((l) => l.remote));
      assert.deepEqual(await readPages(server, base, keys, lsns), resident);
      assert.equal(await server.stop("SIGTERM"), 0);
      server = null;
      removeWorkdir(workdir);
    });
  });
}
