/**
 * A full disk under a running pageserver. Its workdir is on a small tmpfs mounted here (so the
 * test needs root, as CI has; elsewhere it is skipped and says why). The generator writes more
 * WAL than fits: flushes fail with ENOSPC and retry, ingest waits (backpressure), the process
 * keeps answering, and the status says why (`flush_error` in the WAL-source status). Pages at
 * disk_consistent_lsn read meanwhile, and SIGTERM still stops it. Once the filesystem is grown
 * and the pageserver restarted, ingest resumes and finishes, and after another restart every
 * sampled page reads the same: nothing was lost.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { type PageserverHandle, startPageserver } from "./harness/pageserver_process.ts";
import {
  createFedTimeline,
  eventually,
  ok,
  randomId,
  readPages,
  sampleKeys,
  type TimelineInfo,
  waitGeneratorDone,
} from "./harness/remote_backends.ts";

/** Room for the pageserver's own files and a few layers, far less than the WAL below. */
const SMALL_FS = "4m";
const GROWN_FS = "512m";

function tryMount(mountPoint: string): string | null {
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${SMALL_FS}`, "tmpfs", mountPoint], {
      stdio: "pipe",
    });
    return null;
  } catch (error) {
    return `cannot mount a tmpfs here (${(error as Error).message.split("\n")[0]}): needs root`;
  }
}

const mountPoint = mkdtempSync(path.join(tmpdir(), "disk-full-"));
const cannotMount = tryMount(mountPoint);
let server: PageserverHandle | null = null;

after(async () => {
  await server?.stop("SIGKILL");
  if (!cannotMount) execFileSync("umount", ["-l", mountPoint]);
  rmSync(mountPoint, { recursive: true, force: true });
});

test("disk full: flushes retry with the reason shown, ingest waits, nothing is lost once there is room", {
  skip: cannotMount ?? false,
  timeout: 300_000,
}, async () => {
  const workdir = path.join(mountPoint, "pageserver");
  server = await startPageserver({ workdir });
  const tenantId = randomId();
  const timelineId = randomId();
  const base = await createFedTimeline(server, tenantId, timelineId, {
    tenantConf: { checkpoint_distance: 256 * 1024, compaction_period: "0s", gc_period: "0s" },
    transactions: 6000,
  });

  const full = await eventually(
    "a flush fails for want of space",
    async () => {
      const status = await ok<{ state: string; flush_error: string | null }>(
        server!,
        "GET",
        `${base}/wal_source`,
      );
      assert.notEqual(status.state, "failed", JSON.stringify(status));
      return status.flush_error;
    },
    120_000,
  );
  assert.match(full, /ENOSPC|no space left/i);
  // The process answers, the timeline is Active, and what is on disk reads.
  assert.equal((await server.api("GET", "/v1/status")).status, 200);
  const stuck = await ok<TimelineInfo & { state: unknown }>(server, "GET", base);
  assert.equal(stuck.state, "Active");
  const keys = (await sampleKeys(server, base, 3)).slice(0, 40);
  const atStuck = await readPages(server, base, keys, [stuck.disk_consistent_lsn]);
  // A few seconds later it is still held back, not failed and not crashed.
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const still = await ok<{ state: string; flush_error: string | null }>(
    server,
    "GET",
    `${base}/wal_source`,
  );
  assert.equal(still.state, "streaming");
  assert.ok(still.flush_error, "the flush still fails while the disk is full");

  // SIGTERM while the disk is still full: the shutdown gives up the failing flush and exits (what
  // is not on disk is above disk_consistent_lsn; ingest replays it after the restart).
  assert.equal(
    await server.stop("SIGTERM"),
    0,
    "a full disk does not keep the process from stopping",
  );
  execFileSync("mount", ["-o", `remount,size=${GROWN_FS}`, mountPoint]);
  server = await startPageserver({ workdir });
  await waitGeneratorDone(server, base);
  await ok(server, "PUT", `${base}/checkpoint?compact=false`);
  const done = await ok<TimelineInfo>(server, "GET", base);
  assert.equal(done.disk_consistent_lsn, done.last_record_lsn);
  const status = await ok<{ flush_error: string | null }>(server, "GET", `${base}/wal_source`);
  assert.equal(status.flush_error, null, "recovered");
  const lsns = [stuck.disk_consistent_lsn, done.last_record_lsn];
  const beforeRestart = await readPages(server, base, keys, lsns);
  for (const [probe, digest] of atStuck)
    assert.equal(beforeRestart.get(probe), digest, `${probe} changed after the disk was full`);

  assert.equal(await server.stop("SIGTERM"), 0);
  server = await startPageserver({ workdir });
  const afterRestart = await readPages(server, base, keys, lsns);
  assert.deepEqual(afterRestart, beforeRestart);
  const timelineDir = path.join(workdir, "tenants", tenantId, "timelines", timelineId);
  assert.deepEqual(
    readdirSync(timelineDir).filter((f) => f.endsWith("___temp")),
    [],
    "no temp files left behind",
  );
});
