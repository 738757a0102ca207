/**
 * Contract tests of the LSN routes, the compaction job list and timeline deletion's statuses
 * (reference §9): Neon's paths, shapes and codes — get_timestamp_of_lsn's RFC 3339 string and
 * 412, wait_lsn's 200 / 202 / 404 with Neon's request body, the empty job list, 412 for deleting
 * a timeline of a missing tenant — and bad input answered with `{"msg"}`.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { randomId, type TestNode, testNode, waitFor } from "./helpers.ts";

/** Transaction t of the generator commits at START + t ms (rate 0). */
const START_MS = Date.UTC(2024, 2, 1, 12, 30, 15, 250);
const TRANSACTIONS = 200;

describe("LSN routes", () => {
  let node: TestNode;
  const tenant = randomId();
  const timeline = randomId();
  const base = `/v1/tenant/${tenant}/timeline/${timeline}`;
  let lastRecordLsn = "";
  let initdbLsn = "";

  before(async () => {
    node = await testNode();
    await node.request("PUT", `/v1/tenant/${tenant}/location_config`, { mode: "AttachedSingle" });
    await node.request("POST", `/v1/tenant/${tenant}/timeline`, { new_timeline_id: timeline });
    await node.request("PUT", `${base}/wal_source`, {
      kind: "generator",
      params: {
        workload: "uniform",
        size: 20,
        transactions: TRANSACTIONS,
        start_time_ms: START_MS,
        seed: 2,
      },
    });
    await waitFor(
      async () =>
        (await node.request<{ state: string }>("GET", `${base}/wal_source`)).body.state ===
        "finished",
    );
    const detail = await node.request<{ last_record_lsn: string; initdb_lsn: string }>("GET", base);
    lastRecordLsn = detail.body.last_record_lsn;
    initdbLsn = detail.body.initdb_lsn;
  });
  after(() => node.close());

  test("get_timestamp_of_lsn: the newest commit's time, seconds precision; 412 before any", async () => {
    const found = await node.request<string>(
      "GET",
      `${base}/get_timestamp_of_lsn?lsn=${lastRecordLsn}`,
    );
    assert.equal(found.status, 200);
    // The last commit is at START + 199 ms: the same second as START.
    assert.equal(found.body, "2024-03-01T12:30:15Z");
    // Round trip with get_lsn_by_timestamp: a time after the last commit is "future".
    const lookup = await node.request<{ kind: string; lsn: string }>(
      "GET",
      `${base}/get_lsn_by_timestamp?timestamp=${encodeURIComponent("2024-03-01T12:30:16Z")}`,
    );
    assert.equal(lookup.status, 200);
    assert.equal(lookup.body.kind, "future");
    const before = await node.request<{ msg: string }>(
      "GET",
      `${base}/get_timestamp_of_lsn?lsn=${initdbLsn}`,
    );
    assert.equal(before.status, 412);
    assert.equal(before.body.msg, `Timestamp for lsn ${initdbLsn} not found`);
    for (const query of ["", "?lsn=", "?lsn=bogus", "?lsn=1/2/3"]) {
      const bad = await node.request<{ msg: string }>(
        "GET",
        `${base}/get_timestamp_of_lsn${query}`,
      );
      assert.equal(bad.status, 400, query);
      assert.match(bad.body.msg, /lsn/, query);
    }
    const unknown = await node.request(
      "GET",
      `/v1/tenant/${tenant}/timeline/${randomId()}/get_timestamp_of_lsn?lsn=0/16`,
    );
    assert.equal(unknown.status, 404);
  });

  test("wait_lsn: 200 when reached, 202 on timeout, 404 when no timeline matches", async () => {
    const url = `/v1/tenant/${tenant}/wait_lsn`;
    const get = await node.request("GET", url);
    assert.equal(get.status, 404, "GET is not a route");
    const ok = await node.request("POST", url, {
      [timeline]: lastRecordLsn,
      timeout: { secs: 1, nanos: 0 },
    });
    assert.equal(ok.status, 200);
    assert.equal(ok.body, null);
    const ahead = await node.request("POST", url, {
      [timeline]: "FF/0",
      timeout: { secs: 0, nanos: 200_000_000 },
    });
    assert.equal(ahead.status, 202);
    const humantime = await node.request("POST", url, { [timeline]: "FF/0", timeout: "100ms" });
    assert.equal(humantime.status, 202);
    const none = await node.request("POST", url, { [randomId()]: "0/16", timeout: "1s" });
    assert.equal(none.status, 404);
    const bad: Array<[unknown, RegExp]> = [
      [{ [timeline]: lastRecordLsn }, /missing field 'timeout'/],
      [{ [timeline]: "nope", timeout: "1s" }, new RegExp(`field '${timeline}'`)],
      [{ "not-a-timeline": "0/16", timeout: "1s" }, /field 'not-a-timeline'/],
      [{ [timeline]: "0/16", timeout: { secs: -1, nanos: 0 } }, /timeout/],
      [{ [timeline]: "0/16", timeout: "1 fortnight" }, /timeout/],
      [{ [timeline]: "0/16", timeout: "2h" }, /at most 600 s/],
      [[1, 2], /expected \{/],
    ];
    for (const [body, message] of bad) {
      const refused = await node.request<{ msg: string }>("POST", url, body);
      assert.equal(refused.status, 400, JSON.stringify(body));
      assert.match(refused.body.msg, message, JSON.stringify(body));
    }
    const unknownTenant = await node.request("POST", `/v1/tenant/${randomId()}/wait_lsn`, {
      timeout: "1s",
    });
    assert.equal(unknownTenant.status, 404);
  });

  test("timeline delete: 412 when the tenant is missing, 404 when only the timeline is", async () => {
    const noTenant = await node.request<{ msg: string }>(
      "DELETE",
      `/v1/tenant/${randomId()}/timeline/${randomId()}`,
    );
    assert.equal(noTenant.status, 412);
    assert.equal(noTenant.body.msg, "Requested tenant is missing");
    const noTimeline = await node.request("DELETE", `/v1/tenant/${tenant}/timeline/${randomId()}`);
    assert.equal(noTimeline.status, 404);
    const badId = await node.request("DELETE", `/v1/tenant/not-hex/timeline/${randomId()}`);
    assert.equal(badId.status, 400);
  });

  test("compaction jobs: none are ever scheduled, cancelling is a no-op", async () => {
    const list = await node.request("GET", `${base}/compact`);
    assert.equal(list.status, 200);
    assert.deepEqual(list.body, []);
    const cancel = await node.request("DELETE", `${base}/compact`);
    assert.equal(cancel.status, 200);
    assert.equal(cancel.body, null);
    const missing = await node.request(
      "GET",
      `/v1/tenant/${tenant}/timeline/${randomId()}/compact`,
    );
    assert.equal(missing.status, 404);
  });
});
