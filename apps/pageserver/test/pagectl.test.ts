/**
 * `pagectl` run as a process, on real inputs: Neon's odd-brook layer-name dump (26,690 layers)
 * drawn and analysed, Neon's mixed-workload index_part.json (1,564 layers) dumped, keys decoded
 * and encoded, layer files written by a real pageserver printed and verified (and a damaged copy
 * refused, naming the file), a page fetched over the page service compared byte for byte with
 * the management API's getpage, and the exit-code contract (0 ok, 1 failure, 2 usage).
 * The data files are read from ../shared/data beside the repository (test/harness/shared_data.ts), never copied into the repository.
 */
import assert from "node:assert/strict";
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import {
  FileDescriptorCache,
  formatKey,
  LayerFileReader,
  PageCache,
  pgWal,
  relBlockKey,
} from "@pageserver/engine";
import { removeWorkdir } from "../../../test/harness/pageserver_process.ts";
import { SHARED_DATA } from "../../../test/harness/shared_data.ts";
import { runCliProcess, type ServedTimeline, servedTimeline } from "./cli_helpers.ts";

const DATA = SHARED_DATA;
const ODD_BROOK = path.join(DATA, "odd-brook-layernames.txt");
const MIXED_INDEX = path.join(DATA, "mixed-workload-index_part.json");
const TABLE = "1663/5/16384";

const pagectl = (args: string[], input?: string) =>
  runCliProcess("pagectl.ts", args, input === undefined ? {} : { input });

