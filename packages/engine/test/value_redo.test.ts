/**
 * Values and Neon's in-process redo: every record kind round-trips through the binary encoding,
 * will_init is read off the first bytes, and each redo has the effect PostgreSQL's redo has —
 * the expected bytes are computed here from PostgreSQL's layout constants written out by hand
 * (8 KiB pages, 24-byte page header, 4 heap blocks per VM byte, 4 xids per CLOG byte, 20-byte
 * multixact member groups), not with the engine's own helpers.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { CorruptionError, WalRedoError } from "../src/errors.ts";
import { relBlockKey, slruBlockKey } from "../src/key/key.ts";
import { SlruKind } from "../src/key/rel_tag.ts";
import type { Lsn } from "../src/lsn.ts";
import { applyRecords } from "../src/redo/walredo.ts";
import {
  decodeValue,
  encodedValueLength,
  encodedValueWillInit,
  encodeValue,
  imageValue,
  isEncodedImage,
  type NeonWalRecord,
  recordValue,
  testRecord,
  type Value,
  valueWillInit,
} from "../src/value/value.ts";

const PAGE = 8192;
const HEADER = 24;
const vmRel = { spcNode: 1663, dbNode: 5, relNode: 16384, forkNum: 2 };
const mainRel = { ...vmRel, forkNum: 0 };
const lsn = (n: number) => n as Lsn;

/** A page whose header is non-zero (so PostgreSQL would set its LSN) and body all ones. */
function fullPage(fill = 0xff): Buffer {
  const page = Buffer.alloc(PAGE, fill);
  page.fill(0, 0, HEADER);
  page.writeUInt16LE(HEADER, 12); // pd_lower
  page.writeUInt16LE(PAGE, 14); // pd_upper ≠ 0: the page is not "new"
  return page;
}

const records: NeonWalRecord[] = [
  { type: "Postgres", willInit: true, rec: Buffer.from([1, 2, 3]) },
  { type: "Postgres", willInit: false, rec: Buffer.alloc(0) },
  { type: "ClearVisibilityMapFlags", newHeapBlkno: 7, oldHeapBlkno: null, flags: 3 },
  { type: "ClearVisibilityMapFlags", newHeapBlkno: null, oldHeapBlkno: 0xfffffffe, flags: 1 },
  { type: "ClogSetCommitted", xids: [3, 4, 0xffffffff], timestamp: -1234567890123 },
  { type: "ClogSetAborted", xids: [] },
  { type: "MultixactOffsetCreate", mid: 99, moff: 0xfffffff0 },
  {
    type: "MultixactMembersCreate",
    moff: 5,
    members: [
      { xid: 10, status: 1 },
      { xid: 11, status: 5 },
    ],
  },
  { type: "AuxFile", filePath: "pg_logical/mappings/x", content: Buffer.from("abc") },
  { type: "AuxFile", filePath: "pg_stat/é", content: null },
  { type: "TruncateVisibilityMap", truncByte: 2 ** 40 + 3, truncOffs: 5 },
  testRecord.append("+x"),
  testRecord.appendIf("y", "x"),
  testRecord.clear(),
  testRecord.init("héllo"),
];

describe("value encoding", () => {
  test("every record kind and images round-trip; lengths and will_init agree", () => {
    const values: Value[] = [
      imageValue(Buffer.alloc(0)),
      imageValue(fullPage()),
      ...records.map(recordValue),
    ];
    for (const value of values) {
      const encoded = encodeValue(value);
      assert.equal(encoded.length, encodedValueLength(value));
      assert.deepEqual(decodeValue(encoded), value);
      assert.equal(encodedValueWillInit(encoded), valueWillInit(value));
      assert.equal(isEncodedImage(encoded), value.kind === "image");
    }
    // An 8 KiB image costs one byte of overhead.
    assert.equal(encodeValue(imageValue(fullPage())).length, PAGE + 1);
    assert.ok(valueWillInit(recordValue(testRecord.init("a"))));
    assert.ok(!valueWillInit(recordValue(testRecord.append("a"))));
  });

  test("truncated or unknown encodings are CorruptionErrors, not wrong values", () => {
    const encoded = encodeValue(recordValue(records[4]!));
    for (let cut = 1; cut < encoded.length; cut++)
      assert.throws(() => decodeValue(encoded.subarray(0, cut)), CorruptionError, `cut at ${cut}`);
    assert.throws(() => decodeValue(Buffer.from([200, 0, 0])), CorruptionError);
    assert.throws(() => decodeValue(Buffer.alloc(0)), CorruptionError);
  });
});

