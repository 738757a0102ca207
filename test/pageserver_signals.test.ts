/**
 * A pageserver whose stdout reader has gone away (its supervisor died, `| head` exited) still
 * shuts down cleanly on SIGTERM: log lines to a broken pipe are dropped, never retried forever.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { removeWorkdir, startPageserver } from "./harness/pageserver_process.ts";

/** A hang, not slowness: a clean shutdown here takes well under a second. */
const HANG_MS = 60_000;

test("SIGTERM stops a pageserver whose stdout is a broken pipe", async () => {
  const pageserver = await startPageserver();
  try {
    for (let i = 0; i < 5; i++) {
      const tenant = `${i}`.padStart(32, "c");
      const created = await pageserver.api("PUT", `/v1/tenant/${tenant}/location_config`, {
        mode: "AttachedSingle",
      });
      assert.equal(created.status, 200, JSON.stringify(created.body));
    }
    // Close our end of its stdout and stderr: the shutdown's own log lines are the first to hit
    // EPIPE (the case that used to hang: the exit-time flush retried them forever).
    pageserver.process.stdout!.destroy();
    pageserver.process.stderr!.destroy();
    await new Promise((resolve) => setTimeout(resolve, 200));
    let timer: NodeJS.Timeout | undefined;
    const code = await Promise.race([
      pageserver.stop("SIGTERM"),
      new Promise<string>((resolve) => {
        timer = setTimeout(() => resolve("hung"), HANG_MS);
      }),
    ]);
    clearTimeout(timer);
    if (code === "hung") pageserver.process.kill("SIGKILL");
    assert.equal(code, 0, "the pageserver exits 0 on SIGTERM");
  } finally {
    if (pageserver.process.exitCode === null) pageserver.process.kill("SIGKILL");
    removeWorkdir(pageserver.workdir);
  }
});
