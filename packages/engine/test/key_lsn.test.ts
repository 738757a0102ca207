/**
 * Keys, LSNs, ids and layer names: Neon's text forms, the byte layout of the 18-byte key, the
 * constructors of every key kind (checked against field values written out by hand from the
 * reference table, not against the code), ordering, and the errors bad text gets.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, test } from "node:test";
import { InvalidArgumentError } from "../src/errors.ts";
import { asGeneration, parseTenantId, parseTenantShardId, parseTimelineId } from "../src/ids.ts";
import {
  AUX_FILES_KEY,
  CHECKPOINT_KEY,
  CONTROLFILE_KEY,
  compareKeys,
  DBDIR_KEY,
  describeKey,
  formatKey,
  isCompactKey,
  isRelBlockKey,
  isRelSizeKey,
  KEY_MAX,
  KEY_MIN,
  keyAdd,
  keyFromBytes,
  keyFromFields,
  keyNext,
  keyPrevious,
  keyToBytes,
  parseKey,
  relBlockKey,
  relDirKey,
  relKeyRange,
  relmapFileKey,
  relSizeKey,
  relTagOfKey,
  slruBlockKey,
  slruDirKey,
  slruSegmentSizeKey,
  TWOPHASEDIR_KEY,
  twoPhaseFileKey,
} from "../src/key/key.ts";
import { formatRelTag, parseRelTag, SlruKind } from "../src/key/rel_tag.ts";
import {
  alignLsn,
  formatLsn,
  formatLsnHex,
  LSN_MAX,
  type Lsn,
  lsnFromParts,
  parseLsn,
  parseLsnHex,
  readLsn,
  writeLsn,
} from "../src/lsn.ts";
import {
  formatLayerName,
  localLayerFileName,
  parseLayerFileName,
  parseLayerName,
  remoteLayerObjectName,
} from "../src/storage_layer/layer_name.ts";

const rel = { spcNode: 1663, dbNode: 5, relNode: 16384, forkNum: 0 };

/** The key's text written field by field: 2 + 8 + 8 + 8 + 2 + 8 hex digits. */
function fieldsText(f1: number, f2: number, f3: number, f4: number, f5: number, f6: number) {
  const hex = (value: number, digits: number) =>
    value.toString(16).toUpperCase().padStart(digits, "0");
  return hex(f1, 2) + hex(f2, 8) + hex(f3, 8) + hex(f4, 8) + hex(f5, 2) + hex(f6, 8);
}