describe("pagectl on Neon's data files", () => {
  const scratch = mkdtempSync(path.join(tmpdir(), "pagectl-"));
  after(() => rmSync(scratch, { recursive: true, force: true }));

  test("draw-timeline draws one shape per layer of odd-brook: 26,690 rects", async () => {
    const out = path.join(scratch, "odd-brook.svg");
    const run = await pagectl(["draw-timeline", ODD_BROOK, "-o", out]);
    assert.equal(run.code, 0, run.stderr);
    const svg = readFileSync(out, "utf8");
    assert.ok(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'));
    assert.ok(svg.trimEnd().endsWith("</svg>"));
    assert.equal(svg.match(/<rect /g)?.length, 26_690);
    assert.equal(svg.match(/<rect class="i"/g)?.length, 24_070, "image bars");
    assert.match(run.stderr, /num_images: 24070\nnum_deltas: 2620/);
    // Every shape is named by its layer: the first name of the dump is there.
    const first = readFileSync(ODD_BROOK, "utf8").split("\n")[0]!.trim();
    assert.ok(svg.includes(`<title>${first}</title>`));
    // The same from stdin, to stdout.
    const piped = await pagectl(["draw-timeline", "-"], readFileSync(ODD_BROOK, "utf8"));
    assert.equal(piped.code, 0, piped.stderr);
    assert.equal(piped.stdout, svg);
  });

  test("analyze-layer-map summarises odd-brook (text and JSON)", async () => {
    const json = await pagectl(["analyze-layer-map", ODD_BROOK, "--json"]);
    assert.equal(json.code, 0, json.stderr);
    const analysis = JSON.parse(json.stdout) as {
      layers: number;
      deltas: number;
      images: number;
      l0: number;
      totalBytes: number | null;
      levels: Array<{ layers: number }>;
      readAmplification: { maxStacked: number; latestRead: number };
    };
    assert.equal(analysis.layers, 26_690);
    assert.equal(analysis.deltas, 2620);
    assert.equal(analysis.images, 24_070);
    assert.equal(analysis.l0, 9);
    assert.equal(analysis.totalBytes, null, "names carry no sizes");
    assert.ok(analysis.levels.length >= 1);
    assert.equal(
      analysis.levels.reduce((sum, level) => sum + level.layers, 0),
      26_690,
      "the levels partition the layers",
    );
    assert.ok(analysis.readAmplification.maxStacked >= analysis.readAmplification.latestRead);
    const text = await pagectl(["analyze-layer-map", ODD_BROOK]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /layers: 26690 \(2620 deltas of which 9 L0, 24070 images\)/);
    assert.match(text.stdout, /read amplification:/);
  });

  test("index-part dump reads Neon's mixed-workload index_part.json: 1,564 layers", async () => {
    const json = await pagectl(["index-part", "dump", MIXED_INDEX, "--json"]);
    assert.equal(json.code, 0, json.stderr);
    const { summary } = JSON.parse(json.stdout) as {
      summary: {
        version: number;
        layers: Record<"total" | "delta" | "image" | "l0", { count: number; bytes: number }>;
      };
    };
    assert.equal(summary.version, 7);
    assert.equal(summary.layers.total.count, 1564);
    assert.equal(summary.layers.delta.count + summary.layers.image.count, 1564);
    const document = JSON.parse(readFileSync(MIXED_INDEX, "utf8")) as {
      layer_metadata: Record<string, { file_size: number }>;
    };
    const bytes = Object.values(document.layer_metadata).reduce((s, l) => s + l.file_size, 0);
    assert.equal(summary.layers.total.bytes, bytes);
    const text = await pagectl(["index-part", "dump", MIXED_INDEX]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /all\s+1564/);
    assert.match(text.stdout, /disk_consistent_lsn: 1BC\/B5734CD8/);
    // Layer names from an index_part feed draw-timeline too.
    const drawn = await pagectl(["draw-timeline", "--index-part", MIXED_INDEX]);
    assert.equal(drawn.code, 0, drawn.stderr);
    assert.equal(drawn.stdout.match(/<rect /g)?.length, 1564);
  });

  test("key: encode a relation block, decode it back, and explain a key", async () => {
    const encoded = await pagectl(["key", "--rel", "1663/16384/16390_vm", "--blk", "7", "--json"]);
    assert.equal(encoded.code, 0, encoded.stderr);
    const { key } = JSON.parse(encoded.stdout) as { key: string };
    assert.equal(
      key,
      formatKey(relBlockKey({ spcNode: 1663, dbNode: 16384, relNode: 16390, forkNum: 2 }, 7)),
    );
    const decoded = await pagectl(["key", key, "--json"]);
    assert.equal(decoded.code, 0, decoded.stderr);
    const explained = JSON.parse(decoded.stdout) as {
      key: string;
      fields: number[];
      kind: string;
      inherited: boolean;
    };
    assert.equal(explained.key, key);
    assert.deepEqual(explained.fields, [0, 1663, 16384, 16390, 2, 7]);
    assert.equal(explained.kind, "rel_block");
    assert.equal(explained.inherited, true);
    const text = await pagectl(["key", key]);
    assert.equal(text.code, 0);
    assert.match(text.stdout, /describes: rel 1663\/16384\/16390_vm blk 7/);
  });

  test("wal-dump decodes the real PostgreSQL 15 segment as pg_waldump does; damage exits 1 naming the LSN", async () => {
    // Named as PostgreSQL names it, so that its start LSN (0/1000000) is known.
    const segment = path.join(scratch, "000000010000000000000001.zst");
    copyFileSync(path.join(DATA, "pgbench-wal-000000010000000000000001.zst"), segment);
    // The segment's head is zeroed: from its start there is no WAL, and that is said.
    const empty = await pagectl(["wal-dump", segment]);
    assert.equal(empty.code, 0, empty.stderr);
    assert.equal(empty.stdout, "");
    assert.match(empty.stderr, /0 records; end of WAL at 0\/1000000: bad_magic/);

    const head = await pagectl(["wal-dump", segment, "--start", "0/14B0000", "--limit", "2"]);
    assert.equal(head.code, 0, head.stderr);
    const lines = head.stdout.trimEnd().split("\n");
    assert.equal(lines.length, 2);
    // pg_waldump 15: rmgr: Btree len (rec/tot): 53/6421, tx: 1024, lsn: 0/014B0828,
    // prev 0/014AF478, blkref #0: rel 1663/5/2704 fork main blk 2 (FPW); hole: offset: 752, length: 1824
    assert.match(
      lines[0]!,
      /^rmgr: Btree +len \(rec\/tot\): +53\/ +6421, tx: +1024, lsn: 0\/14B0828, prev 0\/14AF478, .*blkref #0: rel 1663\/5\/2704 fork main blk 2 \(FPW\); hole: offset: 752, length: 1824$/,
    );

    const stats = await pagectl(["wal-dump", segment, "--start", "0/14B0000", "--stats", "--json"]);
    assert.equal(stats.code, 0, stats.stderr);
    const byType = JSON.parse(stats.stdout) as Record<string, { count: number }>;
    const total = Object.values(byType).reduce((sum, s) => sum + s.count, 0);
    assert.equal(total, 72_919, "pg_waldump's record count");
    assert.equal(byType["Heap/0x00"]!.count, 71_446);
    assert.match(stats.stderr, /72919 records; end of WAL at 0\/1FFFF98: end_of_input/);

    // One flipped byte inside the second record: the first is printed, then exit 1 naming it.
    const raw = Buffer.from(pgWal.zstdDecompressFrame(readFileSync(segment)));
    raw[0x14b2158 - 0x1000000 + 30]! ^= 0xff;
    // Same name (the page headers carry their own LSNs), uncompressed, in a directory of its own.
    mkdirSync(path.join(scratch, "damaged"));
    const damaged = path.join(scratch, "damaged", "000000010000000000000001");
    writeFileSync(damaged, raw);
    const bad = await pagectl(["wal-dump", damaged, "--start", "0/14B0000"]);
    assert.equal(bad.code, 1, bad.stderr);
    assert.equal(bad.stdout.trimEnd().split("\n").length, 1, "the record before the damage");
    assert.match(bad.stderr, /0\/14B2158/);

    for (const [args, message] of [
      [["wal-dump", path.join(scratch, "not-a-segment.bin")], /expected a WAL segment name/],
      [["wal-dump", segment, "--start", "0/5000000"], /outside the segment/],
      [["wal-dump", segment, "--start", "zz"], /--start/],
    ] as const) {
      const run = await pagectl([...args]);
      assert.equal(run.code, 2, `${args.join(" ")}: ${run.stderr}`);
      assert.match(run.stderr, message);
    }
  });

  test("bad usage exits 2 with the usage text; failures exit 1 naming the cause", async () => {
    const usage: string[][] = [
      [],
      ["frobnicate"],
      ["layer"],
      ["layer", "munge", "x"],
      ["index-part"],
      ["draw-timeline"],
      ["draw-timeline", ODD_BROOK, "--index-part", MIXED_INDEX],
      ["draw-timeline", "--url", "http://127.0.0.1:1"],
      ["key", "not-a-key"],
      ["key", "--rel", "1663/1/2", "--blk=-1"],
      ["analyze-layer-map", ODD_BROOK, "--fanout", "zero"],
      ["get-page", "--tenant", "x"],
      ["layer", "print", "a", "b"],
      ["key", "--bogus"],
    ];
    // Independent processes: run them side by side (tsx start-up dominates each).
    const usageRuns = await Promise.all(usage.map((args) => pagectl(args)));
    for (const [index, args] of usage.entries()) {
      const run = usageRuns[index]!;
      assert.equal(run.code, 2, `pagectl ${args.join(" ")}: ${run.stderr}`);
      assert.match(run.stderr, /^pagectl: .+\n\nusage: pagectl/, args.join(" "));
    }
    const missing = path.join(scratch, "no-such-file.txt");
    const failures: Array<[string[], RegExp]> = [
      [["draw-timeline", missing], /cannot read .*no-such-file\.txt: ENOENT/],
      [["index-part", "dump", missing], /cannot read .*no-such-file\.txt/],
      [["layer", "verify", missing], /layer file .*no-such-file\.txt does not exist/],
      [["index-part", "dump", ODD_BROOK], /odd-brook-layernames\.txt is not JSON/],
    ];
    const garbage = path.join(scratch, "garbage.txt");
    writeFileSync(garbage, "000000000000000000000000000000000000-zz__00\n");
    failures.push([["analyze-layer-map", garbage], /garbage\.txt line 1: invalid layer name/]);
    const failureRuns = await Promise.all(failures.map(([args]) => pagectl(args)));
    for (const [index, [args, message]] of failures.entries()) {
      const run = failureRuns[index]!;
      assert.equal(run.code, 1, `pagectl ${args.join(" ")}: ${run.stderr}`);
      assert.match(run.stderr, message);
    }
    const help = await pagectl(["--help"]);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^usage: pagectl/);
  });
});

