/**
 * The console end to end: two real pageserver processes, the built console (`next start`) with
 * both in its fleet, and Debian's Chromium clicking through it. Every number the page shows is
 * checked against the pageserver's own API, and every failure path checks that the page shows
 * the server's message, not a generic one. Screenshots land in artifacts/console-*.png.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { formatLsn, type Lsn } from "@pageserver/engine";
import { type BrowserSession, launchBrowser } from "../harness/browser.ts";
import { type ConsoleHandle, freePort, startConsole } from "../harness/console_process.ts";
import {
  type PageserverHandle,
  removeWorkdir,
  startPageserver,
} from "../harness/pageserver_process.ts";
import { dataOf, driveGetPages, randomId, textMatching, trpcClient, waitFor } from "./support.ts";

const VISIBLE = { state: "visible" as const, timeout: 60_000 };

describe("console", () => {
  let ps1: PageserverHandle;
  let ps2: PageserverHandle;
  let web: ConsoleHandle;
  let browser: BrowserSession;

  before(async () => {
    [ps1, ps2] = await Promise.all([
      startPageserver({ nodeId: 1 }),
      startPageserver({ nodeId: 2 }),
    ]);
    web = await startConsole({ pageservers: { ps1: ps1.httpUrl, ps2: ps2.httpUrl } });
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await web?.stop();
    for (const ps of [ps1, ps2]) {
      if (!ps) continue;
      await ps.stop("SIGTERM");
      removeWorkdir(ps.workdir);
    }
  });

  const at = (route: string) => `${web.url}${route}`;

  test("the fleet page shows both pageservers with their health and counts; one can be added and removed", async () => {
    const page = browser.page;
    const tenant = randomId();
    await ps2.api("PUT", `/v1/tenant/${tenant}/location_config`, { mode: "AttachedSingle" });
    await page.goto(at("/"));
    for (const [name, expectedTenants] of [
      ["ps1", 0],
      ["ps2", 1],
    ] as const) {
      const card = page.getByTestId(`node-card-${name}`);
      await page.locator(`[data-testid=node-card-${name}][data-health=up]`).waitFor(VISIBLE);
      await waitFor(`${name}'s tenant count`, async () =>
        (await card.getByTestId("tenant-count").textContent())?.trim() === String(expectedTenants)
          ? true
          : undefined,
      );
      assert.equal((await card.getByTestId("timeline-count").textContent())?.trim(), "0");
      // Disk usage against the eviction thresholds, GetPage p50/p99 and the ingest rate.
      await card.getByTestId("disk-usage").waitFor(VISIBLE);
      const text = (await card.textContent()) ?? "";
      assert.match(text, /GetPage p50 \/ p99/);
      assert.match(text, /ingest/);
      assert.match(text, /disk .* of .*%/);
    }

    // Added from the UI: a pageserver nobody listens for shows as unreachable, with the reason.
    const closedPort = await freePort();
    await page.getByTestId("add-node-name").fill("ps3");
    await page.getByTestId("add-node-url").fill(`http://127.0.0.1:${closedPort}`);
    await page.getByTestId("add-node-submit").click();
    await page.getByTestId("add-node-ok").waitFor(VISIBLE);
    await page.locator("[data-testid=node-card-ps3][data-health=down]").waitFor(VISIBLE);
    assert.match(
      (await page.getByTestId("node-card-ps3").getByRole("alert").textContent()) ?? "",
      new RegExp(`pageserver ps3 \\(http://127.0.0.1:${closedPort}\\) is unreachable`),
    );
    await browser.screenshot("console-fleet");

    // Bad input gets the registry's own message.
    await page.getByTestId("add-node-name").fill("ps1");
    await page.getByTestId("add-node-url").fill(ps1.httpUrl);
    await page.getByTestId("add-node-submit").click();
    await textMatching(page.getByTestId("add-node-error"), "a pageserver named 'ps1' exists");
    await page.getByTestId("add-node-name").fill("ps4");
    await page.getByTestId("add-node-url").fill("ftp://example.com");
    await page.getByTestId("add-node-submit").click();
    await textMatching(
      page.getByTestId("add-node-error"),
      /url: expected an http:\/\/ or https:\/\/ URL/,
    );

    await page.getByTestId("node-card-ps3").getByRole("button", { name: "remove" }).click();
    await page.getByTestId("node-card-ps3").waitFor({ state: "detached", timeout: 30_000 });
    assert.deepEqual(
      (
        (await (await fetch(at("/api/fleet"))).json()) as { pageservers: { name: string }[] }
      ).pageservers
        .map((p) => p.name)
        .sort(),
      ["ps1", "ps2"],
    );
  });

  test("a tenant, a timeline and a branch created through the UI appear", async () => {
    const page = browser.page;
    const tenant = randomId();
    const timeline = randomId();
    await page.goto(at("/ps/ps1"));
    await page.getByTestId("create-tenant-id").fill(tenant);
    await page.getByTestId("create-tenant").click();
    assert.equal(
      await page.getByTestId("create-tenant-ok").textContent(VISIBLE),
      `created ${tenant}`,
    );
    await page.getByTestId(`tenant-row-${tenant}`).waitFor(VISIBLE);
    assert.equal((await ps1.api("GET", `/v1/tenant/${tenant}`)).status, 200);

    await page.getByTestId(`tenant-row-${tenant}`).getByRole("link").click();
    await page.waitForURL(`**/ps/ps1/tenants/${tenant}`);
    await page.getByTestId("create-timeline-id").fill(timeline);
    await page.getByTestId("create-timeline").click();
    await page.getByTestId("create-timeline-ok").waitFor(VISIBLE);
    await page.getByTestId(`timeline-row-${timeline}`).waitFor(VISIBLE);

    // Branch at the parent's latest LSN (the LSN field left empty).
    await page.getByTestId("create-branch").click();
    const branchText = (await page.getByTestId("create-branch-ok").textContent(VISIBLE)) ?? "";
    const branch = /^branched ([0-9a-f]{32})$/.exec(branchText)?.[1];
    assert.ok(branch, `unexpected branch result '${branchText}'`);
    await page.getByTestId(`timeline-row-${branch}`).waitFor(VISIBLE);
    await page.getByTestId(`branch-${branch}`).waitFor(VISIBLE);
    assert.match(
      (await page.getByTestId(`timeline-row-${branch}`).textContent()) ?? "",
      new RegExp(`${timeline.slice(0, 8)} @ `),
    );

    const api = await trpcClient(ps1).tenant.get.query({ tenantId: tenant });
    const byId = new Map(api.timelines.map((t) => [t.timelineId, t]));
    assert.equal(byId.size, 2);
    assert.equal(byId.get(branch)?.ancestorTimelineId, timeline);
    assert.equal(byId.get(timeline)?.ancestorTimelineId, null);
    await browser.screenshot("console-tenant");
  });

  test("a branch at an invalid LSN shows the server's message", async () => {
    const page = browser.page;
    const tenant = randomId();
    const timeline = randomId();
    await ps1.api("PUT", `/v1/tenant/${tenant}/location_config`, { mode: "AttachedSingle" });
    await ps1.api("POST", `/v1/tenant/${tenant}/timeline`, { new_timeline_id: timeline });
    const client = trpcClient(ps1);
    const serverMessage = async (lsn: string) => {
      try {
        await client.timeline.create.mutate({
          tenantId: tenant,
          ancestorTimelineId: timeline,
          ancestorStartLsn: lsn,
        });
      } catch (error) {
        return (error as Error).message;
      }
      throw new Error(`branching at ${lsn} succeeded`);
    };

    await page.goto(at(`/ps/ps1/tenants/${tenant}`));
    for (const lsn of ["0/10", "not-an-lsn"]) {
      await page.getByTestId("branch-lsn").fill(lsn);
      await page.getByTestId("create-branch").click();
      await textMatching(page.getByTestId("create-branch-error"), await serverMessage(lsn));
    }
    // What those messages are, so that "equal" cannot mean "both empty".
    assert.match(await serverMessage("0/10"), /invalid branch start lsn 0\/10: below/);
    assert.match(await serverMessage("not-an-lsn"), /ancestorStartLsn.*invalid LSN 'not-an-lsn'/);
    await browser.screenshot("console-branch-error");
    const timelines = await client.timeline.list.query({ tenantId: tenant });
    assert.equal(timelines.length, 1, "no branch was created");
  });

  describe("timeline page", () => {
    const tenant = randomId();
    const timeline = randomId();
    const route = `/ps/ps1/tenants/${tenant}/timelines/${timeline}`;
    const BLOCKS = 400;

    before(async () => {
      // Small layers and no background compaction or GC: the layer count moves only when the
      // test makes it move.
      await ps1.api("PUT", `/v1/tenant/${tenant}/location_config`, {
        mode: "AttachedSingle",
        tenant_conf: {
          checkpoint_distance: 256 * 1024,
          compaction_period: "0s",
          gc_period: "0s",
          pitr_interval: "0s",
          compaction_threshold: 4,
        },
      });
      await ps1.api("POST", `/v1/tenant/${tenant}/timeline`, { new_timeline_id: timeline });
      const base = `/v1/tenant/${tenant}/timeline/${timeline}`;
      const attached = await ps1.api("PUT", `${base}/wal_source`, {
        kind: "generator",
        params: { workload: "uniform", size: BLOCKS, rate: 0, transactions: 3000, seed: 7 },
      });
      assert.equal(attached.status, 200, JSON.stringify(attached.body));
      await waitFor("the generator to finish", async () => {
        const source = await ps1.api<{ state: string }>("GET", `${base}/wal_source`);
        return source.body.state === "finished" ? true : undefined;
      });
      await waitFor("the frozen layers to be flushed", async () => {
        const detail = await trpcClient(ps1).timeline.get.query({
          tenantId: tenant,
          timelineId: timeline,
        });
        return detail.inMemory.every((layer) => layer.kind === "open") ? true : undefined;
      });
      // No checkpoint here: like Neon's, the checkpoint API compacts too, and would merge the
      // L0s this test wants to see (and compact later, from the UI).
    });

    const apiLayerCount = async () =>
      (
        await trpcClient(ps1).layerMap.get.query({
          tenantId: tenant,
          timelineId: timeline,
          limit: 1,
        })
      ).total;

    const canvasCount = async () =>
      Number(await dataOf(browser.page, "[data-testid=layer-map-canvas]", "layer-count"));

    test("the layer map shows as many layers as the API reports, live, and a click opens a layer", async () => {
      const page = browser.page;
      const before = await apiLayerCount();
      assert.ok(before >= 10, `expected a few layers, the API reports ${before}`);
      await page.goto(at(route));
      await page.getByTestId("layer-map-canvas").waitFor(VISIBLE);
      await waitFor(`the canvas to show ${before} layers`, async () =>
        (await canvasCount()) === before ? true : undefined,
      );
      assert.ok(Number(await dataOf(page, "[data-testid=layer-map-canvas]", "frames")) >= 1);

      // Click the middle of the plot: L0 deltas span every key, so some layer is there.
      const canvas = page.getByTestId("layer-map-canvas");
      const box = (await canvas.boundingBox())!;
      await canvas.click({
        position: { x: 96 + (box.width - 108) / 2, y: 10 + (box.height - 38) / 2 },
      });
      const details = page.getByTestId("layer-details");
      await details.locator("dl").waitFor(VISIBLE);
      const name = ((await details.locator(".mono").first().textContent()) ?? "").trim();
      const layer = await trpcClient(ps1).layerMap.layer.query({
        tenantId: tenant,
        timelineId: timeline,
        name,
      });
      assert.equal(layer.name, name);
      assert.match((await details.textContent()) ?? "", new RegExp(layer.kind));
      // No remote storage here: evicting is refused with the server's reason; download is a no-op.
      await details.getByTestId("layer-evict").click();
      await textMatching(
        page.getByTestId("layer-evict-error"),
        /no remote_storage is configured, the local file is its only copy/,
      );
      await details.getByTestId("layer-download").click();
      await textMatching(page.getByTestId("layer-download-ok"), /resident already/);

      await page.getByTestId("colour-by").selectOption("level");
      await waitFor("a level legend", async () =>
        /level \d/.test((await page.getByTestId("layer-map-legend").textContent()) ?? "")
          ? true
          : undefined,
      );
      await page.getByTestId("colour-by").selectOption("tier");
      await browser.screenshot("console-layer-map");

      // A compaction from the UI rewrites the map; the canvas follows the live feed.
      await page.getByLabel("force L0").check();
      await page.getByTestId("op-compact").click();
      assert.match(
        (await page.getByTestId("op-compact-ok").textContent(VISIBLE)) ?? "",
        /l0 \d+→\d+/,
      );
      const after = await apiLayerCount();
      assert.notEqual(after, before, "compaction changed the layer map");
      await waitFor(`the canvas to show ${after} layers`, async () =>
        (await canvasCount()) === after ? true : undefined,
      );
      assert.equal(await canvasCount(), await apiLayerCount());
    });

    test("the latency charts render the GetPage traffic the pageserver recorded", async () => {
      const page = browser.page;
      await driveGetPages(ps1, tenant, timeline, 400, BLOCKS);
      const histogram = await trpcClient(ps1).latency.histogram.query({
        tenantId: tenant,
        timelineId: timeline,
        queryType: "get_page_at_lsn",
      });
      assert.equal(histogram.count, 400);
      await page.goto(at(route));
      const chart = page.getByTestId("latency-histogram");
      await chart.waitFor(VISIBLE);
      await waitFor("the histogram to show 400 requests", async () =>
        (await chart.getAttribute("data-count")) === "400" ? true : undefined,
      );
      await waitFor("histogram bars", async () =>
        (await chart.locator(".recharts-bar-rectangle").count()) > 0 ? true : undefined,
      );
      assert.equal(
        Number(await chart.getAttribute("data-buckets")),
        histogram.buckets.length,
        "one bar per populated bucket",
      );
      assert.match(
        (await page.getByTestId("latency-summary").textContent()) ?? "",
        /^400 requests · p50 .+ · p99 .+ · mean /,
      );
      const series = page.getByTestId("latency-timeseries");
      await waitFor("the time series to hold the requests", async () =>
        Number(await series.getAttribute("data-requests")) === 400 ? true : undefined,
      );
      assert.ok((await series.locator(".recharts-line").count()) >= 2, "p50 and p99 lines");
      await page.getByTestId("latency-histogram").scrollIntoViewIfNeeded();
      await browser.screenshot("console-latency");
    });

    test("operations show their result or the server's message", async () => {
      const page = browser.page;
      const client = trpcClient(ps1);
      await page.goto(at(route));
      await page.getByTestId("layer-map-canvas").waitFor(VISIBLE);

      await page.getByTestId("op-checkpoint").click();
      assert.match(
        (await page.getByTestId("op-checkpoint-ok").textContent(VISIBLE)) ?? "",
        /^flushed: disk consistent [0-9A-F]+\/[0-9A-F]+/,
      );

      // Pick an LSN on the LSN bar (near its end), lease it, and branch there.
      const bar = (await page.locator(".lsn-bar").boundingBox())!;
      await page.locator(".lsn-bar").click({ position: { x: bar.width * 0.9, y: bar.height / 2 } });
      const picked = await page.getByTestId("op-lease-lsn").inputValue();
      assert.match(picked, /^[0-9A-F]+\/[0-9A-F]+$/);
      assert.equal(await page.getByTestId("branch-lsn").inputValue(), picked);
      await page.getByTestId("op-lease").click();
      assert.match(
        (await page.getByTestId("op-lease-ok").textContent(VISIBLE)) ?? "",
        new RegExp(`^leased ${picked.replace("/", "\\/")} until`),
      );
      const marks = (await client.timeline.get.query({ tenantId: tenant, timelineId: timeline }))
        .marks;
      assert.ok(marks.leases.some((lease) => formatLsn(lease.lsn as Lsn) === picked));

      await page.getByTestId("create-branch").click();
      const branchText = (await page.getByTestId("create-branch-ok").textContent(VISIBLE)) ?? "";
      const branch = /^branched ([0-9a-f]{32})$/.exec(branchText)?.[1];
      assert.ok(branch, branchText);
      const created = await client.timeline.get.query({ tenantId: tenant, timelineId: branch });
      assert.equal(formatLsn((created.ancestorLsn ?? 0) as Lsn), picked);

      // GC everything below last_record_lsn: a lease below the new cutoff is refused.
      await page.getByTestId("op-gc-horizon").fill("lots");
      await page.getByTestId("op-gc").click();
      assert.equal(
        await page.getByTestId("op-gc-input-error").textContent(VISIBLE),
        "the GC horizon must be a number, not 'lots'",
      );
      await page.getByTestId("op-gc-horizon").fill("0");
      await page.getByTestId("op-gc").click();
      assert.match(
        (await page.getByTestId("op-gc-ok").textContent(VISIBLE)) ?? "",
        /^removed \d+ of \d+ layers; cutoff /,
      );
      await page.getByTestId("gc-runs").waitFor(VISIBLE);
      const cutoff = (await client.timeline.get.query({ tenantId: tenant, timelineId: timeline }))
        .marks.gcCutoff;
      assert.ok(cutoff > 0x1000, `GC moved the cutoff (to ${formatLsn(cutoff as Lsn)})`);
      await page.getByTestId("op-lease-lsn").fill("0/1000");
      await page.getByTestId("op-lease").click();
      const refused = (await page.getByTestId("op-lease-error").textContent(VISIBLE)) ?? "";
      assert.match(refused, /^cannot lease LSN 0\/1000: below the applied GC cutoff /);
      await page.getByTestId("op-lease-lsn").fill("zz");
      await page.getByTestId("op-lease").click();
      await textMatching(page.getByTestId("op-lease-error"), /invalid LSN 'zz'/);

      // Block GC, and lift the block again: the tenant says so while it holds.
      await page.getByTestId("op-gc-block").click();
      await textMatching(
        page.getByTestId("op-gc-block-ok"),
        /blocked: BlockingReasons \{ timelines: 1/,
      );
      assert.match(
        JSON.stringify((await ps1.api("GET", `/v1/tenant/${tenant}`)).body),
        /"gc_blocking":"BlockingReasons/,
      );
      await textMatching(page.getByTestId("op-gc-block"), /Unblock GC/);
      await page.getByTestId("op-gc-block").click();
      await textMatching(page.getByTestId("op-gc-block-ok"), /^unblocked$/);

      // Archiving the timeline with a live branch is refused with the server's reason.
      await page.getByTestId("op-archive").click();
      await textMatching(page.getByTestId("op-archive-error"), /unarchived child timelines/);

      // Every layer is resident (no remote storage): the download task has nothing to do.
      await page.getByTestId("op-download-all").click();
      await textMatching(page.getByTestId("op-download-all-ok"), /downloading 0 evicted layer/);

      // The generator, from the UI: a bad size gets the server's bound; then attach and detach.
      await page.getByTestId("gen-size").fill("0");
      await page.getByTestId("gen-attach").click();
      assert.match(
        (await page.getByTestId("gen-attach-error").textContent(VISIBLE)) ?? "",
        /params\.size/,
      );
      await page.getByTestId("gen-workload").selectOption("uniform");
      await page.getByTestId("gen-size").fill("100");
      await page.getByTestId("gen-rate").fill("20");
      await page.getByTestId("gen-attach").click();
      await page.getByTestId("gen-attach-ok").waitFor(VISIBLE);
      await waitFor("the WAL source to show", async () =>
        /uniform/.test((await page.getByTestId("wal-source").textContent()) ?? "")
          ? true
          : undefined,
      );
      await page.getByTestId("gen-detach").click();
      await page.getByTestId("gen-detach-ok").waitFor(VISIBLE);
      await browser.screenshot("console-operations");

      // Delete the branch, with its confirmation; the page goes back to the tenant.
      await page.goto(at(`/ps/ps1/tenants/${tenant}/timelines/${branch}`));
      await page.getByTestId("delete-timeline").click();
      await page.getByTestId("delete-timeline-confirm").click();
      await page.waitForURL(`**/ps/ps1/tenants/${tenant}`, { timeout: 60_000 });
      await page.getByTestId(`timeline-row-${timeline}`).waitFor(VISIBLE);
      assert.equal(await page.getByTestId(`timeline-row-${branch}`).count(), 0);
      assert.equal((await ps1.api("GET", `/v1/tenant/${tenant}/timeline/${branch}`)).status, 404);

      // Reset the tenant, confirmed: it comes back Active with its timeline.
      await page.getByTestId("reset-tenant").click();
      await page.getByTestId("reset-tenant-confirm").click();
      await textMatching(page.getByTestId("reset-tenant-ok"), /reset: Active/);
      await page.getByTestId(`timeline-row-${timeline}`).waitFor(VISIBLE);
      assert.equal((await ps1.api("GET", `/v1/tenant/${tenant}/timeline/${timeline}`)).status, 200);
    });
  });

  test("no page threw an uncaught error", () => {
    // Console messages about failed requests are expected (the tests send bad input on
    // purpose); an uncaught exception in the page is a bug.
    assert.deepEqual(
      browser.errors.filter((e) => e.startsWith("pageerror:")),
      [],
    );
  });
});
