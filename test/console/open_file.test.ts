/**
 * "Open a file" in a real Chromium, with no pageserver at all: Neon's odd-brook layer-name list
 * (26,690 names) and a real `index_part.json` become layer maps; a file that holds no layer
 * names gets a message that says so.
 */
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { type BrowserSession, launchBrowser } from "../harness/browser.ts";
import { type ConsoleHandle, startConsole } from "../harness/console_process.ts";
import { REPO_ROOT } from "../harness/pageserver_process.ts";
import { dataOf, waitFor } from "./support.ts";

const DATA = path.resolve(REPO_ROOT, "../shared/data/neon");
const ODD_BROOK = path.join(DATA, "odd-brook-layernames.txt");
const INDEX_PART = path.join(DATA, "mixed-workload-index_part.json");
const VISIBLE = { state: "visible" as const, timeout: 60_000 };

describe("open a file", () => {
  let web: ConsoleHandle;
  let browser: BrowserSession;

  before(async () => {
    web = await startConsole();
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await web?.stop();
  });

  const openFile = async (file: string) => {
    const page = browser.page;
    await page.goto(`${web.url}/open`);
    await page.getByTestId("open-file-input").setInputFiles(file);
  };

  test("the odd-brook layer-name list shows 26,690 layers", async () => {
    const page = browser.page;
    const names = readFileSync(ODD_BROOK, "utf8")
      .split("\n")
      .filter((line) => line.trim() !== "");
    assert.equal(names.length, 26_690);
    await openFile(ODD_BROOK);
    assert.equal(await page.getByTestId("open-layer-count").textContent(VISIBLE), "26,690 layers");
    const canvas = "[data-testid=layer-map-canvas]";
    assert.equal(await dataOf(page, canvas, "layer-count"), "26690");
    await waitFor("the first frame of 26,690 layers", async () =>
      (await dataOf(page, canvas, "painted-count")) === "26690" ? true : undefined,
    );
    assert.ok(Number(await dataOf(page, canvas, "drawn-count")) > 0, "layers were drawn");
    assert.equal(await page.getByTestId("open-skipped").count(), 0, "every line is a layer name");
    await browser.screenshot("console-open-odd-brook");
  });

  test("an index_part.json shows its layer_metadata, sizes and disk_consistent_lsn", async () => {
    const page = browser.page;
    const index = JSON.parse(readFileSync(INDEX_PART, "utf8")) as {
      layer_metadata: Record<string, { file_size: number }>;
      disk_consistent_lsn: string;
    };
    const layers = Object.values(index.layer_metadata);
    await openFile(INDEX_PART);
    const count = await page.getByTestId("open-layer-count").textContent(VISIBLE);
    assert.equal(count, `${layers.length.toLocaleString("en-US")} layers`);
    const summary = (await page.getByTestId("open-summary").textContent()) ?? "";
    assert.match(summary, /index_part\.json/);
    assert.match(summary, new RegExp(`disk_consistent_lsn ${index.disk_consistent_lsn}`, "i"));
    await browser.screenshot("console-open-index-part");
  });

  test("a file without layer names is refused with the reason", async () => {
    const page = browser.page;
    const notes = path.join(tmpdir(), `not-layers-${process.pid}.txt`);
    writeFileSync(notes, "shopping list\nmilk\n");
    await openFile(notes);
    assert.equal(
      await page.getByTestId("open-error").textContent(VISIBLE),
      `${path.basename(notes)}: no layer names found (first line that is not one: 'shopping list')`,
    );
    const broken = path.join(tmpdir(), `broken-index-${process.pid}.json`);
    writeFileSync(broken, '{"layer_metadata": ');
    await openFile(broken);
    assert.match(
      (await page.getByTestId("open-error").textContent(VISIBLE)) ?? "",
      /^broken-index-\d+\.json: not valid JSON: /,
    );
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
