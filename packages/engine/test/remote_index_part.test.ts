/**
 * index_part.json in Neon's schema: the real index of Neon's mixed-workload test data parses with
 * its counts and metadata intact; what we serialise parses back to the same thing (unknown fields
 * kept); the legacy binary metadata of old versions decodes; bad input fails naming the source.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { CorruptionError } from "../src/errors.ts";
import { parseLsn } from "../src/lsn.ts";
import { parseIndexPart, serializeIndexPart } from "../src/remote/index_part.ts";
import { isL0Name } from "../src/storage_layer/layer_name.ts";

const NEON_INDEX = path.resolve(
  import.meta.dirname,
  "../../../../shared/data/neon/mixed-workload-index_part.json",
);

test("Neon's mixed-workload index_part.json: 1,564 layers on shard 0008, generations 1–239", () => {
  const index = parseIndexPart(readFileSync(NEON_INDEX), NEON_INDEX);
  assert.equal(index.version, 7);
  assert.equal(index.layers.size, 1564);
  const layers = [...index.layers.values()];
  assert.equal(layers.filter((l) => l.name.kind === "delta").length, 762);
  assert.equal(layers.filter((l) => l.name.kind === "image").length, 802);
  assert.ok(layers.every((l) => l.shard === "0008"));
  const generations = layers.map((l) => l.generation as number);
  assert.equal(Math.min(...generations), 1);
  assert.equal(Math.max(...generations), 239);
  assert.equal(index.diskConsistentLsn, parseLsn("1BC/B5734CD8"));
  assert.deepEqual(index.metadata, {
    diskConsistentLsn: parseLsn("1BC/B5734CD8"),
    prevRecordLsn: parseLsn("1BC/B5734CB0"),
    ancestorTimeline: null,
    ancestorLsn: 0,
    latestGcCutoffLsn: parseLsn("1BC/B5732690"),
    initdbLsn: parseLsn("0/14EE150"),
    pgVersion: 16,
  });
  // The newest L0 ends at disk_consistent_lsn + 1, as the fact sheet says.
  const l0End = Math.max(
    ...layers.filter((l) => isL0Name(l.name)).map((l) => l.name.lsnRange.end as number),
  );
  assert.equal(l0End, index.diskConsistentLsn + 1);
  const sizes = new Map<number, number>();
  for (const l of layers) sizes.set(l.fileSize, (sizes.get(l.fileSize) ?? 0) + 1);
  for (const common of [134422528, 268451840, 24576])
    assert.ok((sizes.get(common) ?? 0) > 0, `size ${common} occurs`);

  // Serialised by us, it parses back identical (shards and generations kept).
  const again = parseIndexPart(serializeIndexPart(index), "round trip");
  assert.deepEqual(again.layers, index.layers);
  assert.deepEqual(again.metadata, index.metadata);
  assert.equal(again.diskConsistentLsn, index.diskConsistentLsn);
});

test("unknown fields of newer versions survive a round trip; None generations are omitted", () => {
  const text = JSON.stringify({
    version: 15,
    layer_metadata: {
      "000000000000000000000000000000000000-FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF__0000000001000029-0000000001000031":
        { file_size: 24576 },
    },
    disk_consistent_lsn: "0/1000030",
    metadata_bytes: {
      disk_consistent_lsn: "0/1000030",
      prev_record_lsn: null,
      ancestor_timeline: null,
      ancestor_lsn: "0/0",
      latest_gc_cutoff_lsn: "0/0",
      initdb_lsn: "0/1000028",
      pg_version: 15,
    },
    lineage: {},
    gc_compaction: { last_completed_lsn: "0/1000030" },
    marked_invisible_at: null,
  });
  const index = parseIndexPart(text, "v15");
  assert.equal([...index.layers.values()][0]!.generation, null);
  const out = JSON.parse(serializeIndexPart(index));
  assert.deepEqual(out.gc_compaction, { last_completed_lsn: "0/1000030" });
  assert.ok("marked_invisible_at" in out);
  const entry = Object.values(out.layer_metadata)[0] as Record<string, unknown>;
  assert.deepEqual(entry, { file_size: 24576 }, "no generation or shard key when None");
});

test("the legacy binary metadata (versions before 7) decodes", () => {
  const body = Buffer.alloc(512);
  let at = 8; // crc32c u32, size u16, format u16 come first
  body.writeUInt16BE(4, 6);
  const u64 = (value: number) => {
    body.writeUInt32BE(Math.floor(value / 2 ** 32), at);
    body.writeUInt32BE(value % 2 ** 32, at + 4);
    at += 8;
  };
  u64(parseLsn("1/2000")); // disk_consistent_lsn
  body[at++] = 1; // prev_record_lsn: Some
  u64(parseLsn("1/1F00"));
  body[at++] = 1; // ancestor_timeline: Some
  Buffer.from("0123456789abcdef0123456789abcdef", "hex").copy(body, at);
  at += 16;
  u64(parseLsn("0/5000")); // ancestor_lsn
  u64(parseLsn("0/6000")); // latest_gc_cutoff_lsn
  u64(parseLsn("0/1000")); // initdb_lsn
  body.writeUInt32BE(14, at); // pg_version
  const index = parseIndexPart(
    JSON.stringify({
      version: 3,
      layer_metadata: {},
      disk_consistent_lsn: "1/2000",
      metadata_bytes: [...body],
    }),
    "v3",
  );
  assert.deepEqual(index.metadata, {
    diskConsistentLsn: parseLsn("1/2000"),
    prevRecordLsn: parseLsn("1/1F00"),
    ancestorTimeline: "0123456789abcdef0123456789abcdef",
    ancestorLsn: parseLsn("0/5000"),
    latestGcCutoffLsn: parseLsn("0/6000"),
    initdbLsn: parseLsn("0/1000"),
    pgVersion: 14,
  });
});

test("bad input fails naming the object and what is wrong", () => {
  const cases: Array<[string, RegExp]> = [
    ["{not json", /k1 is not valid JSON/],
    [JSON.stringify({ version: 7, disk_consistent_lsn: "0/1" }), /k1 is invalid: layer_metadata/],
    [
      JSON.stringify({
        version: 7,
        layer_metadata: { "not-a-layer": { file_size: 1 } },
        disk_consistent_lsn: "0/1",
        metadata_bytes: {},
      }),
      /k1/,
    ],
    [
      JSON.stringify({ version: 7, layer_metadata: {}, disk_consistent_lsn: "0/1" }),
      /k1 has no metadata/,
    ],
  ];
  for (const [text, message] of cases) {
    assert.throws(
      () => parseIndexPart(text, "k1"),
      (e: unknown) => e instanceof CorruptionError && message.test(e.message),
      text,
    );
  }
});
