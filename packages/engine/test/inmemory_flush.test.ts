/**
 * The in-memory layer's flush paths and the byte helpers they rest on: keys put in order with one
 * version each stream in put order; anything else is scattered into key order; both write an L0
 * that reads like the layer, including values larger than the flush window and the write buffer.
 * Layers reuse the index arrays of deleted ones (and a flush keeps them until it ends); the JS
 * CRC-32 equals zlib's; key words decode and order like the key bytes.
 */
import assert from "node:assert/strict";
import path from "node:path";
import { describe, test } from "node:test";
import { crc32 } from "node:zlib";
import { InvalidArgumentError } from "../src/errors.ts";
import type { TenantId, TimelineId } from "../src/ids.ts";
import { type Key, keyFromFields, keyToBytes } from "../src/key/key.ts";
import type { Lsn } from "../src/lsn.ts";
import { InMemoryLayer } from "../src/storage_layer/inmemory_layer.ts";
import {
  copyBytes,
  copyWithCrc32,
  crc32Of,
  decodeKeyWords,
} from "../src/storage_layer/layer_file_format.ts";
import { LayerFileReader } from "../src/storage_layer/layer_file_reader.ts";
import { formatLayerName } from "../src/storage_layer/layer_name.ts";
import {
  decodeValue,
  imageValue,
  recordValue,
  testRecord,
  type Value,
} from "../src/value/value.ts";
import { rng, seedFromEnv, tempDirectory, testIo } from "./helpers.ts";

const tenantId = "aa".repeat(16) as TenantId;
const timelineId = "bb".repeat(16) as TimelineId;

function newLayer(directory: string, sequence: number, lsnStart = 0x100): InMemoryLayer {
  return new InMemoryLayer({
    directory,
    tenantId,
    timelineId,
    lsnStart: lsnStart as Lsn,
    sequence,
  });
}

/** Every (key, lsn, value) of the layer's L0, in file order. */
function readAll(file: string): Array<[Key, number, Buffer]> {
  const reader = LayerFileReader.open(file, testIo(256, 4));
  const out: Array<[Key, number, Buffer]> = [];
  for (const e of reader.entries())
    out.push([e.key, e.lsn, Buffer.from(reader.readBlob(e.blobOffset, e.length))]);
  reader.verify();
  reader.close();
  return out;
}

/** What the L0 must hold: the model's versions sorted by (key, LSN). */
function expected(model: Map<Key, Array<[number, Value]>>): Array<[Key, number, Value]> {
  const out: Array<[Key, number, Value]> = [];
  for (const key of [...model.keys()].sort()) {
    for (const [lsn, value] of [...model.get(key)!].sort((a, b) => a[0] - b[0]))
      out.push([key, lsn, value]);
  }
  return out;
}

async function flushAndCompare(
  layer: InMemoryLayer,
  directory: string,
  model: Map<Key, Array<[number, Value]>>,
  lsnEnd: number,
  seed: number,
): Promise<void> {
  layer.freeze(lsnEnd as Lsn);
  const { path: file, summary } = await layer.writeToDisk((n) =>
    path.join(directory, formatLayerName(n)),
  );
  const want = expected(model);
  const got = readAll(file);
  assert.equal(summary.entryCount, want.length, `seed ${seed}`);
  assert.equal(got.length, want.length, `seed ${seed}`);
  for (let i = 0; i < want.length; i++) {
    assert.equal(got[i]![0], want[i]![0], `seed ${seed}: key of entry ${i}`);
    assert.equal(got[i]![1], want[i]![1], `seed ${seed}: LSN of entry ${i}`);
    assert.deepEqual(decodeValue(got[i]![2]), want[i]![2], `seed ${seed}: value of entry ${i}`);
  }
}

