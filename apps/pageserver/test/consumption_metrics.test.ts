/**
 * Consumption metrics against a real HTTP server on a real socket: Neon's event shapes and
 * metric names with values that match the timeline; deltas that chain from one round to the
 * next; failed uploads kept on disk and re-sent with their original idempotency keys, also by a
 * new collector (a restart); 4xx rejections dropped; and the task running inside a pageserver
 * process when `metric_collection_endpoint` is configured.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { currentLogicalSize } from "@pageserver/api";
import type { TenantId, Timeline, TimelineId } from "@pageserver/engine";
import pino from "pino";
import { removeWorkdir, startPageserver } from "../../../test/harness/pageserver_process.ts";
import {
  CONSUMPTION_METRICS_FILE,
  type ConsumptionEvent,
  ConsumptionMetrics,
} from "../src/tasks/consumption_metrics.ts";
import { randomId, type TestNode, testNode, waitFor } from "./helpers.ts";

/** An HTTP endpoint standing in for the metrics collector: records bodies, answers `status`. */
class MetricsEndpoint {
  readonly bodies: Array<{ events: ConsumptionEvent[] }> = [];
  readonly contentTypes: string[] = [];
  status = 200;
  private readonly server: Server;
  url = "";

  constructor() {
    this.server = createServer((request, response) => {
      let body = "";
      request.on("data", (chunk) => {
        body += chunk;
      });
      request.on("end", () => {
        if (request.method === "POST" && this.status < 300) {
          this.bodies.push(JSON.parse(body));
          this.contentTypes.push(request.headers["content-type"] ?? "");
        }
        response.writeHead(this.status).end();
      });
    });
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    const { port } = this.server.address() as { port: number };
    this.url = `http://127.0.0.1:${port}/billing/api/v1/usage_events`;
  }

