/**
 * The pageserver as a process: the pid-file lock refuses a second instance, a bad config value
 * stops start-up naming the key, and SIGTERM during ingest flushes everything so that a restart
 * shows the same disk_consistent_lsn and every page reads as the generator's model says.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { after, describe, test } from "node:test";
import {
  BOOTSTRAP_INITDB_LSN,
  formatKey,
  generatorParamsSchema,
  parseLsn,
  WalGenerator,
} from "@pageserver/engine";
import { GeneratorModel } from "../packages/engine/test/generator_model.ts";
import {
  makeWorkdir,
  REPO_ROOT,
  removeWorkdir,
  startPageserver,
  writePageserverConfig,
} from "./harness/pageserver_process.ts";

const MAIN = path.join(REPO_ROOT, "apps/pageserver/src/main.ts");
const randomId = () =>
  [...crypto.getRandomValues(new Uint8Array(16))]
    .map((b) => b.toString(16).padStart(2, "0"))
    .join("");

describe("pageserver process", () => {
  const workdirs: string[] = [];
  after(() => workdirs.forEach(removeWorkdir));

  test("a second instance on the same workdir is refused; a bad config value names the key", async () => {
    const first = await startPageserver();
    workdirs.push(first.workdir);
    try {
      const second = spawnSync(process.execPath, ["--import", "tsx", MAIN, "-D", first.workdir], {
        cwd: REPO_ROOT,
        encoding: "utf8",
        timeout: 30_000,
      });
      assert.equal(second.status, 1);
      assert.match(second.stderr, /another pageserver \(pid \d+\) is running on this workdir/);
    } finally {
      assert.equal(await first.stop("SIGTERM"), 0);
    }
    const bad = makeWorkdir();
    workdirs.push(bad);
    writePageserverConfig(bad, 1, { page_cache_size: "lots" });
    const refused = spawnSync(process.execPath, ["--import", "tsx", MAIN, "-D", bad], {
      cwd: REPO_ROOT,
      encoding: "utf8",
      timeout: 30_000,
    });
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, /key 'page_cache_size'/);
    const missing = spawnSync(process.execPath, ["--import", "tsx", MAIN, "-D", makeWorkdir()], {
      cwd: REPO_ROOT,
      encoding: "utf8",
      timeout: 30_000,
    });
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /identity.toml not found/);
  });

  test("SIGTERM during ingest flushes; the restart has the same disk_consistent_lsn and loses nothing", async () => {
    const server = await startPageserver();
    workdirs.push(server.workdir);
    const tenant = randomId();
    const timeline = randomId();
    await server.api("PUT", `/v1/tenant/${tenant}/location_config`, { mode: "AttachedSingle" });
    await server.api("POST", `/v1/tenant/${tenant}/timeline`, { new_timeline_id: timeline });
    const base = `/v1/tenant/${tenant}/timeline/${timeline}`;
    const params = {
      workload: "uniform",
      size: 400,
      rate: 2000,
      transactions: 20_000,
      seed: 11,
      start_time_ms: 1_700_000_000_000,
    };
    assert.equal(
      (await server.api("PUT", `${base}/wal_source`, { kind: "generator", params })).status,
      200,
    );
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const before = (await server.api<{ last_record_lsn: string }>("GET", base)).body;
    assert.equal(await server.stop("SIGTERM"), 0, server.output.join("\n"));
    const metadata = JSON.parse(
      readFileSync(
        path.join(server.workdir, "tenants", tenant, "timelines", timeline, "metadata.json"),
        "utf8",
      ),
    );
    const flushed = parseLsn(metadata.disk_consistent_lsn);
    assert.ok(
      flushed >= parseLsn(before.last_record_lsn),
      "everything ingested before the signal is on disk",
    );
    assert.ok(
      server.output.some((line) => line.includes('"shut down tenants (flush)"')),
      "shutdown ran its steps",
    );

    const again = await startPageserver({ workdir: server.workdir });
    try {
      await again.api("DELETE", `${base}/wal_source`);
      const after = (await again.api<{ disk_consistent_lsn: string }>("GET", base)).body;
      assert.ok(parseLsn(after.disk_consistent_lsn) >= flushed);
      const model = new GeneratorModel(
        new WalGenerator(generatorParamsSchema.parse(params), BOOTSTRAP_INITDB_LSN),
      );
      model.advanceTo(model.generator.firstTransactionAfter(flushed));
      let checked = 0;
      for (const key of [...model.versions.keys()].filter((_, i) => i % 7 === 0)) {
        const expected = model.valueAt(key, flushed);
        const response = await fetch(
          `${again.httpUrl}${base}/getpage?key=${formatKey(key)}&lsn=${metadata.disk_consistent_lsn}`,
        );
        if (expected === null) {
          assert.notEqual(response.status, 200);
          continue;
        }
        assert.equal(
          response.status,
          200,
          `key ${formatKey(key)}: ${await response.clone().text()}`,
        );
        assert.ok(
          Buffer.from(await response.arrayBuffer()).equals(expected),
          `key ${formatKey(key)} at ${metadata.disk_consistent_lsn}`,
        );
        checked++;
      }
      assert.ok(checked > 20);
    } finally {
      assert.equal(await again.stop("SIGINT"), 0);
    }
  });
});