describe("in-memory layer flush", () => {
  test("keys in order, one version each (streamed in put order), with big values", async () => {
    using dir = tempDirectory();
    const seed = seedFromEnv();
    const random = rng(seed);
    const layer = newLayer(dir.path, 1);
    const model = new Map<Key, Array<[number, Value]>>();
    let lsn = 0x100;
    for (let block = 0; block < 3000; block++) {
      lsn += 8;
      // Mostly small, some above the 1 MiB flush window and write buffers.
      const size =
        block % 1000 === 999
          ? 1024 * 1024 + Math.floor(random() * 300_000)
          : 1 + Math.floor(random() * 700);
      const value = imageValue(Buffer.alloc(size, block & 0xff));
      const key = keyFromFields(0, 1663, 5, 16384 + (block >> 10), 0, block);
      layer.put(key, lsn as Lsn, value);
      model.set(key, [[lsn, value]]);
    }
    await flushAndCompare(layer, dir.path, model, lsn + 1, seed);
    layer.delete();
  });

  test("random keys, many versions, replaced values and big values (scattered)", async () => {
    using dir = tempDirectory();
    const seed = seedFromEnv();
    const random = rng(seed);
    for (let round = 0; round < 3; round++) {
      // Later rounds reuse the arrays of the deleted layer before them.
      const layer = newLayer(dir.path, round, 0x100);
      const model = new Map<Key, Array<[number, Value]>>();
      let lsn = 0x100;
      const keyCount = [5, 300, 5000][round]!;
      for (let i = 0; i < 20_000; i++) {
        if (random() < 0.9) lsn += 8;
        const k = Math.floor(random() * keyCount);
        const key = keyFromFields(
          0,
          1663 + (k % 3),
          5,
          16384 + (k % 7),
          k % 2,
          (k * 2654435761) >>> 0,
        );
        const versions = model.get(key) ?? [];
        const value =
          random() < 0.001
            ? imageValue(Buffer.alloc(1024 * 1024 + 17, i & 0xff))
            : random() < 0.5
              ? imageValue(Buffer.alloc(1 + Math.floor(random() * 200), i & 0xff))
              : recordValue(testRecord.append(`+${i}`));
        layer.put(key, lsn as Lsn, value);
        // A second put at one (key, LSN) replaces the first.
        if (versions.length > 0 && versions[versions.length - 1]![0] === lsn) versions.pop();
        versions.push([lsn, value]);
        model.set(key, versions);
      }
      assert.equal(layer.keyCount, model.size);
      await flushAndCompare(layer, dir.path, model, lsn + 8, seed);
      // Reads still agree after the flush.
      for (const [key, versions] of model) {
        const found: number[] = [];
        layer.visitVersions(key, 0 as Lsn, (lsn + 8) as Lsn, (l) => {
          found.push(l);
          return true;
        });
        const newestImage = versions.findLastIndex(([, v]) => v.kind === "image");
        const visible = versions.slice(Math.max(0, newestImage)).map(([l]) => l);
        assert.deepEqual(found, visible.reverse(), `seed ${seed}`);
      }
      layer.delete();
    }
  });

  test("a delete while the flush runs waits for it; the next layer starts empty", async () => {
    using dir = tempDirectory();
    const layer = newLayer(dir.path, 1);
    const model = new Map<Key, Array<[number, Value]>>();
    for (let i = 0; i < 50_000; i++) {
      const key = keyFromFields(0, 1663, 5, 16384, 0, (i * 7919) % 50_000);
      const value = imageValue(Buffer.from(`value ${i}`));
      layer.put(key, (0x108 + 8 * i) as Lsn, value);
      model.set(key, [[0x108 + 8 * i, value]]);
    }
    layer.freeze((0x108 + 8 * 50_000) as Lsn);
    const flushing = layer.writeToDisk((n) => path.join(dir.path, formatLayerName(n)));
    // The flush yields to the event loop; a delete now must not hand its arrays on yet.
    await new Promise((resolve) => setImmediate(resolve));
    layer.delete();
    const next = newLayer(dir.path, 2);
    for (let i = 0; i < 50_000; i++)
      next.put(
        keyFromFields(0, 1663, 5, 99, 0, i),
        (0x108 + 8 * i) as Lsn,
        imageValue(Buffer.alloc(64, 1)),
      );
    const { path: file } = await flushing;
    const got = readAll(file);
    const want = expected(model);
    assert.equal(got.length, want.length);
    for (let i = 0; i < want.length; i += 997) {
      assert.equal(got[i]![0], want[i]![0]);
      assert.deepEqual(decodeValue(got[i]![2]), want[i]![2]);
    }
    next.delete();
    const third = newLayer(dir.path, 3);
    assert.equal(third.keyCount, 0);
    let seen = 0;
    third.visitVersions(keyFromFields(0, 1663, 5, 99, 0, 5), 0 as Lsn, 0xffff_ffff as Lsn, () => {
      seen++;
      return true;
    });
    assert.equal(seen, 0, "a reused table holds no keys of the layer before");
    third.delete();
    assert.throws(() => layer.visitVersions(want[0]![0], 0 as Lsn, 1000 as Lsn, () => true));
  });
});

describe("layer byte helpers", () => {
  test("the JS CRC-32 equals zlib's at every length, and copies as it goes", () => {
    const seed = seedFromEnv();
    const random = rng(seed);
    const source = Buffer.alloc(4096);
    for (let i = 0; i < source.length; i++) source[i] = Math.floor(random() * 256);
    const sourceView = new DataView(source.buffer, source.byteOffset, source.length);
    const target = Buffer.alloc(4200);
    const targetView = new DataView(target.buffer, target.byteOffset, target.length);
    for (let length = 0; length <= 1100; length++) {
      const start = Math.floor(random() * (source.length - length));
      const want = crc32(source.subarray(start, start + length));
      assert.equal(crc32Of(source, sourceView, start, start + length), want, `length ${length}`);
      const at = Math.floor(random() * 50);
      target.fill(0);
      assert.equal(
        copyWithCrc32(source, sourceView, start, length, target, targetView, at),
        want,
        `length ${length}`,
      );
      assert.ok(target.subarray(at, at + length).equals(source.subarray(start, start + length)));
      target.fill(0);
      copyBytes(source, sourceView, start, length, target, targetView, at);
      assert.ok(target.subarray(at, at + length).equals(source.subarray(start, start + length)));
      assert.equal(target[at + length] ?? 0, 0, "nothing past the end");
    }
  });

  test("key words are the key's bytes, in order; a bad key is refused", () => {
    const words = new Uint32Array(5);
    const key = keyFromFields(0x12, 0x3456789a, 0xbcdef012, 0x34567890, 0xab, 0xcdef0123);
    decodeKeyWords(key, words);
    const bytes = keyToBytes(key);
    assert.deepEqual(
      [...words],
      [
        bytes.readUInt32BE(0),
        bytes.readUInt32BE(4),
        bytes.readUInt32BE(8),
        bytes.readUInt32BE(12),
        bytes.readUInt16BE(16),
      ],
    );
    decodeKeyWords(key.toUpperCase() as Key, words);
    assert.equal(words[4], bytes.readUInt16BE(16));
    for (const bad of ["", "00", `${key}0`, `${key.slice(0, 35)}g`, `x${key.slice(1)}`])
      assert.throws(() => decodeKeyWords(bad as Key, words), InvalidArgumentError, bad);
  });
});
