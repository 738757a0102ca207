/**
 * The in-memory layer (readable while it grows, frozen, flushed to an L0 that reads the same) and
 * the two process-wide I/O caches: the descriptor cache never holds more than
 * `max_file_descriptors` open however many layer files are read, and the page cache stays within
 * `page_cache_size` slots, serving repeated lookups without reading the file again.
 */
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import path from "node:path";
import { describe, test } from "node:test";
import { InvalidArgumentError } from "../src/errors.ts";
import type { TenantId, TimelineId } from "../src/ids.ts";
import { FileDescriptorCache } from "../src/io/file_descriptor_cache.ts";
import { PageCache } from "../src/io/page_cache.ts";
import { KEY_MAX, KEY_MIN, type Key, keyFromFields } from "../src/key/key.ts";
import type { Lsn } from "../src/lsn.ts";
import { InMemoryLayer } from "../src/storage_layer/inmemory_layer.ts";
import { LayerFileReader } from "../src/storage_layer/layer_file_reader.ts";
import { LayerFileWriter } from "../src/storage_layer/layer_file_writer.ts";
import { formatLayerName } from "../src/storage_layer/layer_name.ts";
import {
  decodeValue,
  encodeValue,
  imageValue,
  recordValue,
  testRecord,
  type Value,
} from "../src/value/value.ts";
import { rng, seedFromEnv, tempDirectory } from "./helpers.ts";

const tenantId = "aa".repeat(16) as TenantId;
const timelineId = "bb".repeat(16) as TimelineId;
const key = (n: number): Key => keyFromFields(0, 1663, 5, 16384, 0, n);

/** Versions of `k` below `end`, newest first, decoded. */
function inMemoryVersions(layer: InMemoryLayer, k: Key, end: number): Array<[number, Value]> {
  const found: Array<[number, Value]> = [];
  layer.visitVersions(k, 0 as Lsn, end as Lsn, (lsn, value) => {
    found.push([lsn, decodeValue(Buffer.from(value))]);
    return true;
  });
  return found;
}

function fileVersions(reader: LayerFileReader, k: Key, end: number): Array<[number, Value]> {
  const found: Array<[number, number, number]> = [];
  reader.visitVersions(k, 0 as Lsn, end as Lsn, (lsn, offset, length) => {
    found.push([lsn, offset, length]);
    return true;
  });
  return found.map(([lsn, offset, length]) => [lsn, decodeValue(reader.readBlob(offset, length))]);
}

describe("in-memory layer", () => {
  test("readable while it grows; a will_init version ends the walk; flushes to an equal L0", async () => {
    using dir = tempDirectory();
    const seed = seedFromEnv();
    const random = rng(seed);
    const layer = new InMemoryLayer({
      directory: dir.path,
      tenantId,
      timelineId,
      lsnStart: 0x100 as Lsn,
      sequence: 1,
    });
    const model = new Map<number, Array<[number, Value]>>();
    let lsn = 0x100;
    for (let i = 0; i < 5000; i++) {
      lsn += 8;
      const k = Math.floor(random() * 200);
      const versions = model.get(k) ?? [];
      const value =
        versions.length === 0 || random() < 0.05
          ? imageValue(Buffer.alloc(1 + Math.floor(random() * 9000), i & 0xff))
          : recordValue(testRecord.append(`+${i}`));
      layer.put(key(k), lsn as Lsn, value);
      versions.unshift([lsn, value]);
      model.set(k, versions);
      if (i % 997 === 0) {
        // Reads see everything put so far, newest first, stopping at the newest image.
        const all = model.get(k)!;
        const stop = all.findIndex(([, v]) => v.kind === "image");
        assert.deepEqual(
          inMemoryVersions(layer, key(k), lsn + 1),
          all.slice(0, stop + 1),
          `seed ${seed}`,
        );
      }
    }
    // Puts must go forward in LSN per key.
    assert.throws(() => layer.put(key(0), 0x100 as Lsn, imageValue(Buffer.alloc(1))));
    layer.freeze((lsn + 8) as Lsn);
    assert.throws(() => layer.put(key(0), (lsn + 16) as Lsn, imageValue(Buffer.alloc(1))));
    const name = layer.l0Name();
    assert.equal(name.keyRange.start, KEY_MIN);
    assert.equal(name.keyRange.end, KEY_MAX);
    assert.equal(name.lsnRange.start, 0x100);
    const { path: file } = await layer.writeToDisk((n) => path.join(dir.path, formatLayerName(n)));
    const io = { files: new FileDescriptorCache(8), pages: new PageCache(64) };
    const reader = LayerFileReader.open(file, io);
    for (const k of [0, 1, 50, 199]) {
      const midLsn = 0x100 + Math.floor(random() * (lsn - 0x100));
      assert.deepEqual(
        fileVersions(reader, key(k), midLsn),
        inMemoryVersions(layer, key(k), midLsn),
      );
    }
    layer.delete();
    assert.deepEqual(
      readdirSync(dir.path).filter((f) => f !== path.basename(file)),
      [],
      "the ephemeral file is gone",
    );
  });

  test("refuses a value above the size limit with the key in the error", () => {
    using dir = tempDirectory();
    const layer = new InMemoryLayer({
      directory: dir.path,
      tenantId,
      timelineId,
      lsnStart: 8 as Lsn,
      sequence: 2,
    });
    assert.throws(
      () => layer.put(key(1), 16 as Lsn, imageValue(Buffer.alloc(512 * 1024 * 1024))),
      (error: unknown) =>
        error instanceof InvalidArgumentError && typeof error.context.key === "string",
    );
    layer.delete();
  });
});

