/**
 * The page service over real sockets: startup, pagestream v2 and v3 with all five requests and
 * Neon's byte encodings, pages equal to what the engine reconstructs, zero pages past the end,
 * Error responses that keep the stream open (bad LSNs, malformed frames), pipelining, concurrent
 * clients, `lease lsn`, and JWT auth bound to a tenant.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  BLCKSZ,
  formatLsn,
  LSN_MAX,
  type Lsn,
  type RelTag,
  relBlockKey,
  SlruKind,
  type TenantId,
  type Timeline,
  type TimelineId,
} from "@pageserver/engine";
import { PageService } from "../src/page_service/page_service.ts";
import {
  encodePagestreamRequest,
  type PagestreamRequest,
  pagestreamRequestHeader,
} from "../src/page_service/pagestream_codec.ts";
import { jwtKeys, randomId, signToken, type TestNode, testNode, waitFor } from "./helpers.ts";
import { errorMessageOf, RawPgClient } from "./raw_pg_client.ts";

const ACCOUNTS: RelTag = { spcNode: 1663, dbNode: 5, relNode: 16390, forkNum: 0 };
const HISTORY: RelTag = { spcNode: 1663, dbNode: 5, relNode: 16393, forkNum: 0 };
const VM: RelTag = { ...ACCOUNTS, forkNum: 2 };

function getPage(
  reqid: number,
  rel: RelTag,
  blkno: number,
  lsn: Lsn = LSN_MAX,
  notModifiedSince: Lsn = 0 as Lsn,
): PagestreamRequest {
  return { kind: "GetPage", ...pagestreamRequestHeader(reqid, lsn, notModifiedSince), rel, blkno };
}

async function openStream(
  port: number,
  tenant: string,
  timeline: string,
  version: 2 | 3 = 3,
  token?: string,
): Promise<RawPgClient> {
  const client = await RawPgClient.connect(port);
  client.startup();
  if (token !== undefined) {
    const auth = await client.next();
    assert.equal(auth?.type, "R");
    assert.equal(auth.body.readInt32BE(0), 3, "AuthenticationCleartextPassword");
    client.password(token);
  }
  const { before } = await client.until("Z");
  assert.equal(before[0]!.type, "R");
  assert.equal(before[0]!.body.readInt32BE(0), 0, "AuthenticationOk");
  client.query(`pagestream_v${version} ${tenant} ${timeline}`);
  const copyBoth = await client.next();
  assert.equal(
    copyBoth?.type,
    "W",
    copyBoth?.type === "E" ? errorMessageOf(copyBoth.body) : "expected CopyBothResponse",
  );
  return client;
}

async function response(client: RawPgClient): Promise<Buffer> {
  const message = await client.next();
  assert.equal(message?.type, "d", `expected CopyData, got ${message?.type}`);
  return message.body;
}

describe("page service", () => {
  let node: TestNode;
  let service: PageService;
  let port: number;
  let timeline: Timeline;
  const tenant = randomId();
  const timelineId = randomId();

  before(async () => {
    node = await testNode();
    await node.request("PUT", `/v1/tenant/${tenant}/location_config`, { mode: "AttachedSingle" });
    await node.request("POST", `/v1/tenant/${tenant}/timeline`, { new_timeline_id: timelineId });
    const base = `/v1/tenant/${tenant}/timeline/${timelineId}`;
    await node.request("PUT", `${base}/wal_source`, {
      kind: "generator",
      params: { workload: "pgbench", size: 1, transactions: 400 },
    });
    await waitFor(
      async () =>
        (await node.request<{ state: string }>("GET", `${base}/wal_source`)).body.state ===
        "finished",
    );
    await node.request("PUT", `${base}/checkpoint`);
    timeline = node.context.tenants.get(tenant as TenantId).getTimeline(timelineId as TimelineId);
    service = new PageService(node.context, null);
    port = await service.bind("127.0.0.1", 0);
    service.startAccepting();
  });
  after(async () => {
    await service.stopAccepting();
    await service.closeConnections();
    await node.close();
  });

  test("v3 GetPage returns the reconstructed page with Neon's echo, and a zero page past the end", async () => {
    const client = await openStream(port, tenant, timelineId);
    const historyBlock = 0;
    client.copyData(encodePagestreamRequest(3, getPage(42, HISTORY, historyBlock)));
    const reply = await response(client);
    assert.equal(reply.length, 8234);
    assert.equal(reply[0], 102);
    assert.equal(reply.readUInt32BE(5), 42, "reqid echo");
    assert.equal(reply.readUInt32BE(9), 0xffff_ffff, "request_lsn echo (latest)");
    assert.equal(reply.readUInt32BE(25), HISTORY.spcNode, "reltag echo");
    const expected = await timeline.get(relBlockKey(HISTORY, historyBlock), timeline.lastRecordLsn);
    assert.ok(reply.subarray(42).equals(expected));
    // A VM page is rebuilt by redo (image plus ClearVisibilityMapFlags records).
    client.copyData(encodePagestreamRequest(3, getPage(43, VM, 0)));
    const vm = await response(client);
    assert.ok(
      vm.subarray(42).equals(await timeline.get(relBlockKey(VM, 0), timeline.lastRecordLsn)),
    );
    client.copyData(encodePagestreamRequest(3, getPage(44, HISTORY, 1_000_000)));
    const past = await response(client);
    assert.equal(past[0], 102);
    assert.ok(
      past.subarray(42).equals(Buffer.alloc(BLCKSZ)),
      "zero page past the end of the relation",
    );
    client.close();
  });

  test("Exists, Nblocks, DbSize, GetSlruSegment in v2 and v3", async () => {
    for (const version of [2, 3] as const) {
      const client = await openStream(port, tenant, timelineId, version);
      const header = pagestreamRequestHeader(7, LSN_MAX, 0 as Lsn);
      const bodyAt = version === 3 ? 25 : 1;
      client.copyData(
        encodePagestreamRequest(version, { kind: "Exists", ...header, rel: ACCOUNTS }),
      );
      const exists = await response(client);
      assert.deepEqual([exists[0], exists[bodyAt + (version === 3 ? 13 : 0)]], [100, 1]);
      client.copyData(
        encodePagestreamRequest(version, { kind: "Nblocks", ...header, rel: ACCOUNTS }),
      );
      const nblocks = await response(client);
      assert.equal(nblocks[0], 101);
      assert.equal(nblocks.readUInt32BE(bodyAt + (version === 3 ? 13 : 0)), 1640);
      client.copyData(encodePagestreamRequest(version, { kind: "DbSize", ...header, dbNode: 5 }));
      const dbSize = await response(client);
      assert.equal(dbSize[0], 104);
      assert.ok(Number(dbSize.readBigInt64BE(bodyAt + (version === 3 ? 4 : 0))) >= 1640 * BLCKSZ);
      client.copyData(
        encodePagestreamRequest(version, {
          kind: "GetSlruSegment",
          ...header,
          slruKind: SlruKind.Clog,
          segno: 0,
        }),
      );
      const segment = await response(client);
      assert.equal(segment[0], 105);
      const blocks = segment.readUInt32BE(bodyAt + (version === 3 ? 5 : 0));
      assert.ok(blocks >= 1);
      client.close();
    }
  });

  test("bad requests get Error responses and the stream keeps working", async () => {
    const client = await openStream(port, tenant, timelineId);
    const errors: string[] = [];
    const expectError = async () => {
      const reply = await response(client);
      assert.equal(reply[0], 103, "Error response");
      errors.push(reply.toString("utf8", 25, reply.length - 1));
    };
    client.copyData(encodePagestreamRequest(3, getPage(1, HISTORY, 0, 0 as Lsn)));
    await expectError();
    client.copyData(
      encodePagestreamRequest(3, getPage(2, HISTORY, 0, 0x1000000 as Lsn, 0x2000000 as Lsn)),
    );
    await expectError();
    client.copyData(encodePagestreamRequest(3, getPage(3, { ...HISTORY, relNode: 99999 }, 0)));
    await expectError();
    client.copyData(Buffer.from([2, 0, 0, 0]));
    const malformed = await response(client);
    assert.equal(malformed[0], 103);
    client.copyData(Buffer.concat([Buffer.from([77]), Buffer.alloc(41)]));
    assert.equal((await response(client))[0], 103, "unknown tag");
    assert.match(errors[0]!, /invalid LSN\(0\)/);
    assert.match(errors[1]!, /not_modified_since/);
    assert.match(errors[2]!, /not found/);
    client.copyData(encodePagestreamRequest(3, getPage(9, HISTORY, 0)));
    assert.equal((await response(client))[0], 102, "still serving after the errors");
    client.close();
  });

  test("a page-service command for an unknown tenant is an ErrorResponse and the connection stays", async () => {
    const client = await RawPgClient.connect(port);
    client.startup();
    await client.until("Z");
    client.query(`pagestream_v3 ${randomId()} ${timelineId}`);
    const { message } = await client.until("E");
    assert.match(errorMessageOf(message.body), /tenant .* not found/);
    await client.until("Z");
    client.query("pagestream_v9 x y");
    assert.match(
      errorMessageOf((await client.until("E")).message.body),
      /pagestream_v9|unknown|unsupported/i,
    );
    await client.until("Z");
    client.query(
      `lease lsn ${tenant} ${timelineId} 0/${timeline.lastRecordLsn.toString(16).toUpperCase()}`,
    );
    const { before } = await client.until("C");
    const row = before.find((m) => m.type === "D")!;
    const validUntil = Number(row.body.toString("utf8", 6, 6 + row.body.readInt32BE(2)));
    assert.ok(validUntil > Date.now());
    client.close();
  });

  test("pipelined requests are all answered in order", async () => {
    const client = await openStream(port, tenant, timelineId);
    const frames: Buffer[] = [];
    for (let i = 0; i < 200; i++)
      frames.push(
        RawPgClient.typed("d", encodePagestreamRequest(3, getPage(1000 + i, HISTORY, i % 6))),
      );
    client.write(Buffer.concat(frames));
    for (let i = 0; i < 200; i++) {
      const reply = await response(client);
      assert.equal(reply[0], 102);
      assert.equal(reply.readUInt32BE(5), 1000 + i);
    }
    client.close();
  });

  test("metrics: Neon's page-service series are exported and count what was served", async () => {
    const scrape = async () => (await node.request<string>("GET", "/metrics")).body;
    const value = (text: string, name: string, ...labels: string[]): number => {
      let total = 0;
      for (const line of text.split("\n")) {
        if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
        if (labels.every((label) => line.includes(label)))
          total += Number(line.slice(line.lastIndexOf(" ") + 1));
      }
      return total;
    };
    const onTimeline = `timeline_id="${timelineId}"`;
    const before = await scrape();
    const client = await openStream(port, tenant, timelineId);
    // Five GetPages in one write (one batch; the repeated page starts a second one), an Exists.
    const frames = [0, 1, 2, 2, 3].map((blk, i) =>
      RawPgClient.typed("d", encodePagestreamRequest(3, getPage(500 + i, HISTORY, blk))),
    );
    frames.push(
      RawPgClient.typed(
        "d",
        encodePagestreamRequest(3, {
          kind: "Exists",
          ...pagestreamRequestHeader(510, LSN_MAX, 0 as Lsn),
          rel: HISTORY,
        }),
      ),
    );
    client.write(Buffer.concat(frames));
    for (let i = 0; i < frames.length; i++) await response(client);
    client.close();
    const after = await scrape();
    const delta = (name: string, ...labels: string[]) =>
      value(after, name, ...labels) - value(before, name, ...labels);
    assert.equal(delta("pageserver_compute_commands", 'command="PageStreamV3"'), 1);
    assert.equal(
      delta("pageserver_smgr_query_started_global_count", 'smgr_query_type="get_page_at_lsn"'),
      5,
    );
    assert.equal(
      delta("pageserver_smgr_query_started_global_count", 'smgr_query_type="get_rel_exists"'),
      1,
    );
    assert.ok(
      delta("pageserver_page_service_batch_break_reason", onTimeline) >= 2,
      "every batch ends for a reason",
    );
    assert.ok(
      delta(
        "pageserver_page_service_batch_break_reason",
        onTimeline,
        'reason="same_page_at_different_lsn"',
      ) +
        delta("pageserver_page_service_batch_break_reason", onTimeline, 'reason="batch_full"') +
        delta(
          "pageserver_page_service_batch_break_reason",
          onTimeline,
          'reason="executor_steal"',
        ) >=
        1,
    );
    assert.equal(
      delta("pageserver_page_service_pagestream_batch_wait_time_seconds_count", onTimeline),
      6,
    );
    assert.ok(
      delta("pageserver_get_vectored_seconds_count", 'task_kind="PageRequestHandler"') >= 1,
    );
    assert.equal(
      value(after, "pageserver_page_service_config_max_batch_size", 'mode="pipelined"'),
      32,
    );
    assert.match(
      after,
      new RegExp(
        `pageserver_page_service_pagestream_flush_in_progress_micros\\{[^}]*${onTimeline}`,
      ),
    );
    // State gauges: the logical size at last_record_lsn, and a lease taken here counted.
    assert.ok(value(after, "pageserver_current_logical_size", onTimeline) > 0);
    assert.ok(value(after, "pageserver_visible_physical_size", onTimeline) >= 0);
    const leasesBefore = value(after, "pageserver_valid_lsn_lease_count", onTimeline);
    const leased = await node.request<{ valid_until: string }>(
      "POST",
      `/v1/tenant/${tenant}/timeline/${timelineId}/lsn_lease`,
      // An LSN no earlier test leased (a second lease at the same LSN renews the first).
      { lsn: formatLsn((timeline.lastRecordLsn - 1) as Lsn) },
    );
    assert.equal(leased.status, 200);
    assert.equal(
      value(await scrape(), "pageserver_valid_lsn_lease_count", onTimeline),
      leasesBefore + 1,
    );
    // The §12 names this process exports.
    for (const name of [
      "pageserver_smgr_query_seconds",
      "pageserver_smgr_query_seconds_global",
      "pageserver_smgr_query_started_count",
      "pageserver_smgr_query_started_global_count",
      "pageserver_page_service_batch_size",
      "pageserver_page_service_batch_break_reason",
      "pageserver_page_service_batch_break_reason_global",
      "pageserver_page_service_pagestream_batch_wait_time_seconds",
      "pageserver_page_service_pagestream_batch_wait_time_seconds_global",
      "pageserver_page_service_pagestream_flush_in_progress_micros",
      "pageserver_page_service_pagestream_flush_in_progress_micros_global",
      "pageserver_wait_lsn_seconds",
      "pageserver_get_vectored_seconds",
      "pageserver_layers_per_read",
      "pageserver_compute_commands",
      "pageserver_live_connections_started",
      "pageserver_live_connections_finished",
      "pageserver_layer_count",
      "pageserver_layer_bytes",
      "pageserver_resident_physical_size",
      "pageserver_resident_physical_size_global",
      "pageserver_timeline_ephemeral_bytes",
      "pageserver_visible_physical_size",
      "pageserver_current_logical_size",
      "pageserver_valid_lsn_lease_count",
      "pageserver_wal_redo_seconds",
      "pageserver_last_record_lsn",
      "pageserver_disk_consistent_lsn",
      "pageserver_storage_operations_seconds_global",
      "pageserver_wal_ingest_bytes_received",
      "pageserver_wal_ingest_records_received",
      "pageserver_wal_ingest_records_committed",
      "pageserver_wal_ingest_values_committed",
    ]) {
      assert.ok(after.includes(`# TYPE ${name} `), `${name} is exported`);
    }
  });

  test("concurrent clients read the same pages", async () => {
    const expected = await timeline.get(relBlockKey(HISTORY, 2), timeline.lastRecordLsn);
    await Promise.all(
      Array.from({ length: 4 }, async (_, c) => {
        const client = await openStream(port, tenant, timelineId);
        for (let i = 0; i < 50; i++) {
          client.copyData(encodePagestreamRequest(3, getPage(c * 100 + i, HISTORY, 2)));
          const reply = await response(client);
          assert.ok(reply.subarray(42).equals(expected));
        }
        client.close();
      }),
    );
  });

  test("JWT auth: the tenant's token works, another tenant's is refused, a bad token is fatal", async () => {
    const keys = jwtKeys(node.workdir);
    const authed = new PageService(node.context, [keys.publicKey]);
    const authPort = await authed.bind("127.0.0.1", 0);
    authed.startAccepting();
    try {
      const good = await openStream(
        authPort,
        tenant,
        timelineId,
        3,
        signToken(keys.privateKey, { scope: "tenant", tenant_id: tenant }),
      );
      good.copyData(encodePagestreamRequest(3, getPage(1, HISTORY, 0)));
      assert.equal((await response(good))[0], 102);
      good.close();
      const other = await RawPgClient.connect(authPort);
      other.startup();
      await other.next();
      other.password(signToken(keys.privateKey, { scope: "tenant", tenant_id: randomId() }));
      await other.until("Z");
      other.query(`pagestream_v3 ${tenant} ${timelineId}`);
      assert.match(errorMessageOf((await other.until("E")).message.body), /token is for tenant/);
      other.close();
      const bad = await RawPgClient.connect(authPort);
      bad.startup();
      await bad.next();
      bad.password("not.a.jwt");
      const fatal = await bad.until("E");
      assert.match(errorMessageOf(fatal.message.body), /authentication failed/);
      bad.close();
    } finally {
      await authed.stopAccepting();
      await authed.closeConnections();
    }
  });
});

describe("page service: requests ahead of the WAL", () => {
  let node: TestNode;
  let service: PageService;
  let port: number;
  const tenant = randomId();
  const timelineId = randomId();
  const base = `/v1/tenant/${tenant}/timeline/${timelineId}`;
  const TABLE: RelTag = { spcNode: 1663, dbNode: 5, relNode: 16384, forkNum: 0 };
  const ingest = async (transactions: number) => {
    await node.request("DELETE", `${base}/wal_source`);
    await node.request("PUT", `${base}/wal_source`, {
      kind: "generator",
      params: { workload: "uniform", size: 8, transactions, seed: 4 },
    });
  };
  const finished = () =>
    waitFor(
      async () =>
        (await node.request<{ state: string }>("GET", `${base}/wal_source`)).body.state ===
        "finished",
    );

  before(async () => {
    node = await testNode({ config: { wait_lsn_timeout: "700ms" } });
    await node.request("PUT", `/v1/tenant/${tenant}/location_config`, { mode: "AttachedSingle" });
    await node.request("POST", `/v1/tenant/${tenant}/timeline`, { new_timeline_id: timelineId });
    await ingest(50);
    await finished();
    service = new PageService(node.context, null);
    port = await service.bind("127.0.0.1", 0);
    service.startAccepting();
  });
  after(async () => {
    await service.stopAccepting();
    await service.closeConnections();
    await node.close();
  });

  test("a GetPage waits for its LSN and is served when the WAL arrives; past wait_lsn_timeout it is an Error", async () => {
    const timeline = node.context.tenants
      .get(tenant as TenantId)
      .getTimeline(timelineId as TimelineId);
    const client = await openStream(port, tenant, timelineId);
    // Far ahead: nothing will bring it within the timeout; the stream goes on afterwards.
    const far = (timeline.lastRecordLsn + 0x1000_0000) as Lsn;
    client.copyData(encodePagestreamRequest(3, getPage(1, TABLE, 0, far, far)));
    const timedOut = await response(client);
    assert.equal(timedOut[0], 103);
    assert.match(
      timedOut.toString("utf8", 25, timedOut.length - 1),
      /Timed out while waiting for WAL record at LSN .* to arrive, last_record_lsn /,
    );
    // Just ahead: sent before the WAL exists, answered once ingest passes it.
    const next = (timeline.lastRecordLsn + 8) as Lsn;
    client.copyData(encodePagestreamRequest(3, getPage(2, TABLE, 0, next, next)));
    const answered = response(client);
    await ingest(60);
    const page = await answered;
    assert.equal(page[0], 102, page[0] === 103 ? page.toString("utf8", 25) : "");
    assert.equal(page.readUInt32BE(5), 2);
    await finished();
    assert.ok(timeline.lastRecordLsn >= next);
    client.close();
  });
});