describe("pagectl against a pageserver's files and page service", () => {
  let served: ServedTimeline;
  let layerFiles: string[];
  const scratch = mkdtempSync(path.join(tmpdir(), "pagectl-live-"));

  before(async () => {
    served = await servedTimeline();
    const directory = path.join(
      served.server.workdir,
      "tenants",
      served.tenant,
      "timelines",
      served.timeline,
    );
    layerFiles = readdirSync(directory)
      .filter((name) => name.includes("__"))
      .map((name) => path.join(directory, name));
    assert.ok(layerFiles.length > 0, "the checkpoint wrote layer files");
  });
  after(async () => {
    await served.server.stop("SIGTERM");
    removeWorkdir(served.server.workdir);
    rmSync(scratch, { recursive: true, force: true });
  });

  test("layer print and layer verify read a real layer file; a damaged copy exits 1 naming it", async () => {
    const file = layerFiles[0]!;
    const verified = await pagectl(["layer", "verify", file]);
    assert.equal(verified.code, 0, verified.stderr);
    assert.match(verified.stdout, /^ok: .+: \d+ entries, \d+ bytes verified/);
    const printed = await pagectl(["layer", "print", file, "--limit", "3", "--values"]);
    assert.equal(printed.code, 0, printed.stderr);
    assert.match(printed.stdout, new RegExp(`tenant:\\s+${served.tenant}`));
    assert.match(printed.stdout, new RegExp(`timeline:\\s+${served.timeline}`));
    assert.doesNotMatch(printed.stdout, /MISMATCH/);
    assert.match(printed.stdout, /entries:\n/);
    assert.match(printed.stdout, /\.\.\. \(\d+ more entries\)/);
    assert.match(printed.stdout, /\n {6}(image|record)[ :]/, "--values decodes the values");

    // Damage the first value's bytes in a copy with the same name: its checksum no longer holds.
    const reader = LayerFileReader.open(file, {
      files: new FileDescriptorCache(4),
      pages: new PageCache(16),
    });
    const firstEntry = reader.entries().next().value!;
    reader.close();
    const damaged = path.join(scratch, path.basename(file));
    copyFileSync(file, damaged);
    const bytes = readFileSync(damaged);
    bytes[firstEntry.blobOffset + Math.floor(firstEntry.length / 2)]! ^= 0xff;
    writeFileSync(damaged, bytes);
    const refused = await pagectl(["layer", "verify", damaged]);
    assert.equal(refused.code, 1, refused.stdout);
    assert.match(refused.stderr, /CorruptionError \[PS_ERR_CORRUPTION\]/);
    assert.ok(refused.stderr.includes(damaged), refused.stderr);
    assert.match(refused.stderr, /checksum mismatch/);

    // Not a layer file at all.
    const text = path.join(scratch, "not-a-layer");
    writeFileSync(text, "hello");
    const notLayer = await pagectl(["layer", "print", text]);
    assert.equal(notLayer.code, 1);
    assert.ok(notLayer.stderr.includes(text), notLayer.stderr);
  });

  test("get-page returns the same bytes as the HTTP getpage testing endpoint", async () => {
    const { server, tenant, timeline } = served;
    const base = `/v1/tenant/${tenant}/timeline/${timeline}`;
    const detail = await server.api<{ last_record_lsn: string }>("GET", base);
    let checked = 0;
    for (let blk = 0; blk < 64 && checked < 2; blk++) {
      const key = formatKey(
        relBlockKey({ spcNode: 1663, dbNode: 5, relNode: 16384, forkNum: 0 }, blk),
      );
      const http = await fetch(`${server.httpUrl}${base}/getpage?key=${key}`);
      if (http.status !== 200) continue; // A block the generator never wrote.
      const expected = Buffer.from(await http.arrayBuffer());
      assert.equal(expected.length, 8192);
      const latest = path.join(scratch, `latest-${blk}.bin`);
      const run = await pagectl([
        "get-page",
        "--pg",
        `127.0.0.1:${server.pgPort}`,
        "--url",
        server.httpUrl,
        "--tenant",
        tenant,
        "--timeline",
        timeline,
        "--rel",
        TABLE,
        "--blk",
        String(blk),
        "--out",
        latest,
      ]);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, new RegExp(`page ${TABLE} blk ${blk} at latest`));
      assert.match(run.stdout, /pd_lsn [0-9A-F]+\/[0-9A-F]+/);
      assert.deepEqual(readFileSync(latest), expected);
      // At an explicit LSN, printed as a hex dump on stdout this time.
      const atLsn = await pagectl([
        "get-page",
        "--pg",
        `127.0.0.1:${server.pgPort}`,
        "--tenant",
        tenant,
        "--timeline",
        timeline,
        "--rel",
        TABLE,
        "--blk",
        String(blk),
        "--lsn",
        detail.body.last_record_lsn,
        "--protocol",
        "2",
      ]);
      assert.equal(atLsn.code, 0, atLsn.stderr);
      assert.ok(atLsn.stdout.includes(`at ${detail.body.last_record_lsn}`));
      assert.match(atLsn.stdout, /^00000000 {2}/m, "a hex dump");
      checked++;
    }
    assert.equal(checked, 2, "two written blocks compared");

    // A missing relation: the page service's Error response, exit 1.
    const missing = await pagectl([
      "get-page",
      "--pg",
      `127.0.0.1:${server.pgPort}`,
      "--tenant",
      tenant,
      "--timeline",
      timeline,
      "--rel",
      "1663/5/99999",
      "--blk",
      "0",
      "--lsn",
      detail.body.last_record_lsn,
    ]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /page service refused GetPage 1663\/5\/99999 blk 0: .*not found/);
    // Nobody listening: exit 1 naming the address.
    const refused = await pagectl([
      "get-page",
      "--pg",
      "127.0.0.1:1",
      "--tenant",
      tenant,
      "--timeline",
      timeline,
      "--rel",
      TABLE,
      "--blk",
      "0",
      "--lsn",
      "0/16",
    ]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /127\.0\.0\.1:1 failed: ECONNREFUSED/);
  });

  test("draw-timeline and analyze-layer-map read a running pageserver's layer list", async () => {
    const { server, tenant, timeline } = served;
    const source = ["--url", server.httpUrl, "--tenant", tenant, "--timeline", timeline];
    const drawn = await pagectl(["draw-timeline", ...source]);
    assert.equal(drawn.code, 0, drawn.stderr);
    assert.equal(drawn.stdout.match(/<rect /g)?.length, layerFiles.length);
    const analysed = await pagectl(["analyze-layer-map", ...source, "--json"]);
    assert.equal(analysed.code, 0, analysed.stderr);
    const analysis = JSON.parse(analysed.stdout) as { layers: number; totalBytes: number };
    assert.equal(analysis.layers, layerFiles.length);
    assert.ok(analysis.totalBytes > 0, "the API gives sizes");
    const unknown = await pagectl([
      "analyze-layer-map",
      "--url",
      server.httpUrl,
      "--tenant",
      tenant,
      "--timeline",
      "00000000000000000000000000000000",
    ]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /failed with 404/);
  });
});