describe("key", () => {
  test("18 bytes, big-endian fields at offsets 0, 1, 5, 9, 13, 14; text is 36 upper hex", () => {
    const key = keyFromFields(0x01, 0x02030405, 0x06070809, 0x0a0b0c0d, 0x0e, 0x0f101112);
    const bytes = keyToBytes(key);
    assert.equal(bytes.length, 18);
    assert.deepEqual([...bytes], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18]);
    assert.equal(formatKey(key), "0102030405060708090A0B0C0D0E0F101112");
    assert.equal(keyFromBytes(Buffer.concat([Buffer.from([9, 9]), bytes]), 2), key);
    assert.equal(parseKey(formatKey(key)), key);
    assert.equal(parseKey(formatKey(key).toLowerCase()), key);
    assert.equal(formatKey(KEY_MIN), "0".repeat(36));
    assert.equal(formatKey(KEY_MAX), "F".repeat(36));
  });

  test("bad key text is an InvalidArgumentError that quotes it", () => {
    for (const bad of [
      "",
      "00",
      "0".repeat(35),
      "0".repeat(37),
      `${"0".repeat(35)}G`,
      " ".repeat(36),
    ]) {
      assert.throws(
        () => parseKey(bad),
        (error: unknown) =>
          error instanceof InvalidArgumentError &&
          /expected exactly 36 hex digits/.test(error.message),
        `accepted '${bad}'`,
      );
    }
  });

  test("orders by fields, which is byte order, which is text order", () => {
    const keys = [
      keyFromFields(0, 1663, 5, 16384, 0, 0xffffffff),
      keyFromFields(0, 1663, 5, 16384, 1, 0),
      keyFromFields(0, 1663, 5, 16384, 0, 7),
      keyFromFields(1, 0, 0, 0, 0, 0),
      keyFromFields(0, 1664, 0, 0, 0, 0),
      keyFromFields(0, 1663, 5, 16385, 0, 0),
    ];
    const byBytes = [...keys].sort((a, b) => Buffer.compare(keyToBytes(a), keyToBytes(b)));
    assert.deepEqual([...keys].sort(compareKeys), byBytes);
    assert.equal(byBytes[0], keyFromFields(0, 1663, 5, 16384, 0, 7));
    assert.equal(byBytes.at(-1), keyFromFields(1, 0, 0, 0, 0, 0));
  });

  test("add, next and previous carry across bytes and clamp at the ends", () => {
    const key = keyFromFields(0, 0, 0, 0, 0, 0xffffffff);
    assert.equal(formatKey(keyNext(key)), fieldsText(0, 0, 0, 0, 1, 0));
    assert.equal(keyPrevious(keyNext(key)), key);
    assert.equal(keyAdd(keyFromFields(0, 0, 0, 0, 0, 10), 300), keyFromFields(0, 0, 0, 0, 0, 310));
    assert.equal(keyNext(KEY_MAX), KEY_MAX);
    assert.equal(keyPrevious(KEY_MIN), KEY_MIN);
  });

  test("constructors match the reference table field by field", () => {
    const cases: Array<[string, string, string]> = [
      ["db dir", formatKey(DBDIR_KEY), fieldsText(0, 0, 0, 0, 0, 0)],
      ["relmap", formatKey(relmapFileKey(1663, 5)), fieldsText(0, 1663, 5, 0, 0, 0)],
      ["rel dir", formatKey(relDirKey(1663, 5)), fieldsText(0, 1663, 5, 0, 0, 1)],
      ["rel block", formatKey(relBlockKey(rel, 42)), fieldsText(0, 1663, 5, 16384, 0, 42)],
      ["rel size", formatKey(relSizeKey(rel)), fieldsText(0, 1663, 5, 16384, 0, 0xffffffff)],
      ["slru dir", formatKey(slruDirKey(SlruKind.MultiXactOffsets)), fieldsText(1, 2, 0, 0, 0, 0)],
      ["slru block", formatKey(slruBlockKey(SlruKind.Clog, 3, 17)), fieldsText(1, 0, 1, 3, 0, 17)],
      [
        "slru size",
        formatKey(slruSegmentSizeKey(SlruKind.MultiXactMembers, 4)),
        fieldsText(1, 1, 1, 4, 0, 0xffffffff),
      ],
      ["twophase dir", formatKey(TWOPHASEDIR_KEY), fieldsText(2, 0, 0, 0, 0, 0)],
      ["twophase file", formatKey(twoPhaseFileKey(1234)), fieldsText(2, 0, 0, 0, 0, 1234)],
      ["control file", formatKey(CONTROLFILE_KEY), fieldsText(3, 0, 0, 0, 0, 0)],
      ["checkpoint", formatKey(CHECKPOINT_KEY), fieldsText(3, 0, 0, 0, 0, 1)],
      ["aux v1", formatKey(AUX_FILES_KEY), fieldsText(3, 0, 0, 0, 0, 2)],
    ];
    for (const [what, actual, expected] of cases) assert.equal(actual, expected, what);
  });

  test("a relation's range holds its blocks and size key and nothing of the next fork", () => {
    const range = relKeyRange(rel);
    const inside = [relBlockKey(rel, 0), relBlockKey(rel, 0xfffffffe), relSizeKey(rel)];
    for (const key of inside) assert.ok(range.start <= key && key < range.end);
    const fsm = { ...rel, forkNum: 1 };
    assert.equal(range.end, relBlockKey(fsm, 0));
    assert.ok(isRelBlockKey(relBlockKey(rel, 9)));
    assert.ok(!isRelBlockKey(relSizeKey(rel)));
    assert.ok(isRelSizeKey(relSizeKey(rel)));
    assert.ok(!isRelBlockKey(relDirKey(1663, 5)));
    assert.deepEqual(relTagOfKey(relBlockKey(fsm, 3)), fsm);
    assert.ok(isCompactKey(relBlockKey(rel, 1)));
    assert.ok(!isCompactKey(keyFromFields(0, 0x10000, 1, 1, 0, 0)));
  });

  test("describes keys in relation and SLRU terms", () => {
    assert.equal(describeKey(relBlockKey(rel, 42)).text, "rel 1663/5/16384 blk 42");
    assert.equal(describeKey(relSizeKey({ ...rel, forkNum: 2 })).text, "rel 1663/5/16384_vm size");
    assert.match(describeKey(slruBlockKey(SlruKind.Clog, 0, 5)).text, /seg 0 blk 5/);
    assert.equal(describeKey(CHECKPOINT_KEY).text, "checkpoint");
  });

  test("relation tags: Neon's text form, with clear errors", () => {
    for (const text of ["1663/5/16384", "1663/5/16384_fsm", "1664/0/1262_vm", "1663/5/1_init"])
      assert.equal(formatRelTag(parseRelTag(text)), text);
    for (const bad of ["1663/5", "1663/5/x", "1663/5/1_foo", "1663/5/99999999999"])
      assert.throws(() => parseRelTag(bad), InvalidArgumentError, bad);
  });
});

