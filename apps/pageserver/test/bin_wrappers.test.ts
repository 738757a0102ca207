/**
 * The shell wrappers in apps/pageserver/bin, as npm links them into node_modules/.bin: run
 * through a symlink from an unrelated working directory, each starts its entry point with tsx
 * and passes arguments and exit codes through.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, describe, test } from "node:test";
import { REPO_ROOT } from "../../../test/harness/pageserver_process.ts";

const BIN = path.join(REPO_ROOT, "apps/pageserver/bin");

describe("bin wrappers", () => {
  const elsewhere = mkdtempSync(path.join(tmpdir(), "pageserver-bin-"));
  after(() => rmSync(elsewhere, { recursive: true, force: true }));

  const run = (name: string, args: string[]) => {
    const link = path.join(elsewhere, name);
    try {
      symlinkSync(path.join(BIN, name), link);
    } catch {}
    return spawnSync(link, args, { cwd: elsewhere, encoding: "utf8", timeout: 60_000 });
  };

  test("each wrapper runs its CLI from any directory, exit codes intact", () => {
    const key = run("pagectl", ["key", "--rel", "1663/5/16384", "--blk", "3", "--json"]);
    assert.equal(key.status, 0, key.stderr);
    assert.equal(JSON.parse(key.stdout).key, "000000067F00000005000040000000000003");
    const usage = run("pagectl", ["no-such-command"]);
    assert.equal(usage.status, 2);
    assert.match(usage.stderr, /^pagectl: unknown command 'no-such-command'/);
    const bench = run("pagebench", ["--help"]);
    assert.equal(bench.status, 0, bench.stderr);
    assert.match(bench.stdout, /get-page-latest-lsn/);
    const simulator = run("compaction-simulator", []);
    assert.equal(simulator.status, 2);
    assert.match(simulator.stderr, /usage:/);
    const server = run("pageserver", ["--help"]);
    assert.equal(server.status, 0, server.stderr);
    assert.match(server.stdout, /^usage: pageserver/);
    const badServer = run("pageserver", ["--bogus"]);
    assert.equal(badServer.status, 2);
  });
});
