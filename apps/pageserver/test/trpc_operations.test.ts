/**
 * The console's operations through the tRPC router (the same procedures the browser calls, on a
 * real engine): tenant reset, layer evict/download, download of every evicted layer; and that
 * they refuse as the `/v1` API does, with its messages.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { appRouter, createCallerFactory } from "@pageserver/api";
import { collectKeyspace, type TenantId, type TimelineId } from "@pageserver/engine";
import { apiContextOf } from "../src/http/trpc_plugin.ts";
import { randomId, type TestNode, testNode, waitFor } from "./helpers.ts";

const createCaller = createCallerFactory(appRouter);

describe("tRPC operations", () => {
  let node: TestNode;
  let caller: ReturnType<typeof createCaller>;
  const tenantId = randomId() as TenantId;
  const timelineId = randomId() as TimelineId;

  before(async () => {
    node = await testNode();
    caller = createCaller(apiContextOf(node.context));
    await caller.tenant.create({ tenantId });
    await caller.timeline.create({ tenantId, timelineId });
    await caller.timeline.attachGenerator({
      tenantId,
      timelineId,
      params: { workload: "uniform", size: 1, transactions: 300, seed: 9 },
    });
    await waitFor(
      async () =>
        node.context.tenants.get(tenantId).ingestLoop(timelineId)?.progress.state === "finished",
      20_000,
      "ingest",
    );
    await caller.timeline.checkpoint({ tenantId, timelineId });
  });
  after(async () => {
    await node.close();
  });

  test("evict without remote storage is refused with the /v1 message; download of a resident layer is a no-op", async () => {
    const timeline = node.context.tenants.get(tenantId).getTimeline(timelineId);
    const layer = [...timeline.layers.historicLayers()][0]!;
    await assert.rejects(caller.layerMap.evict({ tenantId, timelineId, name: layer.fileName }), {
      message: /no remote_storage is configured, the local file is its only copy/,
    });
    assert.ok(layer.resident, "a refused eviction changes nothing");
    assert.deepEqual(
      await caller.layerMap.download({ tenantId, timelineId, name: layer.fileName }),
      { downloaded: false },
    );
    await assert.rejects(caller.layerMap.evict({ tenantId, timelineId, name: "nonsense" }), {
      message: /invalid layer name 'nonsense'/,
    });
  });

  test("download of every evicted layer: nothing to do here, a task that completes", async () => {
    const first = await caller.timeline.downloadRemoteLayers({
      tenantId,
      timelineId,
      maxConcurrentDownloads: 2,
    });
    assert.equal(first.total_layer_count, 0);
    await assert.rejects(
      caller.timeline.downloadRemoteLayers({ tenantId, timelineId, maxConcurrentDownloads: 0 }),
      { message: /maxConcurrentDownloads/ },
    );
  });

  test("tenant reset keeps LSNs and pages; drop_cache is refused without remote storage", async () => {
    const before = node.context.tenants.get(tenantId).getTimeline(timelineId);
    const lsn = before.lastRecordLsn;
    const key = (await collectKeyspace(before, lsn)).ranges[0]!.start;
    const page = await before.get(key, lsn);
    const reset = await caller.tenant.reset({ tenantId });
    assert.equal(reset.tenantId, tenantId);
    const after = node.context.tenants.get(tenantId).getTimeline(timelineId);
    assert.notEqual(after, before, "a fresh timeline object, loaded from disk");
    assert.equal(after.lastRecordLsn, lsn);
    assert.ok((await after.get(key, lsn)).equals(page));
    await assert.rejects(caller.tenant.reset({ tenantId, dropCache: true }), {
      message: /no remote_storage is configured/,
    });
  });
});
