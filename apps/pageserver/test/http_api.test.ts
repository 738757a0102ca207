/**
 * Contract tests of the management API: Neon's paths, JSON shapes and status codes (reference §9),
 * and bad input answered with `{"msg": …}` and the right status, against a real engine on disk.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { formatKey, relBlockKey } from "@pageserver/engine";
import { readInitdbTar } from "../../../test/harness/shared_data.ts";
import { randomId, type TestNode, testNode, waitFor } from "./helpers.ts";

interface TimelineInfo {
  tenant_id: string;
  timeline_id: string;
  ancestor_timeline_id: string | null;
  ancestor_lsn: string | null;
  last_record_lsn: string;
  disk_consistent_lsn: string;
  applied_gc_cutoff_lsn: string;
  current_logical_size: number;
  state: unknown;
  pg_version: number;
}

const LSN = /^[0-9A-F]+\/[0-9A-F]+$/;

describe("management API", () => {
  let node: TestNode;
  const tenant = randomId();
  const timeline = randomId();

  before(async () => {
    node = await testNode();
  });
  after(async () => {
    await node.close();
  });

  const ingestFinished = (base: string) =>
    waitFor(
      async () =>
        (await node.request<{ state: string }>("GET", `${base}/wal_source`)).body.state ===
        "finished",
      20_000,
      "ingest",
    );

  /** A new tenant with one timeline fed `transactions` by the generator (finished). */
  const fedTenant = async (transactions: number, seed: number) => {
    const tenantId = randomId();
    const timelineId = randomId();
    await node.request("PUT", `/v1/tenant/${tenantId}/location_config`, { mode: "AttachedSingle" });
    const created = await node.request("POST", `/v1/tenant/${tenantId}/timeline`, {
      new_timeline_id: timelineId,
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const base = `/v1/tenant/${tenantId}/timeline/${timelineId}`;
    await node.request("PUT", `${base}/wal_source`, {
      kind: "generator",
      params: { workload: "uniform", size: 1, transactions, seed },
    });
    await ingestFinished(base);
    return { tenantId, base };
  };

  test("status and utilization", async () => {
    assert.deepEqual((await node.request("GET", "/v1/status")).body, { id: 7 });
    const { status, body } = await node.request<Record<string, unknown>>("GET", "/v1/utilization");
    assert.equal(status, 200);
    for (const field of [
      "disk_usage_bytes",
      "free_space_bytes",
      "disk_wanted_bytes",
      "shard_count",
      "utilization_score",
      "captured_at",
    ]) {
      assert.ok(field in body, field);
    }
  });

  test("tenant create, list, detail and config", async () => {
    const created = await node.request("PUT", `/v1/tenant/${tenant}/location_config`, {
      mode: "AttachedSingle",
      tenant_conf: { gc_period: "30s" },
    });
    assert.equal(created.status, 200);
    assert.deepEqual(created.body, {
      shards: [{ shard_id: tenant, node_id: 7 }],
      stripe_size: null,
    });
    const list = await node.request<Array<Record<string, unknown>>>("GET", "/v1/tenant");
    assert.deepEqual(list.body[0], {
      id: tenant,
      state: { slug: "Active" },
      current_physical_size: 0,
      attachment_status: { slug: "attached" },
      generation: 1,
    });
    const config = await node.request<{
      tenant_specific_overrides: Record<string, unknown>;
      effective_config: Record<string, unknown>;
    }>("GET", `/v1/tenant/${tenant}/config`);
    assert.deepEqual(config.body.tenant_specific_overrides, { gc_period: "30s" });
    assert.equal(config.body.effective_config.gc_period, "30s");
    assert.equal(config.body.effective_config.checkpoint_distance, 268435456);
    assert.equal(
      (
        await node.request("PATCH", "/v1/tenant/config", {
          tenant_id: tenant,
          pitr_interval: "1h",
          gc_period: null,
        })
      ).status,
      200,
    );
    const patched = await node.request<{ tenant_specific_overrides: Record<string, unknown> }>(
      "GET",
      `/v1/tenant/${tenant}/config`,
    );
    assert.deepEqual(patched.body.tenant_specific_overrides, { pitr_interval: "1h" });
    assert.equal(
      (
        await node.request("PUT", "/v1/tenant/config", {
          tenant_id: tenant,
          compaction_threshold: 4,
        })
      ).status,
      200,
    );
    const replaced = await node.request<{ tenant_specific_overrides: Record<string, unknown> }>(
      "GET",
      `/v1/tenant/${tenant}/config`,
    );
    assert.deepEqual(replaced.body.tenant_specific_overrides, { compaction_threshold: 4 });
  });

  test("timeline create, detail, list, idempotency and conflicts", async () => {
    const created = await node.request<TimelineInfo>("POST", `/v1/tenant/${tenant}/timeline`, {
      new_timeline_id: timeline,
      pg_version: 15,
    });
    assert.equal(created.status, 201);
    assert.equal(created.body.timeline_id, timeline);
    assert.equal(created.body.ancestor_timeline_id, null);
    assert.equal(created.body.ancestor_lsn, null);
    assert.match(created.body.last_record_lsn, LSN);
    assert.equal(created.body.state, "Active");
    for (const field of [
      "prev_record_lsn",
      "min_readable_lsn",
      "remote_consistent_lsn",
      "initdb_lsn",
      "current_physical_size",
      "walreceiver_status",
      "is_archived",
    ]) {
      assert.ok(field in created.body, field);
    }
    assert.equal(
      (await node.request("POST", `/v1/tenant/${tenant}/timeline`, { new_timeline_id: timeline }))
        .status,
      201,
      "same parameters: idempotent",
    );
    const conflict = await node.request<{ msg: string }>("POST", `/v1/tenant/${tenant}/timeline`, {
      new_timeline_id: timeline,
      ancestor_timeline_id: randomId(),
    });
    assert.equal(conflict.status, 409);
    assert.match(conflict.body.msg, /already exists with different parameters/);
    const list = await node.request<TimelineInfo[]>("GET", `/v1/tenant/${tenant}/timeline`);
    assert.deepEqual(
      list.body.map((t) => t.timeline_id),
      [timeline],
    );
    assert.equal(
      (await node.request<TimelineInfo>("GET", `/v1/tenant/${tenant}/timeline/${timeline}`)).body
        .pg_version,
      15,
    );
  });

  test("ingest through the generator, then layers, keyspace, checkpoint, compact, gc, leases", async () => {
    const base = `/v1/tenant/${tenant}/timeline/${timeline}`;
    const attach = await node.request<{ description: string }>("PUT", `${base}/wal_source`, {
      kind: "generator",
      params: { workload: "pgbench", size: 1, transactions: 500, seed: 3 },
    });
    assert.equal(attach.status, 200, JSON.stringify(attach.body));
    await ingestFinished(base);
    assert.equal((await node.request("PUT", `${base}/checkpoint`)).status, 200);
    const info = (await node.request<TimelineInfo>("GET", base)).body;
    assert.equal(info.disk_consistent_lsn, info.last_record_lsn);
    assert.ok(info.current_logical_size > 0);
    const layers = await node.request<{
      in_memory_layers: unknown[];
      historic_layers: Array<Record<string, unknown>>;
    }>("GET", `${base}/layer`);
    assert.ok(layers.body.historic_layers.length >= 1);
    const delta = layers.body.historic_layers[0]!;
    assert.equal(delta.kind, "Delta");
    assert.equal(delta.l0, true);
    for (const field of [
      "layer_file_name",
      "layer_file_size",
      "lsn_start",
      "lsn_end",
      "remote",
      "access_stats",
    ])
      assert.ok(field in delta, field);
    const keyspace = await node.request<{ at_lsn: string; keys: string[][] }>(
      "GET",
      `${base}/keyspace`,
    );
    assert.equal(keyspace.body.at_lsn, info.last_record_lsn);
    assert.ok(keyspace.body.keys.length > 0);
    assert.match(keyspace.body.keys[0]![0]!, /^[0-9A-F]{36}$/);
    assert.equal(
      (await node.request("PUT", `${base}/compact?force_image_layer_creation=true`)).status,
      200,
    );
    const afterCompact = await node.request<{ historic_layers: Array<{ kind: string }> }>(
      "GET",
      `${base}/layer`,
    );
    assert.ok(
      afterCompact.body.historic_layers.some((l) => l.kind === "Image"),
      "forced image layer creation",
    );
    const gc = await node.request<Record<string, unknown>>("PUT", `${base}/do_gc`, {
      gc_horizon: 0,
    });
    assert.equal(gc.status, 200);
    for (const field of [
      "layers_total",
      "layers_needed_by_cutoff",
      "layers_needed_by_pitr",
      "layers_needed_by_branches",
      "layers_needed_by_leases",
      "layers_not_updated",
      "layers_removed",
      "elapsed",
    ]) {
      assert.equal(typeof gc.body[field], "number", field);
    }
    const lease = await node.request<{ valid_until: string }>("POST", `${base}/lsn_lease`, {
      lsn: info.last_record_lsn,
    });
    assert.equal(lease.status, 200);
    assert.ok(Date.parse(lease.body.valid_until) > Date.now());
    const levels = await node.request<unknown[]>("GET", `${base}/levels`);
    assert.equal(levels.status, 200);
    const byTime = await node.request<{ kind: string; lsn: string }>(
      "GET",
      `${base}/get_lsn_by_timestamp?timestamp=${encodeURIComponent(new Date(Date.now() + 86_400_000).toISOString())}`,
    );
    assert.equal(byTime.body.kind, "future");
    const past = await node.request<{ kind: string }>(
      "GET",
      `${base}/get_lsn_by_timestamp?timestamp=2001-01-01T00:00:00Z`,
    );
    assert.equal(past.body.kind, "past");
  });

  test("download_remote_layers: 404 before any task, 400 on a bad body, 202 with Neon's task info", async () => {
    const base = `/v1/tenant/${tenant}/timeline/${timeline}/download_remote_layers`;
    const before = await node.request<{ msg: string }>("GET", base);
    assert.equal(before.status, 404);
    assert.equal(before.body.msg, "task never started since last pageserver process start");
    for (const body of [{}, { max_concurrent_downloads: 0 }, { max_concurrent_downloads: "8" }]) {
      const bad = await node.request<{ msg: string }>("POST", base, body);
      assert.equal(bad.status, 400, JSON.stringify(body));
      assert.match(bad.body.msg, /max_concurrent_downloads/);
    }
    const started = await node.request<Record<string, unknown>>("POST", base, {
      max_concurrent_downloads: 4,
    });
    assert.equal(started.status, 202);
    assert.deepEqual(Object.keys(started.body).sort(), [
      "failed_download_count",
      "state",
      "successful_download_count",
      "task_id",
      "total_layer_count",
    ]);
    // Every layer is resident here (no remote storage): the task has nothing to do.
    assert.equal(started.body.total_layer_count, 0);
    await waitFor(
      async () => (await node.request<{ state: string }>("GET", base)).body.state === "Completed",
      10_000,
      "the download task ends",
    );
    const ended = await node.request<Record<string, unknown>>("GET", base);
    assert.equal(ended.body.task_id, started.body.task_id);
  });

  test("branches: below the GC cutoff 406, delete with children 412, delete 202", async () => {
    const base = `/v1/tenant/${tenant}/timeline`;
    const parent = (await node.request<TimelineInfo>("GET", `${base}/${timeline}`)).body;
    const below = await node.request<{ msg: string }>("POST", base, {
      new_timeline_id: randomId(),
      ancestor_timeline_id: timeline,
      ancestor_start_lsn: "0/1000100",
    });
    if (parent.applied_gc_cutoff_lsn !== "0/0") {
      assert.equal(below.status, 406, JSON.stringify(below.body));
      assert.match(below.body.msg, /less than (latest|planned) GC cutoff/);
    }
    const child = randomId();
    const branched = await node.request<TimelineInfo>("POST", base, {
      new_timeline_id: child,
      ancestor_timeline_id: timeline,
    });
    assert.equal(branched.status, 201);
    assert.equal(branched.body.ancestor_lsn, parent.last_record_lsn);
    const refused = await node.request<{ msg: string }>("DELETE", `${base}/${timeline}`);
    assert.equal(refused.status, 412);
    assert.match(refused.body.msg, /child timelines/);
    assert.equal((await node.request("DELETE", `${base}/${child}`)).status, 202);
    assert.equal((await node.request("GET", `${base}/${child}`)).status, 404);
  });

  test("bad input: malformed ids, JSON, LSNs, unknown objects and fields", async () => {
    const cases: Array<[string, string, unknown, number, RegExp]> = [
      ["GET", "/v1/tenant/not-a-tenant", undefined, 400, /invalid tenant (shard )?id/],
      ["GET", `/v1/tenant/${randomId()}`, undefined, 404, /not found/],
      [
        "GET",
        `/v1/tenant/${tenant}/timeline/${randomId()}`,
        undefined,
        404,
        /timeline .* not found/,
      ],
      ["GET", `/v1/tenant/${tenant}/timeline/XYZ`, undefined, 400, /invalid timeline id/],
      ["POST", `/v1/tenant/${tenant}/timeline`, "{not json", 400, /malformed JSON/],
      [
        "POST",
        `/v1/tenant/${tenant}/timeline`,
        { new_timeline_id: "short" },
        400,
        /new_timeline_id/,
      ],
      [
        "POST",
        `/v1/tenant/${tenant}/timeline`,
        {
          new_timeline_id: randomId(),
          ancestor_timeline_id: timeline,
          ancestor_start_lsn: "12345",
        },
        400,
        /invalid LSN '12345'/,
      ],
      [
        "POST",
        `/v1/tenant/${tenant}/timeline`,
        { new_timeline_id: randomId(), surprise: 1 },
        400,
        /surprise/,
      ],
      [
        "POST",
        `/v1/tenant/${tenant}/timeline/${timeline}/lsn_lease`,
        { lsn: "nope" },
        400,
        /invalid LSN/,
      ],
      ["PUT", `/v1/tenant/${tenant}/location_config`, { mode: "Sideways" }, 400, /mode/],
      [
        "PATCH",
        "/v1/tenant/config",
        { tenant_id: tenant, checkpoint_distance: "big" },
        400,
        /checkpoint_distance/,
      ],
      [
        "PUT",
        `/v1/tenant/${tenant}/timeline/${timeline}/wal_source`,
        { kind: "generator", params: { workload: "oltp" } },
        400,
        /workload/,
      ],
      ["GET", "/v1/nothing/here", undefined, 404, /no route/],
    ];
    for (const [method, url, body, status, message] of cases) {
      const response = await node.request<{ msg: string }>(method, url, body);
      assert.equal(response.status, status, `${method} ${url}: ${JSON.stringify(response.body)}`);
      assert.match(response.body.msg, message, `${method} ${url}`);
    }
  });

  test("metrics carry Neon's names", async () => {
    const response = await node.app.inject({ method: "GET", url: "/metrics" });
    for (const name of [
      "pageserver_last_record_lsn",
      "pageserver_disk_consistent_lsn",
      "pageserver_layer_count",
      "pageserver_layer_bytes",
      "pageserver_resident_physical_size",
      "pageserver_wal_ingest_records_received",
      "pageserver_wal_ingest_bytes_received",
    ]) {
      assert.match(response.body, new RegExp(`^${name}`, "m"), name);
    }
  });

  test("tenant reset: loaded again with the same LSNs and pages; drop_cache needs remote storage", async () => {
    const { tenantId: other, base } = await fedTenant(200, 5);
    const before = (await node.request<TimelineInfo>("GET", base)).body;
    const keyspace = await node.request<{ keys: string[][] }>("GET", `${base}/keyspace`);
    const key = keyspace.body.keys[0]![0]!;
    const page = async () =>
      (
        await node.app.inject({
          method: "GET",
          url: `${base}/getpage?key=${key}&lsn=${before.last_record_lsn}`,
        })
      ).rawPayload;
    const pageBefore = await page();

    const reset = await node.request("POST", `/v1/tenant/${other}/reset`);
    assert.equal(reset.status, 200, JSON.stringify(reset.body));
    const after = (await node.request<TimelineInfo>("GET", base)).body;
    assert.equal(after.last_record_lsn, before.last_record_lsn);
    assert.equal(after.disk_consistent_lsn, before.last_record_lsn, "reset flushed open layers");
    assert.ok((await page()).equals(pageBefore));

    const dropCache = await node.request<{ msg: string }>(
      "POST",
      `/v1/tenant/${other}/reset?drop_cache=true`,
    );
    assert.equal(dropCache.status, 400);
    assert.match(dropCache.body.msg, /no remote_storage is configured/);
    assert.equal((await node.request("GET", base)).status, 200, "a refused reset changes nothing");
    const unknown = await node.request<{ msg: string }>("POST", `/v1/tenant/${randomId()}/reset`);
    assert.equal(unknown.status, 404);
    const badQuery = await node.request<{ msg: string }>(
      "POST",
      `/v1/tenant/${other}/reset?drop_cache=maybe`,
    );
    assert.equal(badQuery.status, 400);
  });

  test("block_gc / unblock_gc: GC is skipped while blocked, the block survives a reset, both are idempotent", async () => {
    const { tenantId: other, base } = await fedTenant(100, 2);
    await node.request("PUT", `${base}/checkpoint`);
    const tenantDetail = async () =>
      (await node.request<{ gc_blocking?: string }>("GET", `/v1/tenant/${other}`)).body;
    assert.equal((await tenantDetail()).gc_blocking, undefined, "not blocked: field omitted");

    for (let i = 0; i < 2; i++)
      assert.equal((await node.request("POST", `${base}/block_gc`)).status, 200);
    assert.equal(
      (await tenantDetail()).gc_blocking,
      "BlockingReasons { timelines: 1, reasons: EnumSet(Manual) }",
    );
    const blocked = await node.request<{ layers_total: number }>("PUT", `${base}/do_gc`, {
      gc_horizon: 0,
    });
    assert.equal(blocked.status, 200);
    assert.equal(blocked.body.layers_total, 0, "GC did not look at a layer");
    assert.equal((await node.request("POST", `/v1/tenant/${other}/reset`)).status, 200);
    assert.match((await tenantDetail()).gc_blocking ?? "", /Manual/, "durable across a reload");

    for (let i = 0; i < 2; i++)
      assert.equal((await node.request("POST", `${base}/unblock_gc`)).status, 200);
    assert.equal((await tenantDetail()).gc_blocking, undefined);
    const ran = await node.request<{ layers_total: number }>("PUT", `${base}/do_gc`, {
      gc_horizon: 0,
    });
    assert.ok(ran.body.layers_total > 0, "GC runs again");
    assert.equal(
      (await node.request("POST", `/v1/tenant/${other}/timeline/${randomId()}/block_gc`)).status,
      404,
    );
  });

  test("archival_config: children first, ancestor last, 412 naming the obstacle, durable, is_archived", async () => {
    const other = randomId();
    const parent = randomId();
    const child = randomId();
    await node.request("PUT", `/v1/tenant/${other}/location_config`, { mode: "AttachedSingle" });
    await node.request("POST", `/v1/tenant/${other}/timeline`, { new_timeline_id: parent });
    const branched = await node.request("POST", `/v1/tenant/${other}/timeline`, {
      new_timeline_id: child,
      ancestor_timeline_id: parent,
    });
    assert.equal(branched.status, 201, JSON.stringify(branched.body));
    const archival = (tl: string, state: string) =>
      node.request<{ msg: string }>("PUT", `/v1/tenant/${other}/timeline/${tl}/archival_config`, {
        state,
      });
    const isArchived = async (tl: string) =>
      (await node.request<{ is_archived: boolean }>("GET", `/v1/tenant/${other}/timeline/${tl}`))
        .body.is_archived;

    const refused = await archival(parent, "Archived");
    assert.equal(refused.status, 412);
    assert.match(refused.body.msg, new RegExp(`unarchived child timelines ${child}`));
    assert.equal(await isArchived(parent), false);
    assert.equal((await archival(child, "Archived")).status, 200);
    assert.equal((await archival(child, "Archived")).status, 200, "idempotent");
    assert.equal((await archival(parent, "Archived")).status, 200);
    assert.equal(await isArchived(parent), true);
    const fromArchived = await node.request<{ msg: string }>(
      "POST",
      `/v1/tenant/${other}/timeline`,
      {
        new_timeline_id: randomId(),
        ancestor_timeline_id: parent,
      },
    );
    assert.equal(fromArchived.status, 406);
    assert.match(
      fromArchived.body.msg,
      new RegExp(`cannot branch from timeline ${parent}: it is archived`),
    );
    const orphan = await archival(child, "Unarchived");
    assert.equal(orphan.status, 412);
    assert.match(orphan.body.msg, new RegExp(`its ancestor ${parent} is archived`));

    assert.equal((await node.request("POST", `/v1/tenant/${other}/reset`)).status, 200);
    assert.equal(await isArchived(child), true, "durable across a reload");
    assert.equal((await archival(parent, "Unarchived")).status, 200);
    assert.equal((await archival(child, "Unarchived")).status, 200);
    assert.equal(await isArchived(child), false);
    const bad = await archival(child, "Frozen");
    assert.equal(bad.status, 400);
    assert.match(bad.body.msg, /state/);
  });

  test("import_pgdata (LocalFs): a timeline from a real initdb, its pages equal the files; a bad source leaves nothing", async () => {
    const scratch = mkdtempSync(path.join(tmpdir(), "import-pgdata-"));
    try {
      const tarFile = path.join(scratch, "initdb.tar");
      writeFileSync(tarFile, readInitdbTar());
      const datadir = path.join(scratch, "datadir");
      mkdirSync(datadir);
      execFileSync("tar", ["-xf", tarFile, "-C", datadir]);
      const other = randomId();
      await node.request("PUT", `/v1/tenant/${other}/location_config`, { mode: "AttachedSingle" });
      const create = (id: string, location: unknown) =>
        node.request<TimelineInfo & { msg: string }>("POST", `/v1/tenant/${other}/timeline`, {
          new_timeline_id: id,
          import_pgdata: { idempotency_key: id, location },
        });

      const tl = randomId();
      const created = await create(tl, { LocalFs: { path: tarFile } });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      assert.equal(created.body.disk_consistent_lsn, created.body.last_record_lsn);
      // pg_class of the postgres database (1663/5/1259), block 0, as PostgreSQL wrote it.
      const key = formatKey(
        relBlockKey({ spcNode: 1663, dbNode: 5, relNode: 1259, forkNum: 0 }, 0),
      );
      const page = await node.app.inject({
        method: "GET",
        url: `/v1/tenant/${other}/timeline/${tl}/getpage?key=${key}&lsn=${created.body.last_record_lsn}`,
      });
      assert.equal(page.statusCode, 200);
      assert.ok(
        page.rawPayload.equals(readFileSync(path.join(datadir, "base/5/1259")).subarray(0, 8192)),
      );
      // The same from the directory, into a second timeline.
      const fromDir = await create(randomId(), { LocalFs: { path: datadir } });
      assert.equal(fromDir.status, 201, JSON.stringify(fromDir.body));
      assert.equal(fromDir.body.last_record_lsn, created.body.last_record_lsn);

      const again = await create(tl, { LocalFs: { path: tarFile } });
      assert.equal(again.status, 409);
      const s3 = await create(randomId(), { AwsS3: { bucket: "b", key: "k" } });
      assert.equal(s3.status, 400);
      assert.match(s3.body.msg, /only a LocalFs location/);
      const missing = await create(randomId(), { LocalFs: { path: path.join(scratch, "nope") } });
      assert.equal(missing.status, 400);
      assert.match(missing.body.msg, /cannot read/);
      truncateSync(path.join(datadir, "base/5/1259"), 8192 + 100);
      const broken = randomId();
      const damaged = await create(broken, { LocalFs: { path: datadir } });
      assert.equal(damaged.status, 400);
      assert.match(damaged.body.msg, /base\/5\/1259/);
      assert.equal(
        (await node.request("GET", `/v1/tenant/${other}/timeline/${broken}`)).status,
        404,
        "a failed import leaves no timeline",
      );
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  });

  test("tenant delete and detach", async () => {
    const other = randomId();
    await node.request("PUT", `/v1/tenant/${other}/location_config`, { mode: "AttachedSingle" });
    assert.equal(
      (await node.request("PUT", `/v1/tenant/${other}/location_config`, { mode: "Detached" }))
        .status,
      200,
    );
    assert.equal((await node.request("GET", `/v1/tenant/${other}`)).status, 404);
    assert.equal(
      (await node.request("PUT", `/v1/tenant/${other}/location_config`, { mode: "Detached" }))
        .status,
      200,
      "idempotent",
    );
    assert.equal((await node.request("DELETE", `/v1/tenant/${tenant}`)).status, 200);
    assert.equal((await node.request("GET", `/v1/tenant/${tenant}`)).status, 404);
  });
});
