/**
 * `pagebench get-page-latest-lsn`: its parts (keyspace → relation block runs, the weighted
 * sampler, the histogram and humantime output) checked on exact inputs, then the CLI run as a
 * process against a real pageserver: Neon's JSON shape with counts that add up, pipelined clients,
 * target discovery, the keyspace cache, and the exit-code contract. Nothing here depends on how
 * fast the machine is: counts are checked for consistency, never against a rate.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { formatKey, keyFromFields, relBlockKey, relSizeKey } from "@pageserver/engine";
import { REPO_ROOT, removeWorkdir } from "../../../test/harness/pageserver_process.ts";
import { BlockSampler, relationBlocks, seededRandom } from "../src/cli/pagebench/keyspace.ts";
import { formatHumantime, LatencyHistogram } from "../src/cli/pagebench/latency_histogram.ts";
import { CLI_DIR, runCliProcess, type ServedTimeline, servedTimeline } from "./cli_helpers.ts";
import { randomId, waitFor } from "./helpers.ts";

const pagebench = (args: string[]) => runCliProcess("pagebench.ts", args);

const MAIN = { spcNode: 1663, dbNode: 5, relNode: 16384, forkNum: 0 };
const FSM = { ...MAIN, forkNum: 1 };
const key = (rel: typeof MAIN, blk: number) => formatKey(relBlockKey(rel, blk));

describe("pagebench parts", () => {
  test("a keyspace becomes relation block runs; non-block keys and size keys are skipped", () => {
    const blocks = relationBlocks(
      {
        at_lsn: "0/169AD58",
        keys: [
          // dbdir, relmap and reldir keys of database 5: no relation blocks.
          ["000000000000000000000000000000000000", "000000000000000000000000000000000001"],
          [
            formatKey(keyFromFields(0, 1663, 5, 0, 0, 0)),
            formatKey(keyFromFields(0, 1663, 5, 0, 0, 2)),
          ],
          // Blocks 0..10 of the main fork.
          [key(MAIN, 0), key(MAIN, 10)],
          // The main fork's size key merged with the FSM's first 3 blocks (adjacent keys).
          [formatKey(relSizeKey(MAIN)), key(FSM, 3)],
          // SLRU blocks (field1 = 1): not relation blocks.
          [formatKey(keyFromFields(1, 0, 0, 1, 0, 0)), formatKey(keyFromFields(1, 0, 0, 1, 0, 8))],
        ],
        sparse_keys: [],
      },
      "test",
    );
    assert.equal(blocks.atLsn, 0x169ad58);
    assert.deepEqual(
      blocks.runs.map((run) => [run.rel.relNode, run.rel.forkNum, run.startBlock, run.endBlock]),
      [
        [16384, 0, 0, 10],
        [16384, 1, 0, 3],
      ],
    );
    assert.equal(blocks.blocks, 13);
    assert.throws(() => relationBlocks({ at_lsn: "nope", keys: [] }, "where"), /where: at_lsn: /);
    assert.throws(() => relationBlocks({ keys: "x" } as never, "where"), /where: not a keyspace/);
  });

  test("the sampler picks every block of the runs, equally often", () => {
    const runs = [
      { rel: MAIN, startBlock: 0, endBlock: 3 },
      { rel: FSM, startBlock: 5, endBlock: 6 },
    ];
    const sampler = new BlockSampler(runs, seededRandom(42));
    const counts = new Map<string, number>();
    const pick = { run: runs[0]!, block: 0 };
    const draws = 40_000;
    for (let i = 0; i < draws; i++) {
      sampler.pick(pick);
      const id = `${pick.run.rel.forkNum}/${pick.block}`;
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    assert.deepEqual([...counts.keys()].sort(), ["0/0", "0/1", "0/2", "1/5"]);
    for (const count of counts.values()) assert.ok(Math.abs(count - draws / 4) < draws * 0.02);
  });

  test("histogram percentiles are within 1 % and humantime reads like Neon's", () => {
    const histogram = new LatencyHistogram();
    for (let us = 1; us <= 10_000; us++) histogram.record(us);
    assert.equal(histogram.count, 10_000);
    assert.equal(histogram.meanUs(), 5000.5);
    for (const [q, expected] of [
      [0.5, 5000],
      [0.99, 9900],
      [0.999, 9990],
    ] as const) {
      const got = histogram.percentileUs(q);
      assert.ok(Math.abs(got - expected) / expected < 0.01, `p${q * 100}: ${got}`);
    }
    const other = new LatencyHistogram();
    other.record(1_000_000);
    histogram.merge(other);
    assert.equal(histogram.count, 10_001);
    assert.equal(histogram.maximumUs(), 1_000_000);
    assert.equal(histogram.percentileUs(1), 1_000_000);
    assert.equal(new LatencyHistogram().percentileUs(0.5), 0);
    assert.equal(formatHumantime(227.123), "227us 123ns");
    assert.equal(formatHumantime(1_234_567.891), "1s 234ms 567us 891ns");
    assert.equal(formatHumantime(750), "750us");
    assert.equal(formatHumantime(0), "0s");
  });
});

interface PagebenchOutput {
  total: {
    request_count: number;
    latency_mean: string;
    latency_percentiles: Record<string, string>;
  };
  requests_per_second: number;
  latency_us: Record<string, number>;
  errors: number;
  missed: number;
  targets: number;
  num_clients: number;
  queue_depth: number;
  relation_blocks: number;
}

describe("pagebench get-page-latest-lsn against a pageserver", () => {
  let served: ServedTimeline;
  let common: string[];
  const scratch = mkdtempSync(path.join(tmpdir(), "pagebench-"));

  before(async () => {
    served = await servedTimeline(64, 300);
    common = [
      "--mgmt-api-endpoint",
      served.server.httpUrl,
      "--page-service-connstring",
      `postgres://postgres@127.0.0.1:${served.server.pgPort}`,
    ];
  });
  after(async () => {
    await served.server.stop("SIGTERM");
    removeWorkdir(served.server.workdir);
    rmSync(scratch, { recursive: true, force: true });
  });

  test("pipelined clients: Neon's JSON shape, counts and percentiles that agree", async () => {
    const target = `${served.tenant}/${served.timeline}`;
    const smgrBefore = await smgrGetPageCount(served);
    const run = await pagebench([
      "get-page-latest-lsn",
      target,
      ...common,
      "--num-clients",
      "2",
      "--queue-depth",
      "4",
      "--runtime",
      "1s",
    ]);
    assert.equal(run.code, 0, run.stderr);
    const output = JSON.parse(run.stdout) as PagebenchOutput;
    assert.ok(output.total.request_count > 0);
    assert.equal(output.errors, 0);
    assert.equal(output.missed, 0);
    assert.equal(output.targets, 1);
    assert.equal(output.num_clients, 2);
    assert.equal(output.queue_depth, 4);
    assert.ok(output.relation_blocks >= 64, "the table's blocks (plus its visibility map)");
    const humantime = /^(\d+(h|m|s|ms|us|ns) ?)+$/;
    assert.match(output.total.latency_mean, humantime);
    assert.deepEqual(Object.keys(output.total.latency_percentiles), [
      "p50",
      "p95",
      "p99",
      "p99.9",
      "p99.99",
    ]);
    for (const text of Object.values(output.total.latency_percentiles))
      assert.match(text, humantime);
    const us = output.latency_us;
    assert.ok(us.min! <= us.p50! && us.p50! <= us.p95! && us.p95! <= us.p99!);
    assert.ok(us.p99! <= us["p99.9"]! && us["p99.9"]! <= us.max!);
    assert.ok(us.min! <= us.mean! && us.mean! <= us.max!);
    assert.ok(output.requests_per_second > 0);
    // The server answered at least every counted request (more: the ones after the deadline).
    const served_ = (await smgrGetPageCount(served)) - smgrBefore;
    assert.ok(served_ >= output.total.request_count, `${served_} < ${output.total.request_count}`);
  });

  test("without targets every timeline is read; the keyspace cache makes the API optional", async () => {
    const cache = path.join(scratch, "keyspaces.json");
    const discovered = await pagebench([
      "get-page-latest-lsn",
      ...common,
      "--runtime",
      "500ms",
      "--keyspace-cache",
      cache,
    ]);
    assert.equal(discovered.code, 0, discovered.stderr);
    assert.equal((JSON.parse(discovered.stdout) as PagebenchOutput).targets, 1);
    assert.ok(existsSync(cache));
    const cached = JSON.parse(readFileSync(cache, "utf8")) as Record<string, unknown>;
    assert.deepEqual(Object.keys(cached), [`${served.tenant}/${served.timeline}`]);
    // With an explicit target and the cache, an unreachable management API does not matter.
    const offline = await pagebench([
      "get-page-latest-lsn",
      `${served.tenant}/${served.timeline}`,
      "--mgmt-api-endpoint",
      "http://127.0.0.1:1",
      "--page-service-connstring",
      `postgres://postgres@127.0.0.1:${served.server.pgPort}`,
      "--runtime",
      "500ms",
      "--keyspace-cache",
      cache,
      "--seed",
      "7",
    ]);
    assert.equal(offline.code, 0, offline.stderr);
    assert.ok((JSON.parse(offline.stdout) as PagebenchOutput).total.request_count > 0);
  });

  test("without --runtime it runs until SIGINT, then prints its results", async () => {
    const child = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        path.join(CLI_DIR, "pagebench.ts"),
        "get-page-latest-lsn",
        `${served.tenant}/${served.timeline}`,
        ...common,
      ],
      { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"] },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
    });
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
    });
    // Interrupt once it is sending: the server has answered some GetPages of this run.
    const before = await smgrGetPageCount(served);
    await waitFor(async () => (await smgrGetPageCount(served)) > before, 30_000, "requests");
    child.kill("SIGINT");
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    assert.equal(code, 0, stderr);
    const output = JSON.parse(stdout) as PagebenchOutput;
    assert.ok(output.total.request_count > 0);
    assert.equal(output.errors, 0);
  });

  test("--per-client-rate paces requests", async () => {
    const run = await pagebench([
      "get-page-latest-lsn",
      `${served.tenant}/${served.timeline}`,
      ...common,
      "--per-client-rate",
      "20",
      "--runtime",
      "1s",
    ]);
    assert.equal(run.code, 0, run.stderr);
    const output = JSON.parse(run.stdout) as PagebenchOutput;
    // 20/s for 1 s: request i is due at i/20 s, so at most 21 are sent (a slow machine sends
    // fewer and counts the rest as missed; sent + missed still cannot exceed the schedule).
    assert.ok(output.total.request_count >= 1);
    assert.ok(output.total.request_count + output.missed <= 21, JSON.stringify(output));
  });

  test("bad usage exits 2; unreachable servers and empty timelines exit 1 naming them", async () => {
    const target = `${served.tenant}/${served.timeline}`;
    const usage: string[][] = [
      [],
      ["get-page-at-lsn"],
      ["get-page-latest-lsn", target, "--num-clients", "0"],
      ["get-page-latest-lsn", target, "--queue-depth", "x"],
      ["get-page-latest-lsn", target, "--runtime", "soon"],
      ["get-page-latest-lsn", target, "--req-latest-probability", "2"],
      ["get-page-latest-lsn", "not-a-target"],
      ["get-page-latest-lsn", `${served.tenant}/zz`],
      ["get-page-latest-lsn", target, "--page-service-connstring", "mysql://x"],
      ["get-page-latest-lsn", target, "--bogus"],
    ];
    const usageRuns = await Promise.all(usage.map((args) => pagebench(args)));
    for (const [index, args] of usage.entries()) {
      assert.equal(usageRuns[index]!.code, 2, `${args.join(" ")}: ${usageRuns[index]!.stderr}`);
      assert.match(usageRuns[index]!.stderr, /\n\nusage: pagebench/);
    }

    // A port nobody listens on (fetch refuses well-known "bad" ports such as 1 outright).
    const closed = await closedPort();
    const apiDown = await pagebench([
      "get-page-latest-lsn",
      target,
      "--mgmt-api-endpoint",
      `http://127.0.0.1:${closed}`,
      "--runtime",
      "1s",
    ]);
    assert.equal(apiDown.code, 1);
    assert.ok(
      apiDown.stderr.includes(`cannot reach http://127.0.0.1:${closed}/v1/tenant/`),
      apiDown.stderr,
    );
    assert.match(apiDown.stderr, /ECONNREFUSED/);

    const pgDown = await pagebench([
      "get-page-latest-lsn",
      target,
      "--mgmt-api-endpoint",
      served.server.httpUrl,
      "--page-service-connstring",
      `postgres://postgres@127.0.0.1:${closed}`,
      "--runtime",
      "1s",
    ]);
    assert.equal(pgDown.code, 1);
    assert.ok(pgDown.stderr.includes(`127.0.0.1:${closed} failed: ECONNREFUSED`), pgDown.stderr);

    // A timeline with no relation yet has nothing to read.
    const empty = randomId();
    await served.server.api("POST", `/v1/tenant/${served.tenant}/timeline`, {
      new_timeline_id: empty,
    });
    const nothing = await pagebench([
      "get-page-latest-lsn",
      `${served.tenant}/${empty}`,
      ...common,
      "--runtime",
      "1s",
    ]);
    assert.equal(nothing.code, 1);
    assert.match(nothing.stderr, /has no relation blocks in its keyspace/);
  });
});

/** A local port that was free a moment ago: connections to it are refused. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** The pageserver's own count of GetPages served (pageserver_smgr_query_seconds_count). */
async function smgrGetPageCount(served: ServedTimeline): Promise<number> {
  const text = await (await fetch(`${served.server.httpUrl}/metrics`)).text();
  let total = 0;
  for (const line of text.split("\n")) {
    if (
      line.startsWith("pageserver_smgr_query_seconds_count{") &&
      line.includes('smgr_query_type="get_page_at_lsn"') &&
      line.includes(`timeline_id="${served.timeline}"`)
    )
      total += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return total;
}
