/**
 * Layer files: what the writer streams, the reader finds, newest first, with will_init stops; a
 * damaged byte anywhere a read touches is a CorruptionError naming the file.
 */
import assert from "node:assert/strict";
import { closeSync, openSync, readFileSync, writeFileSync, writeSync } from "node:fs";
import path from "node:path";
import { describe, test } from "node:test";
import { CorruptionError } from "../src/errors.ts";
import type { TenantId, TimelineId } from "../src/ids.ts";
import { KEY_MAX, KEY_MIN, type Key, keyFromFields } from "../src/key/key.ts";
import type { Lsn } from "../src/lsn.ts";
import { LayerFileReader } from "../src/storage_layer/layer_file_reader.ts";
import { LayerFileWriter } from "../src/storage_layer/layer_file_writer.ts";
import {
  decodeValue,
  encodeValue,
  imageValue,
  recordValue,
  testRecord,
} from "../src/value/value.ts";
import { rng, seedFromEnv, tempDirectory, testIo } from "./helpers.ts";

const tenantId = "11".repeat(16) as TenantId;
const timelineId = "22".repeat(16) as TimelineId;
const FULL = { start: KEY_MIN, end: KEY_MAX };

function key(n: number): Key {
  return keyFromFields(0, 1663, 5, 16384, 0, n);
}

async function writeDelta(
  directory: string,
  entries: Array<[Key, number, Buffer, boolean]>,
  lsnEnd: number,
) {
  const writer = new LayerFileWriter({
    directory,
    tenantId,
    timelineId,
    kind: "delta",
    lsnRange: { start: 1 as Lsn, end: lsnEnd as Lsn },
  });
  for (const [k, lsn, value, willInit] of entries) writer.put(k, lsn as Lsn, value, willInit);
  const file = path.join(directory, "layer");
  const summary = await writer.finish(file, FULL);
  return { file, summary };
}

describe("layer file", () => {
  test("finds every version newest first across many leaves and index levels", async () => {
    using dir = tempDirectory();
    const entries: Array<[Key, number, Buffer, boolean]> = [];
    // 3000 keys × 20 versions = 60,000 entries: about 270 leaves, a two-level index.
    for (let k = 0; k < 3000; k++) {
      for (let v = 0; v < 20; v++) {
        const value =
          v === 0
            ? encodeValue(imageValue(Buffer.from(`base ${k}`)))
            : encodeValue(recordValue(testRecord.append(`+${v}`)));
        entries.push([key(k), 10 + v * 10, value, v === 0]);
      }
    }
    const { file, summary } = await writeDelta(dir.path, entries, 1000);
    assert.equal(summary.entryCount, 60_000);
    assert.ok(summary.indexHeight >= 2);
    const reader = LayerFileReader.open(file, testIo());
    const seen: number[] = [];
    reader.visitVersions(key(1234), 1 as Lsn, 95 as Lsn, (lsn, offset, length, willInit) => {
      seen.push(lsn);
      const value = decodeValue(reader.readBlob(offset, length));
      assert.equal(value.kind === "image", willInit);
      return true;
    });
    assert.deepEqual(seen, [90, 80, 70, 60, 50, 40, 30, 20, 10]);
    // A floor above the image stops early; a key that is absent gives nothing.
    const aboveFloor: number[] = [];
    reader.visitVersions(key(7), 45 as Lsn, 1000 as Lsn, (lsn) => {
      aboveFloor.push(lsn);
      return true;
    });
    assert.equal(aboveFloor.length, 16);
    let absent = 0;
    reader.visitVersions(key(5000), 1 as Lsn, 1000 as Lsn, () => {
      absent++;
      return true;
    });
    assert.equal(absent, 0);
    assert.equal(reader.verify(), 60_000);
    reader.close();
  });

  test("random lookups agree with a model", async () => {
    const seed = seedFromEnv();
    const random = rng(seed);
    using dir = tempDirectory();
    const model = new Map<Key, Array<[number, string]>>();
    const entries: Array<[Key, number, Buffer, boolean]> = [];
    for (let k = 0; k < 500; k++) {
      let lsn = 1;
      const versions: Array<[number, string]> = [];
      const count = 1 + Math.floor(random() * 30);
      for (let v = 0; v < count; v++) {
        lsn += 1 + Math.floor(random() * 50);
        const text = `k${k}v${v}`;
        versions.push([lsn, text]);
        entries.push([key(k * 3), lsn, encodeValue(imageValue(Buffer.from(text))), false]);
      }
      model.set(key(k * 3), versions);
    }
    const { file } = await writeDelta(dir.path, entries, 100_000);
    const reader = LayerFileReader.open(file, testIo(16, 4));
    for (let i = 0; i < 2000; i++) {
      const k = key(Math.floor(random() * 1500));
      const end = 1 + Math.floor(random() * 1600);
      const expected = (model.get(k) ?? [])
        .filter(([lsn]) => lsn < end)
        .map(([lsn, text]) => `${lsn}:${text}`)
        .reverse();
      const actual: string[] = [];
      reader.visitVersions(k, 0 as Lsn, end as Lsn, (lsn, offset, length) => {
        actual.push(
          `${lsn}:${(decodeValue(reader.readBlob(offset, length)) as { image: Buffer }).image.toString()}`,
        );
        return true;
      });
      assert.deepEqual(actual, expected, `seed ${seed}: key ${k} end ${end}`);
    }
    reader.close();
  });

  test("refuses out-of-order entries and LSNs outside the range", async () => {
    using dir = tempDirectory();
    const writer = new LayerFileWriter({
      directory: dir.path,
      tenantId,
      timelineId,
      kind: "delta",
      lsnRange: { start: 10 as Lsn, end: 20 as Lsn },
    });
    const value = encodeValue(imageValue(Buffer.from("x")));
    writer.put(key(1), 12 as Lsn, value, true);
    assert.throws(() => writer.put(key(1), 12 as Lsn, value, true), /not after the previous entry/);
    assert.throws(() => writer.put(key(0), 15 as Lsn, value, true), /not after the previous entry/);
    assert.throws(() => writer.put(key(2), 20 as Lsn, value, true), /outside/);
    writer.abort();
  });

  test("a flipped byte in a value, an index node or the header is a CorruptionError naming the file", async () => {
    using dir = tempDirectory();
    const entries: Array<[Key, number, Buffer, boolean]> = [];
    for (let k = 0; k < 400; k++)
      entries.push([key(k), 5, encodeValue(imageValue(Buffer.alloc(100, k))), true]);
    const { file, summary } = await writeDelta(dir.path, entries, 10);
    const pristine = readFileSync(file);
    const flip = (offset: number) => {
      const fd = openSync(file, "r+");
      writeSync(fd, Buffer.from([pristine[offset]! ^ 0x40]), 0, 1, offset);
      closeSync(fd);
    };
    const readAll = () => {
      const reader = LayerFileReader.open(file, testIo());
      try {
        reader.verify();
      } finally {
        reader.close();
      }
    };
    readAll();
    for (const offset of [600, summary.indexRootOffset + 100, 50, summary.fileSize - 10]) {
      writeFileSync(file, pristine);
      flip(offset);
      assert.throws(
        readAll,
        (error: unknown) => error instanceof CorruptionError && error.message.includes(file),
        `flip at ${offset}`,
      );
    }
    writeFileSync(file, pristine.subarray(0, pristine.length - 1));
    assert.throws(readAll, CorruptionError);
  });
});