  events(): ConsumptionEvent[] {
    return this.bodies.flatMap((body) => body.events);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

const silent = pino({ level: "silent" });

async function ingest(node: TestNode, tenant: string, timeline: string, transactions: number) {
  const base = `/v1/tenant/${tenant}/timeline/${timeline}`;
  await node.request("DELETE", `${base}/wal_source`);
  const attached = await node.request("PUT", `${base}/wal_source`, {
    kind: "generator",
    params: { workload: "uniform", size: 50, transactions, seed: 3 },
  });
  assert.equal(attached.status, 200, JSON.stringify(attached.body));
  await waitFor(
    async () =>
      (await node.request<{ state: string }>("GET", `${base}/wal_source`)).body.state ===
      "finished",
  );
}

function byMetric(events: ConsumptionEvent[], metric: string): ConsumptionEvent[] {
  return events.filter((event) => event.metric === metric);
}

describe("consumption metrics", () => {
  let node: TestNode;
  let endpoint: MetricsEndpoint;
  let timeline: Timeline;
  const tenant = randomId();
  const timelineId = randomId();

  before(async () => {
    node = await testNode();
    endpoint = new MetricsEndpoint();
    await endpoint.start();
    await node.request("PUT", `/v1/tenant/${tenant}/location_config`, { mode: "AttachedSingle" });
    await node.request("POST", `/v1/tenant/${tenant}/timeline`, { new_timeline_id: timelineId });
    await ingest(node, tenant, timelineId, 100);
    await node.request("PUT", `/v1/tenant/${tenant}/timeline/${timelineId}/checkpoint`);
    timeline = node.context.tenants.get(tenant as TenantId).getTimeline(timelineId as TimelineId);
  });
  after(async () => {
    await endpoint.close();
    await node.close();
  });

  const collector = () =>
    new ConsumptionMetrics({
      endpoint: endpoint.url,
      intervalMs: 60_000,
      nodeId: 7,
      workdir: node.workdir,
      tenants: node.context.tenants,
      log: silent,
    });

  test("events have Neon's shape, names and values; deltas chain between rounds", async () => {
    const metrics = collector();
    const first = await metrics.runOnce(new AbortController().signal);
    assert.equal(first.pending, 0);
    assert.equal(first.sent, first.collected);
    assert.equal(endpoint.contentTypes[0], "application/json");
    const events = endpoint.events();
    assert.deepEqual([...new Set(events.map((event) => event.metric))].sort(), [
      "remote_storage_size",
      "resident_size",
      "timeline_logical_size",
      "written_data_bytes_delta",
      "written_size",
    ]);
    for (const event of events) {
      assert.equal(event.tenant_id, tenant);
      assert.match(event.idempotency_key, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+ UTC-7-\d+$/);
      const tenantLevel = ["remote_storage_size", "resident_size"].includes(event.metric);
      assert.equal(event.timeline_id, tenantLevel ? undefined : timelineId, event.metric);
      assert.equal("timeline_id" in event, !tenantLevel, "tenant events carry no timeline_id");
      if (event.metric === "written_data_bytes_delta") {
        assert.equal(event.type, "incremental");
        assert.ok("start_time" in event && "stop_time" in event);
      } else {
        assert.equal(event.type, "absolute");
        assert.ok("time" in event && !Number.isNaN(Date.parse(event.time)));
      }
    }
    const keys = events.map((event) => event.idempotency_key);
    assert.equal(new Set(keys).size, keys.length, "idempotency keys are unique");
    const [written] = byMetric(events, "written_size");
    assert.equal(written!.value, timeline.lastRecordLsn);
    const [logical] = byMetric(events, "timeline_logical_size");
    assert.ok(logical!.value > 0);
    assert.equal(logical!.value, await currentLogicalSize(timeline));
    const [resident] = byMetric(events, "resident_size");
    assert.equal(resident!.value, timeline.residentPhysicalSize());
    assert.ok(resident!.value > 0);
    const [remote] = byMetric(events, "remote_storage_size");
    assert.equal(remote!.value, 0, "no remote storage in this node");

    // More WAL, a second round: the delta is exactly the WAL written in between and its time
    // range starts where the previous one stopped.
    const before = timeline.lastRecordLsn;
    const [firstDelta] = byMetric(events, "written_data_bytes_delta");
    await ingest(node, tenant, timelineId, 200);
    assert.ok(timeline.lastRecordLsn > before);
    endpoint.bodies.length = 0;
    await metrics.runOnce(new AbortController().signal);
    const second = endpoint.events();
    const [delta] = byMetric(second, "written_data_bytes_delta");
    assert.equal(delta!.value, timeline.lastRecordLsn - before);
    assert.ok(delta!.type === "incremental" && firstDelta!.type === "incremental");
    assert.equal(delta!.start_time, firstDelta!.stop_time);
    assert.equal(byMetric(second, "written_size")[0]!.value, timeline.lastRecordLsn);
  });

  test("failed uploads stay on disk and are re-sent with the same keys, also after a restart", async () => {
    endpoint.bodies.length = 0;
    endpoint.status = 503;
    const failing = collector();
    const failed = await failing.runOnce(new AbortController().signal);
    assert.equal(failed.sent, 0);
    assert.equal(failed.pending, failed.collected);
    const file = path.join(node.workdir, CONSUMPTION_METRICS_FILE);
    assert.ok(existsSync(file));
    const onDisk = JSON.parse(readFileSync(file, "utf8")) as { pending: ConsumptionEvent[] };
    const unsentKeys = onDisk.pending.map((event) => event.idempotency_key);
    assert.equal(unsentKeys.length, failed.pending);

    // A new collector (as after a restart) finds them and sends them before its own.
    endpoint.status = 200;
    const restarted = collector();
    assert.equal(restarted.pendingEvents.length, unsentKeys.length);
    const round = await restarted.runOnce(new AbortController().signal);
    assert.equal(round.pending, 0);
    const delivered = endpoint.events().map((event) => event.idempotency_key);
    assert.deepEqual(delivered.slice(0, unsentKeys.length), unsentKeys);
    assert.equal(delivered.length, unsentKeys.length + round.collected);
    const stored = JSON.parse(readFileSync(file, "utf8")) as { pending: ConsumptionEvent[] };
    assert.deepEqual(stored.pending, []);
  });

  test("a 4xx answer is a rejection: the events are dropped, not retried", async () => {
    endpoint.bodies.length = 0;
    endpoint.status = 400;
    const metrics = collector();
    const rejected = await metrics.runOnce(new AbortController().signal);
    assert.equal(rejected.rejected, rejected.collected);
    assert.equal(rejected.pending, 0);
    endpoint.status = 200;
    const next = await metrics.runOnce(new AbortController().signal);
    assert.equal(endpoint.events().length, next.collected, "nothing of the rejected round");
  });
});

describe("consumption metrics in the pageserver process", () => {
  test("metric_collection_endpoint set: events for our timeline arrive every interval", async () => {
    const endpoint = new MetricsEndpoint();
    await endpoint.start();
    const server = await startPageserver({
      config: { metric_collection_endpoint: endpoint.url, metric_collection_interval: "1s" },
    });
    try {
      const tenant = randomId();
      const timeline = randomId();
      await server.api("PUT", `/v1/tenant/${tenant}/location_config`, { mode: "AttachedSingle" });
      await server.api("POST", `/v1/tenant/${tenant}/timeline`, { new_timeline_id: timeline });
      const tasks = await server.api<Array<{ kind: string }>>("GET", "/v1/tasks");
      assert.ok(tasks.body.some((task) => task.kind === "consumption_metrics"));
      await waitFor(
        () =>
          endpoint.events().some((e) => e.metric === "written_size" && e.timeline_id === timeline),
        20_000,
        "a written_size event for the new timeline",
      );
      // At least two rounds with our tenant: the interval is honoured and the task keeps going.
      await waitFor(
        () =>
          endpoint.bodies.filter((body) => body.events.some((e) => e.tenant_id === tenant))
            .length >= 2,
        20_000,
        "a second round",
      );
    } finally {
      assert.equal(await server.stop("SIGTERM"), 0);
      removeWorkdir(server.workdir);
      await endpoint.close();
    }
  });
});