describe("LSN", () => {
  test("X/Y text: upper hex, unpadded; 16-digit hex in layer names", () => {
    const lsn = lsnFromParts(0x1bc, 0xb5734cd8);
    assert.equal(lsn, 0x1bc * 2 ** 32 + 0xb5734cd8);
    assert.equal(formatLsn(lsn), "1BC/B5734CD8");
    assert.equal(parseLsn("1BC/B5734CD8"), lsn);
    assert.equal(parseLsn("1bc/b5734cd8"), lsn);
    assert.equal(formatLsn(0 as Lsn), "0/0");
    assert.equal(formatLsn(parseLsn("0/16B5A50")), "0/16B5A50");
    assert.equal(formatLsnHex(lsn), "000001BCB5734CD8");
    assert.equal(parseLsnHex("000001BCB5734CD8"), lsn);
    const buffer = Buffer.alloc(10);
    writeLsn(buffer, lsn, 1);
    assert.equal(buffer.toString("hex", 1, 9), "000001bcb5734cd8");
    assert.equal(readLsn(buffer, 1), lsn);
    assert.equal(alignLsn(17 as Lsn), 24);
    assert.equal(alignLsn(24 as Lsn), 24);
  });

  test("anything else is an InvalidArgumentError naming the input", () => {
    for (const bad of ["", "0", "1/2/3", "/1", "1/", "G/0", "0/123456789", " 0/1", "0x1/0"]) {
      assert.throws(
        () => parseLsn(bad),
        (error: unknown) =>
          error instanceof InvalidArgumentError && error.message.includes(`'${bad}'`),
        `accepted '${bad}'`,
      );
    }
    for (const bad of ["", "1BCB5734CD8", "000001BCB5734CD8F", "000001BCB5734CDZ"])
      assert.throws(() => parseLsnHex(bad), InvalidArgumentError, bad);
  });

  test("LSNs beyond 2^53 are refused rather than rounded; u64::MAX is LSN_MAX", () => {
    // Neon's Lsn::MAX is a sentinel ("latest"), kept as the largest safe integer here.
    assert.equal(parseLsn("FFFFFFFF/FFFFFFFF"), LSN_MAX);
    assert.equal(formatLsn(LSN_MAX), "FFFFFFFF/FFFFFFFF");
    assert.throws(() => parseLsn("FFFFFFFF/0"), InvalidArgumentError);
    assert.throws(() => parseLsn("200000/0"), InvalidArgumentError);
    // 2^53-1 itself is the sentinel; the largest ordinary LSN is just below it.
    assert.equal(formatLsn(parseLsn("1FFFFF/FFFFFFF8")), "1FFFFF/FFFFFFF8");
    assert.ok(Number.isSafeInteger(LSN_MAX));
  });
});

describe("ids", () => {
  test("tenant and timeline ids are 32 lowercase hex digits", () => {
    const id = "0123456789abcdef0123456789abcdef";
    assert.equal(parseTenantId(id), id);
    assert.equal(parseTimelineId(id), id);
    for (const bad of ["", id.toUpperCase(), `${id}0`, id.slice(1), `${id.slice(1)}g`])
      assert.throws(() => parseTenantId(bad), InvalidArgumentError, bad);
    assert.deepEqual(parseTenantShardId(id).tenantId, id);
    assert.throws(() => asGeneration(-1));
  });
});

describe("layer names", () => {
  const dataPath = path.resolve(
    import.meta.dirname,
    "../../../../shared/data/neon/odd-brook-layernames.txt",
  );

  test("all 26,690 names of a real timeline parse and format back identically", () => {
    const names = readFileSync(dataPath, "utf8")
      .split("\n")
      .filter((line) => line.length > 0);
    assert.equal(names.length, 26_690);
    let images = 0;
    for (const text of names) {
      const name = parseLayerName(text);
      assert.equal(formatLayerName(name), text);
      if (name.kind === "image") {
        images++;
        assert.equal(name.lsnRange.end, name.lsnRange.start + 1);
      } else assert.ok(name.lsnRange.start < name.lsnRange.end);
      assert.ok(name.keyRange.start < name.keyRange.end);
    }
    assert.equal(images, 24_070);
  });

  test("generation suffixes: -v1-<gen> locally, -<gen> remotely, none for no generation", () => {
    const bare =
      "000000000000000000000000000000000000-000000067F00004002000089C30100000000__0000001C760FA190-00000038E67ABFA0";
    const name = parseLayerName(bare);
    const generation = asGeneration(0x1a);
    assert.equal(localLayerFileName(name, generation), `${bare}-v1-0000001a`);
    assert.equal(remoteLayerObjectName(name, generation), `${bare}-0000001a`);
    assert.equal(localLayerFileName(name, null), bare);
    for (const text of [`${bare}-v1-0000001a`, `${bare}-0000001a`]) {
      const parsed = parseLayerFileName(text);
      assert.equal(parsed.generation, 0x1a);
      assert.equal(formatLayerName(parsed.name), bare);
    }
    assert.equal(parseLayerFileName(bare).generation, undefined);
    assert.throws(() => parseLayerName(`${bare}-0000001a`), /unexpected generation suffix/);
  });

  test("malformed names are refused with the reason", () => {
    const key = "000000067F00004002000089C30100000000";
    const cases: Array<[string, RegExp]> = [
      ["", /invalid layer name/],
      [`${key}-${key}__0000001C760FA190`, /empty key range/],
      [`${"0".repeat(36)}-${key}__0000001C760FA190-0000001C760FA190`, /empty LSN range/],
      [`${"0".repeat(36)}-${key}__0000001C760FA190-v1`, /invalid layer name|without a generation/],
      [`${"0".repeat(36)}-${key}_0000001C760FA190`, /invalid layer name/],
    ];
    for (const [text, message] of cases)
      assert.throws(() => parseLayerFileName(text), message, text);
  });
});