describe("I/O caches", () => {
  async function writeSmallLayer(directory: string, index: number): Promise<string> {
    const writer = new LayerFileWriter({
      directory,
      tenantId,
      timelineId,
      kind: "image",
      lsnRange: { start: 100 as Lsn, end: 101 as Lsn },
    });
    writer.put(
      key(index),
      100 as Lsn,
      encodeValue(imageValue(Buffer.from(`layer ${index}`))),
      true,
    );
    const file = path.join(directory, `layer-${index}`);
    await writer.finish(file, { start: KEY_MIN, end: KEY_MAX });
    return file;
  }

  test("300 layer files read through 6 descriptors, every value intact", async () => {
    using dir = tempDirectory();
    const files: string[] = [];
    for (let i = 0; i < 300; i++) files.push(await writeSmallLayer(dir.path, i));
    const io = { files: new FileDescriptorCache(6), pages: new PageCache(16) };
    const readers = files.map((file) => LayerFileReader.open(file, io));
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < readers.length; i++) {
        const [[lsn, value]] = fileVersions(readers[i]!, key(i), 101) as [[number, Value]];
        assert.equal(lsn, 100);
        assert.deepEqual(value, imageValue(Buffer.from(`layer ${i}`)));
        assert.ok(io.files.stats.open <= 6, `${io.files.stats.open} descriptors open`);
      }
    }
    assert.ok(io.files.stats.opens > 300, "descriptors were recycled");
    assert.ok(io.pages.stats.evictions > 0, "16 slots cannot hold 300 files' nodes");
    for (const reader of readers) reader.close();
    io.files.closeAll();
    assert.equal(io.files.stats.open, 0);
  });

  test("the page cache serves a hot node without refilling it, and refuses a silly size", () => {
    const cache = new PageCache(16);
    let fills = 0;
    const fill = (page: Buffer) => {
      fills++;
      page.fill(7);
    };
    for (let i = 0; i < 100; i++) assert.equal(cache.get(1, 0, fill)[0], 7);
    assert.equal(fills, 1);
    assert.equal(cache.stats.hits, 99);
    // A fill that throws caches nothing.
    assert.throws(() =>
      cache.get(1, 8192, () => {
        throw new Error("checksum mismatch");
      }),
    );
    cache.get(1, 8192, fill);
    assert.equal(fills, 2);
    cache.forgetFile(1);
    cache.get(1, 0, fill);
    assert.equal(fills, 3);
    assert.throws(() => new PageCache(1), /page_cache_size/);
    assert.throws(() => new FileDescriptorCache(1), /max_file_descriptors/);
  });
});