describe("Neon redo", () => {
  test("ClearVisibilityMapFlags clears the heap block's bits and sets the page LSN", () => {
    // Heap block 7: map byte 7 / 4 = 1, bit offset (7 % 4) * 2 = 6 → bits 6-7 of byte 24 + 1.
    const key = relBlockKey(vmRel, 0);
    const base = fullPage();
    const record: NeonWalRecord = {
      type: "ClearVisibilityMapFlags",
      newHeapBlkno: 7,
      oldHeapBlkno: 4,
      flags: 0x03,
    };
    const page = applyRecords(key, lsn(0x5000), base, [{ lsn: lsn(0x1_0000_4000), record }]);
    // Heap block 4: map byte 1 too, offset 0. Byte 0 (heap blocks 0-3) is untouched.
    assert.equal(page[HEADER + 1], 0xff & ~(0x03 << 6) & ~0x03);
    assert.equal(page[HEADER + 0], 0xff);
    // pd_lsn: xlogid (high 32) then xrecoff (low 32), both little-endian.
    assert.equal(page.readUInt32LE(0), 1);
    assert.equal(page.readUInt32LE(4), 0x4000);
    assert.equal(base[HEADER + 1], 0xff, "the base image is never modified");
    // A heap block of another map page is refused, naming key and LSN.
    assert.throws(
      () =>
        applyRecords(key, lsn(8), base, [
          {
            lsn: lsn(8),
            record: { ...record, newHeapBlkno: (PAGE - HEADER) * 4, oldHeapBlkno: null },
          },
        ]),
      (error: unknown) => error instanceof WalRedoError && error.context.lsn === "0/8",
    );
    // Only on a visibility-map key.
    assert.throws(
      () => applyRecords(relBlockKey(mainRel, 0), lsn(8), base, [{ lsn: lsn(8), record }]),
      WalRedoError,
    );
  });

  test("ClogSetCommitted/Aborted set two status bits per xid; commit appends the timestamp", () => {
    // xid 5: byte 5 / 4 = 1, shift (5 % 4) * 2 = 2. xid 32768 + 6 is on page 1 (32768 xids a page).
    const key = slruBlockKey(SlruKind.Clog, 0, 0);
    const page = applyRecords(key, lsn(100), Buffer.alloc(PAGE), [
      {
        lsn: lsn(16),
        record: { type: "ClogSetCommitted", xids: [5, 0], timestamp: 1_700_000_000_000_000 },
      },
      { lsn: lsn(24), record: { type: "ClogSetAborted", xids: [2] } },
      { lsn: lsn(32), record: { type: "ClogSetCommitted", xids: [9], timestamp: 42 } },
    ]);
    assert.equal(page.length, PAGE + 8);
    assert.equal(page[1], 0b01 << 2, "xid 5 committed");
    assert.equal(page[0], 0b01 | (0b10 << 4), "xid 0 committed, xid 2 aborted");
    assert.equal(page[2], 0b01 << 2, "xid 9 committed");
    // The trailer is the latest commit's timestamp, big-endian, replacing the older one.
    assert.equal(page.readBigInt64BE(PAGE), 42n);
    // An xid of another page is refused.
    assert.throws(
      () =>
        applyRecords(key, lsn(100), Buffer.alloc(PAGE), [
          { lsn: lsn(8), record: { type: "ClogSetAborted", xids: [32768 + 6] } },
        ]),
      /SLRU page 1/,
    );
  });

  test("Multixact offsets and members land where PostgreSQL puts them", () => {
    // Offsets: 2048 u32 a page, little-endian; multi 2048 + 3 is entry 3 of page 1.
    const offsets = applyRecords(
      slruBlockKey(SlruKind.MultiXactOffsets, 0, 1),
      lsn(8),
      Buffer.alloc(PAGE),
      [{ lsn: lsn(8), record: { type: "MultixactOffsetCreate", mid: 2048 + 3, moff: 0xabcdef01 } }],
    );
    assert.equal(offsets.readUInt32LE(3 * 4), 0xabcdef01);
    // Members: groups of 4 flag bytes + 4 xids (20 bytes), 409 groups a page. Offset 6 is group
    // 1 (bytes 20..40), member 2 of it: flag byte 20 + 2, xid at 20 + 4 + 2 * 4.
    const members = applyRecords(
      slruBlockKey(SlruKind.MultiXactMembers, 0, 0),
      lsn(8),
      Buffer.alloc(PAGE),
      [
        {
          lsn: lsn(8),
          record: {
            type: "MultixactMembersCreate",
            moff: 6,
            members: [
              { xid: 777, status: 0x05 },
              { xid: 778, status: 0x02 },
            ],
          },
        },
      ],
    );
    assert.equal(members[20 + 2], 0x05);
    assert.equal(members.readUInt32LE(20 + 4 + 2 * 4), 777);
    assert.equal(members[20 + 3], 0x02);
    assert.equal(members.readUInt32LE(20 + 4 + 3 * 4), 778);
    assert.equal(
      members.subarray(0, 20).every((b) => b === 0),
      true,
    );
  });

  test("TruncateVisibilityMap zeroes the map after the cut and masks the cut byte", () => {
    const page = applyRecords(relBlockKey(vmRel, 3), lsn(8), fullPage(), [
      { lsn: lsn(8), record: { type: "TruncateVisibilityMap", truncByte: 10, truncOffs: 3 } },
    ]);
    assert.equal(page[HEADER + 9], 0xff);
    assert.equal(page[HEADER + 10], 0b0000_0111);
    assert.ok(page.subarray(HEADER + 11).every((b) => b === 0));
  });

  test("Test records append, clear, init and check only_if as Neon's do", () => {
    const key = relBlockKey(mainRel, 1);
    const run = (base: Buffer | null, recs: NeonWalRecord[]) =>
      applyRecords(
        key,
        lsn(1000),
        base,
        recs.map((record, i) => ({ lsn: lsn(8 * (i + 1)), record })),
      ).toString("utf8");
    assert.equal(
      run(null, [testRecord.init("a"), testRecord.append("b"), testRecord.appendIf("c", "ab")]),
      "abc",
    );
    assert.equal(run(Buffer.from("old"), [testRecord.clear(), testRecord.append("new")]), "new");
    assert.throws(() => run(Buffer.from("x"), [testRecord.appendIf("c", "y")]), /only_if/);
    assert.throws(() => run(Buffer.from("x"), [testRecord.init("a")]), /must clear and come first/);
  });

  test("PostgreSQL-native records are carried but applying one says why it cannot", () => {
    assert.throws(
      () =>
        applyRecords(relBlockKey(mainRel, 1), lsn(64), fullPage(), [
          { lsn: lsn(64), record: { type: "Postgres", willInit: false, rec: Buffer.from([1]) } },
        ]),
      (error: unknown) =>
        error instanceof WalRedoError &&
        /PostgreSQL-native redo is not available/.test(error.message) &&
        error.context.lsn === "0/40" &&
        error.context.requestLsn === "0/40",
    );
  });
});
