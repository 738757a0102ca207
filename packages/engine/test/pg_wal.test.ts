/**
 * The PostgreSQL 15 WAL decoder on a real segment: a pgbench segment written by PostgreSQL 15
 * (shared/data/neon/pgbench-wal-000000010000000000000001.zst, zstd-compressed, read in place).
 *
 * The ground truth below came from `pg_waldump` 15 at development time. The segment's first
 * 0x4AEC08 bytes are zeroed, including the long header of its first page, so pg_waldump was run
 * on a copy whose first page got a fabricated long header, from the first intact page:
 *   pg_waldump -p DIR -s 0/14B0000 -e 0/2000000 --stats=record     (and -b for block refs)
 * The test needs no pg_waldump; when one is installed it cross-checks the record count too.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, test } from "node:test";
import { decompress } from "fzstd";
import { CorruptionError } from "../src/errors.ts";
import { asLsn, formatLsn, type Lsn } from "../src/lsn.ts";
import {
  type BlockImage,
  CRC32C_INIT,
  crc32c,
  crc32cUpdate,
  type DecodedRecord,
  decodeRecord,
  lz4DecompressBlock,
  pglzDecompress,
  RMGR_NAMES,
  readPageHeader,
  readWalRecords,
  rebuildPage,
  setPageLsn,
  WalCrcError,
  WalImageError,
  WalReader,
  type WalRecord,
  WalRecordFormatError,
} from "../src/pg_wal/index.ts";
import { seededRandom } from "../src/util/random.ts";

const SEGMENT_PATH = path.resolve(
  import.meta.dirname,
  "../../../../shared/data/neon/pgbench-wal-000000010000000000000001.zst",
);
const SEGMENT_LSN = 0x1000000;
/** The first page with a valid header: everything before it in the file is zeros. */
const FIRST_VALID_PAGE = 0x4b0000;
const PAGE = 8192;

// ---- Ground truth from pg_waldump 15 (see the file comment). ----
const PGWALDUMP_RECORDS = 72919;
const PGWALDUMP_FIRST_LSN = "0/14B0828"; // "first record is after 0/14B0000, at 0/14B0828, skipping over 2088 bytes"
const PGWALDUMP_FIRST_PREV = "0/14AF478";
const PGWALDUMP_LAST_LSN = "0/1FFFEF8";
const PGWALDUMP_END_LSN = "0/1FFFF98"; // "WAL statistics between 0/14B0828 and 0/1FFFF98"
/** `--stats=record`: Type → N, keyed here as "Rmgr/opcode-hex" (opcode = xl_info & 0xF0). */
const PGWALDUMP_RECORD_TYPES: Record<string, number> = {
  "XLOG/b0": 12, // FPI
  "Transaction/80": 4, // COMMIT (opcode 0x00 | XLOG_XACT_HAS_INFO)
  "Transaction/60": 8, // INVALIDATION
  "Storage/10": 7, // CREATE
  "Standby/00": 8, // LOCK
  "Heap2/50": 20, // MULTI_INSERT
  "Heap2/70": 72, // NEW_CID
  "Heap2/d0": 1, // MULTI_INSERT+INIT
  "Heap/00": 71446, // INSERT
  "Heap/20": 4, // UPDATE
  "Heap/30": 1, // TRUNCATE
  "Heap/80": 1191, // INSERT+INIT
  "Btree/00": 145, // INSERT_LEAF
};
const PGWALDUMP_RECORD_BYTES = 11348626; // "Record size" total: xl_tot_len minus image bytes
const PGWALDUMP_FPI_BYTES = 185552; // "FPI size" total
const PGWALDUMP_COMBINED_BYTES = 11534178; // Σ xl_tot_len
// From `pg_waldump -b`: 72,819 block refs (main 72,807, fsm 8, vm 4); 28 "(FPW)", none "for WAL
// verification", none compressed; 16 with a hole, 12 whole pages (the XLOG/FPI ones).
const PGWALDUMP_BLOCK_REFS = 72819;
const PGWALDUMP_FORKS = { main: 72807, fsm: 8, vm: 4 };
const PGWALDUMP_FPW = 28;
const PGWALDUMP_FPW_WITH_HOLE = 16;

const segment = decompress(readFileSync(SEGMENT_PATH));
const walBytes = segment.subarray(FIRST_VALID_PAGE);
const walStart = asLsn(SEGMENT_LSN + FIRST_VALID_PAGE);
const full = readWalRecords([walBytes], { startLsn: walStart });
const decoded = full.records.map((record) => decodeRecord(record));

function fingerprint(records: WalRecord[]): string[] {
  return records.map((r) => `${r.lsn}-${r.endLsn}-${r.bytes.length}-${crc32c(r.bytes)}`);
}

function byLsn(lsn: string): DecodedRecord {
  const record = decoded.find((r) => formatLsn(r.lsn) === lsn);
  assert.ok(record, `record ${lsn}`);
  return record;
}

function relString(block: DecodedRecord["blocks"][number]): string {
  return `${block.rel.spcNode}/${block.rel.dbNode}/${block.rel.relNode}`;
}

describe("CRC-32C", () => {
  test("known vectors (RFC 3720 B.4 and the classic check value)", () => {
    assert.equal(crc32c(new TextEncoder().encode("123456789")), 0xe3069283);
    assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa);
    assert.equal(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43);
    assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i)), 0x46dd794e);
    assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => 31 - i)), 0x113fdb5c);
    assert.equal(crc32c(new Uint8Array(0)), 0);
  });

  test("incremental over split ranges equals one pass, at every split of an odd length", () => {
    const bytes = segment.subarray(FIRST_VALID_PAGE, FIRST_VALID_PAGE + 77);
    const whole = crc32c(bytes);
    for (let split = 0; split <= bytes.length; split++) {
      const c = crc32cUpdate(crc32cUpdate(CRC32C_INIT, bytes, 0, split), bytes, split);
      assert.equal((c ^ 0xffffffff) >>> 0, whole);
    }
  });
});

describe("WAL reader on a real PostgreSQL 15 segment", () => {
  test("the record count, first, last and end LSNs are pg_waldump's", () => {
    assert.equal(full.records.length, PGWALDUMP_RECORDS);
    assert.equal(formatLsn(full.records[0]!.lsn), PGWALDUMP_FIRST_LSN);
    assert.equal(formatLsn(full.records[0]!.prev), PGWALDUMP_FIRST_PREV);
    assert.equal(formatLsn(full.records.at(-1)!.lsn), PGWALDUMP_LAST_LSN);
    assert.equal(formatLsn(full.records.at(-1)!.endLsn), PGWALDUMP_END_LSN);
    // The segment ends inside a record that continues in the next segment: a clean end.
    assert.equal(full.end.reason, "end_of_input");
    const tli = new WalReader({ startLsn: walStart });
    tli.push(walBytes.subarray(0, 100));
    assert.equal(tli.pageTli, 1);
    assert.equal(formatLsn(full.end.lsn), PGWALDUMP_END_LSN);
    assert.equal(formatLsn(full.end.incompleteRecordLsn!), PGWALDUMP_END_LSN);
    // Each record's prev-link is its predecessor, and it starts at the predecessor's end or,
    // when that is a page boundary, right after the page header.
    for (let i = 1; i < full.records.length; i++) {
      const r = full.records[i]!;
      const before = full.records[i - 1]!;
      assert.equal(r.prev, before.lsn);
      const expected = before.endLsn % PAGE === 0 ? before.endLsn + 24 : before.endLsn;
      assert.equal(r.lsn, expected, `record ${i} at ${formatLsn(r.lsn)}`);
    }
  });

  test("records per type, record bytes and FPI bytes are pg_waldump --stats=record", () => {
    const types: Record<string, number> = {};
    let imageBytes = 0;
    let totalBytes = 0;
    for (const r of decoded) {
      const key = `${RMGR_NAMES[r.rmid]}/${r.rmgrInfo.toString(16).padStart(2, "0")}`;
      types[key] = (types[key] ?? 0) + 1;
      totalBytes += r.totLen;
      for (const b of r.blocks) imageBytes += b.image?.bytes.length ?? 0;
    }
    assert.deepEqual(types, PGWALDUMP_RECORD_TYPES);
    assert.equal(imageBytes, PGWALDUMP_FPI_BYTES);
    assert.equal(totalBytes - imageBytes, PGWALDUMP_RECORD_BYTES);
    assert.equal(totalBytes, PGWALDUMP_COMBINED_BYTES);
  });

  test("block references, forks and full-page images are pg_waldump -b", () => {
    const forks = { main: 0, fsm: 0, vm: 0 };
    const forkNames = ["main", "fsm", "vm"] as const;
    let refs = 0;
    let images = 0;
    let withHole = 0;
    for (const r of decoded) {
      for (const b of r.blocks) {
        refs++;
        forks[forkNames[b.forkNum]!]++;
        if (b.image) {
          images++;
          assert.equal(b.image.compression, "none");
          assert.ok(b.image.apply, `image at ${formatLsn(r.lsn)} is a real FPW (BKPIMAGE_APPLY)`);
          if (b.image.holeLength > 0) withHole++;
        }
      }
    }
    assert.equal(refs, PGWALDUMP_BLOCK_REFS);
    assert.deepEqual(forks, PGWALDUMP_FORKS);
    assert.equal(images, PGWALDUMP_FPW);
    assert.equal(withHole, PGWALDUMP_FPW_WITH_HOLE);
  });

  test("specific records decode as pg_waldump prints them", () => {
    // rmgr: Btree len (rec/tot): 53/6421, tx: 1024, lsn: 0/014B0828, prev 0/014AF478,
    //   desc: INSERT_LEAF off 107, blkref #0: rel 1663/5/2704 fork main blk 2 (FPW); hole: offset: 752, length: 1824
    const btree = byLsn("0/14B0828");
    assert.equal(RMGR_NAMES[btree.rmid], "Btree");
    assert.equal(btree.totLen, 6421);
    assert.equal(btree.xid, 1024);
    assert.equal(btree.blocks.length, 1);
    const b0 = btree.blocks[0]!;
    assert.equal(relString(b0), "1663/5/2704");
    assert.equal(b0.forkNum, 0);
    assert.equal(b0.blkno, 2);
    assert.equal(b0.image!.holeOffset, 752);
    assert.equal(b0.image!.holeLength, 1824);
    assert.equal(btree.totLen - b0.image!.bytes.length, 53);
    // xl_btree_insert is the u16 offnum: "off 107".
    assert.equal(btree.mainData.length, 2);
    assert.equal(btree.mainData[0]! | (btree.mainData[1]! << 8), 107);

    // rmgr: Heap2 len (rec/tot): 57/8229, lsn: 0/014B2198, desc: MULTI_INSERT 1 tuples flags 0x03,
    //   blkref #0: rel 1663/5/2608 fork main blk 3 (FPW); hole: offset: 668, length: 20
    const multi = byLsn("0/14B2198");
    assert.equal(multi.totLen, 8229);
    assert.equal(relString(multi.blocks[0]!), "1663/5/2608");
    assert.equal(multi.blocks[0]!.blkno, 3);
    assert.deepEqual(
      [multi.blocks[0]!.image!.holeOffset, multi.blocks[0]!.image!.holeLength],
      [668, 20],
    );
    // 57 = 24 header + 25 block header + 2 main-data header + 6 main data: the FPW replaced
    // the block data (needs_data = !needs_backup).
    assert.equal(multi.blocks[0]!.data, null);
    assert.equal(multi.mainData.length, 6);

    // rmgr: XLOG len (rec/tot): 49/8241, tx: 0, lsn: 0/014CEC38, desc: FPI,
    //   blkref #0: rel 1663/5/1247 fork vm blk 0 (FPW); hole: offset: 0, length: 0
    const fpi = byLsn("0/14CEC38");
    assert.equal(fpi.rmid, 0);
    assert.equal(fpi.rmgrInfo, 0xb0);
    assert.equal(fpi.totLen, 8241);
    assert.equal(fpi.xid, 0);
    assert.equal(fpi.blocks[0]!.forkNum, 2);
    assert.equal(relString(fpi.blocks[0]!), "1663/5/1247");
    assert.equal(fpi.blocks[0]!.image!.bytes.length, 8192);
    assert.equal(fpi.mainData.length, 0);

    // rmgr: Transaction len (rec/tot): 565/565, tx: 1024, lsn: 0/014C56C0, desc: COMMIT ...
    const commit = byLsn("0/14C56C0");
    assert.equal(RMGR_NAMES[commit.rmid], "Transaction");
    assert.equal(commit.totLen, 565);
    assert.equal(commit.xid, 1024);
    assert.equal(commit.blocks.length, 0);
    assert.ok(commit.mainData.length > 255, "a long main-data header (DATA_LONG)");

    // rmgr: Storage len (rec/tot): 42/42, lsn: 0/014C58F8, desc: CREATE base/5/16387
    const create = byLsn("0/14C58F8");
    assert.equal(create.totLen, 42);
    const smgr = Buffer.from(create.mainData);
    assert.deepEqual(
      [smgr.readUInt32LE(0), smgr.readUInt32LE(4), smgr.readUInt32LE(8), smgr.readInt32LE(12)],
      [1663, 5, 16387, 0],
    );

    // rmgr: Heap len (rec/tot): 156/156, tx: 1028, lsn: 0/01FFFEF8, prev 0/01FFFE58,
    //   desc: INSERT off 48 flags 0x08, blkref #0: rel 1663/5/16396 fork main blk 1188
    const last = byLsn("0/1FFFEF8");
    assert.equal(RMGR_NAMES[last.rmid], "Heap");
    assert.equal(last.totLen, 156);
    assert.equal(last.xid, 1028);
    assert.equal(formatLsn(last.prev), "0/1FFFE58");
    assert.equal(relString(last.blocks[0]!), "1663/5/16396");
    assert.equal(last.blocks[0]!.blkno, 1188);
    assert.equal(last.blocks[0]!.image, null);
    assert.ok(last.blocks[0]!.data!.length > 0);
    assert.deepEqual([last.mainData[0]! | (last.mainData[1]! << 8), last.mainData[2]], [48, 0x08]);
  });

  test("chunks of random sizes (seeded) give the same records", () => {
    const expected = fingerprint(full.records);
    for (const seed of [1, 2, 3]) {
      const random = seededRandom(seed);
      const reader = new WalReader({ startLsn: walStart });
      const records: WalRecord[] = [];
      let i = 0;
      while (i < walBytes.length) {
        // Mostly small chunks (split headers and lengths), sometimes big ones.
        const size =
          random() < 0.9 ? 1 + Math.floor(random() * 64) : 1 + Math.floor(random() * 40000);
        reader.push(walBytes.subarray(i, i + size), records);
        i += size;
      }
      assert.equal(reader.finish().reason, "end_of_input", `seed ${seed}`);
      assert.deepEqual(fingerprint(records), expected, `seed ${seed}`);
    }
    // feed() hands out the same records one at a time.
    const fed: WalRecord[] = [];
    const feeder = new WalReader({ startLsn: walStart });
    for (let i = 0; i < walBytes.length; i += 100_000) {
      feeder.feed(walBytes.subarray(i, i + 100_000), (record) => fed.push(record));
    }
    assert.deepEqual(fingerprint(fed), expected);
    // Byte by byte over the first 300 KB.
    const reader = new WalReader({ startLsn: walStart });
    const records: WalRecord[] = [];
    for (let i = 0; i < 300_000; i++) reader.push(walBytes.subarray(i, i + 1), records);
    assert.ok(records.length > 100);
    assert.deepEqual(fingerprint(records), expected.slice(0, records.length));
  });

  test("starting at a page boundary inside a continued record skips to the next record", () => {
    // 0/14B2000 begins with 317 bytes of a record: the next one is at MAXALIGN(0x2000+24+317).
    const at = FIRST_VALID_PAGE + PAGE;
    const partial = readWalRecords([segment.subarray(at)], { startLsn: asLsn(SEGMENT_LSN + at) });
    assert.equal(formatLsn(partial.records[0]!.lsn), "0/14B2158");
    // Every 37th page, and pages that begin with more than half a page of a record: the records are
    // the full decode's from the first one that starts after the page boundary.
    const starts: number[] = [];
    for (let p = FIRST_VALID_PAGE; p < segment.length; p += PAGE) {
      const remLen = segment[p + 16]! | (segment[p + 17]! << 8) | (segment[p + 18]! << 16);
      if (remLen > PAGE / 2 && !starts.some((s) => s > p - 64 * PAGE)) starts.push(p);
    }
    assert.ok(starts.length > 0, "pages that begin with a long continuation");
    for (let p = FIRST_VALID_PAGE; p < segment.length; p += 37 * PAGE) starts.push(p);
    for (const p of starts) {
      const startLsn = SEGMENT_LSN + p;
      // 16 pages from there: the records up to where the input stops.
      const got = readWalRecords([segment.subarray(p, p + 16 * PAGE)], {
        startLsn: asLsn(startLsn),
      });
      const from = full.records.findIndex((r) => r.lsn >= startLsn);
      assert.ok(got.records.length > 0);
      assert.deepEqual(
        fingerprint(got.records),
        fingerprint(full.records.slice(from, from + got.records.length)),
        `start at ${formatLsn(startLsn as Lsn)}`,
      );
      const next = full.records[from + got.records.length];
      if (next) assert.ok(next.lsn + next.bytes.length > SEGMENT_LSN + p + 16 * PAGE - 1);
    }
  });

  test("the segment's zeroed first page is a clean end, not an error", () => {
    const got = readWalRecords([segment], { startLsn: asLsn(SEGMENT_LSN) });
    assert.equal(got.records.length, 0);
    assert.equal(got.end.reason, "bad_magic");
    assert.equal(formatLsn(got.end.at), "0/1000000");
  });

  test("a flipped byte inside a record is a WalCrcError naming its LSN", () => {
    for (const index of [5000, 40000]) {
      const victim = full.records[index]!;
      const offset = victim.lsn - walStart;
      // Within the record's first page, past its header.
      assert.ok((victim.lsn % PAGE) + 30 < PAGE);
      const damaged = Uint8Array.from(walBytes);
      damaged[offset + 30] = damaged[offset + 30]! ^ 0x40;
      const reader = new WalReader({ startLsn: walStart });
      const records: WalRecord[] = [];
      assert.throws(
        () => {
          for (let i = 0; i < damaged.length; i += 10_000) {
            reader.push(damaged.subarray(i, i + 10_000), records);
          }
        },
        (error: unknown) => {
          assert.ok(error instanceof WalCrcError);
          assert.ok(error instanceof CorruptionError);
          assert.equal(error.code, "PS_ERR_CORRUPTION");
          assert.equal(error.lsn, victim.lsn);
          assert.equal(error.context.lsn, formatLsn(victim.lsn));
          assert.match(error.message, new RegExp(formatLsn(victim.lsn)));
          return true;
        },
      );
      // Everything before it came out intact; the reader stays stopped.
      assert.deepEqual(fingerprint(records), fingerprint(full.records.slice(0, index)));
      assert.equal(reader.end?.reason, "crc_error");
    }
    // A damaged CRC field of a record that crosses pages, too.
    const crossing = full.records.find((r) => (r.lsn % PAGE) + r.bytes.length > PAGE)!;
    const damaged = Uint8Array.from(walBytes);
    damaged[crossing.lsn - walStart + 21] = damaged[crossing.lsn - walStart + 21]! ^ 1;
    assert.throws(
      () => readWalRecords([damaged], { startLsn: walStart }),
      (error: unknown) => error instanceof WalCrcError && error.lsn === crossing.lsn,
    );
  });

  test("truncated input, zeroed tail and a recycled page end cleanly", () => {
    const random = seededRandom(42);
    for (let k = 0; k < 5; k++) {
      const cut = Math.floor(random() * walBytes.length);
      const got = readWalRecords([walBytes.subarray(0, cut)], { startLsn: walStart });
      const endAt = walStart + cut;
      const expected = full.records.filter((r) => r.lsn + r.bytes.length <= endAt);
      // A record is out once its last byte is in (page headers make the byte count a lower bound).
      assert.ok(got.records.length >= expected.length - 1);
      assert.deepEqual(
        fingerprint(got.records),
        fingerprint(full.records.slice(0, got.records.length)),
      );
      assert.equal(got.end.reason, "end_of_input");
      assert.equal(got.end.lsn, got.records.at(-1)!.endLsn);
      const next = full.records[got.records.length];
      if (got.end.incompleteRecordLsn !== null)
        assert.equal(got.end.incompleteRecordLsn, next!.lsn);
    }
    // Zeros from a record start on: xl_tot_len 0, the end of WAL at that record.
    const stopAt = full.records[1234]!;
    const zeroed = Uint8Array.from(walBytes);
    zeroed.fill(0, stopAt.lsn - walStart, stopAt.lsn - walStart + 8);
    const z = readWalRecords([zeroed], { startLsn: walStart });
    assert.equal(z.records.length, 1234);
    assert.equal(z.end.reason, "zeros");
    assert.equal(z.end.at, stopAt.lsn);
    assert.equal(z.end.lsn, full.records[1233]!.endLsn);
    // A page whose xlp_pageaddr is from an older cycle (a recycled segment).
    const page = 300 * PAGE;
    const recycled = Uint8Array.from(walBytes);
    recycled[page + 11] = recycled[page + 11]! ^ 0x01; // the top byte of xlp_pageaddr's low half
    const r = readWalRecords([recycled], { startLsn: walStart });
    assert.equal(r.end.reason, "bad_pageaddr");
    assert.equal(r.end.at, walStart + page);
    assert.ok(r.records.length > 0);
    assert.ok(r.records.at(-1)!.endLsn <= walStart + page + 24);
  });

  test("optional: pg_waldump agrees on the record count (when installed)", (t) => {
    const pgWaldump = "/usr/lib/postgresql/15/bin/pg_waldump";
    if (!existsSync(pgWaldump)) {
      t.skip("pg_waldump 15 not installed");
      return;
    }
    const directory = mkdtempSync(path.join(tmpdir(), "pg-wal-test-"));
    try {
      // pg_waldump needs the segment's long header, which this file lost: write one.
      const copy = Buffer.from(segment);
      copy.writeUInt16LE(0xd110, 0);
      copy.writeUInt16LE(0x0002, 2);
      copy.writeUInt32LE(1, 4);
      copy.writeUInt32LE(SEGMENT_LSN, 8);
      copy.writeUInt32LE(16 * 1024 * 1024, 32);
      copy.writeUInt32LE(PAGE, 36);
      writeFileSync(path.join(directory, "000000010000000000000001"), copy);
      const out = execFileSync(
        pgWaldump,
        ["-p", directory, "-s", "0/14B0000", "-e", "0/2000000", "--stats=record"],
        { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] },
      );
      const total = /^Total\s+(\d+)/m.exec(out);
      assert.equal(Number(total?.[1]), full.records.length);
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });
});

describe("record decoder errors", () => {
  const sample = full.records.find((r) => r.bytes.length > 60 && r.bytes[24] === 0)!;

  test("an unknown block id is a WalRecordFormatError with the LSN", () => {
    const bytes = Uint8Array.from(sample.bytes);
    bytes[24] = 40;
    assert.throws(
      () => decodeRecord({ ...sample, bytes }),
      (error: unknown) =>
        error instanceof WalRecordFormatError &&
        error.lsn === sample.lsn &&
        /unknown block id 40/.test(error.message),
    );
  });

  test("a truncated block header is a WalRecordFormatError with the LSN", () => {
    const bytes = Uint8Array.from(sample.bytes.subarray(0, 30));
    bytes[0] = 30;
    bytes[1] = bytes[2] = bytes[3] = 0;
    assert.throws(
      () => decodeRecord({ ...sample, bytes }),
      (error: unknown) =>
        error instanceof WalRecordFormatError &&
        error.context.lsn === formatLsn(sample.lsn) &&
        /truncated/.test(error.message),
    );
  });

  test("lengths that do not add up are a WalRecordFormatError", () => {
    const bytes = Uint8Array.from(sample.bytes);
    bytes[26] = bytes[26]! ^ 0x01; // block 0 data_length
    assert.throws(() => decodeRecord({ ...sample, bytes }), WalRecordFormatError);
  });
});

// ---- Images ----

const images: Array<{ record: DecodedRecord; image: BlockImage; page: Uint8Array }> = [];
for (const record of decoded) {
  for (const block of record.blocks) {
    if (block.image)
      images.push({ record, image: block.image, page: rebuildPage(block.image, record.lsn) });
  }
}

/** The stored bytes of a page: the page without its hole. */
function rawOf(page: Uint8Array, image: BlockImage): Uint8Array {
  const raw = new Uint8Array(PAGE - image.holeLength);
  raw.set(page.subarray(0, image.holeOffset));
  raw.set(page.subarray(image.holeOffset + image.holeLength), image.holeOffset);
  return raw;
}

/** A tiny LZ4 block encoder for the test: literals, and runs of ≥ 8 equal bytes as offset-1 matches. */
function lz4Encode(raw: Uint8Array): Uint8Array {
  const out: number[] = [];
  const length = (n: number) => {
    while (n >= 255) {
      out.push(255);
      n -= 255;
    }
    out.push(n);
  };
  let litStart = 0;
  let i = 0;
  while (i < raw.length) {
    let run = 1;
    while (i + run < raw.length && raw[i + run] === raw[i]) run++;
    if (run < 8) {
      i += run;
      continue;
    }
    const lits = i + 1 - litStart;
    const match = run - 1;
    out.push((Math.min(lits, 15) << 4) | Math.min(match - 4, 15));
    if (lits >= 15) length(lits - 15);
    for (let k = litStart; k <= i; k++) out.push(raw[k]!);
    out.push(1, 0);
    if (match - 4 >= 15) length(match - 4 - 15);
    i += run;
    litStart = i;
  }
  const lits = raw.length - litStart;
  out.push(Math.min(lits, 15) << 4);
  if (lits >= 15) length(lits - 15);
  for (let k = litStart; k < raw.length; k++) out.push(raw[k]!);
  return Uint8Array.from(out);
}

/** A tiny pglz encoder for the test: literals, and runs as offset-1 back-references (≤ 273). */
function pglzEncode(raw: Uint8Array): Uint8Array {
  const out: number[] = [];
  let ctrlAt = -1;
  let item = 8;
  const begin = (isRef: boolean) => {
    if (item === 8) {
      ctrlAt = out.length;
      out.push(0);
      item = 0;
    }
    if (isRef) out[ctrlAt] = out[ctrlAt]! | (1 << item);
    item++;
  };
  let i = 0;
  while (i < raw.length) {
    let run = 0;
    if (i > 0) while (i + run < raw.length && raw[i + run] === raw[i - 1] && run < 273) run++;
    if (run >= 3) {
      begin(true);
      if (run >= 18) out.push(0x0f, 1, run - 18);
      else out.push(run - 3, 1);
      i += run;
    } else {
      begin(false);
      out.push(raw[i++]!);
    }
  }
  return Uint8Array.from(out);
}

describe("page images", () => {
  test("rebuilt pages look like PostgreSQL pages; the hole is pd_lower..pd_upper", () => {
    let zeroPages = 0;
    for (const { record, image, page } of images) {
      assert.equal(page.length, PAGE);
      const header = readPageHeader(page);
      if (image.holeLength === 0 && page.every((b) => b === 0)) {
        zeroPages++; // new FSM pages, logged whole
        continue;
      }
      const at = formatLsn(record.lsn);
      assert.equal(header.pageSizeVersion, 8192 | 4, at);
      assert.ok(header.lower >= 24 && header.lower <= header.upper, at);
      assert.ok(header.upper <= header.special && header.special <= PAGE, at);
      assert.ok(header.lsn < record.lsn, `${at}: the image holds the page's previous LSN`);
      if (image.holeLength > 0) {
        assert.equal(header.lower, image.holeOffset, at);
        assert.equal(header.upper, image.holeOffset + image.holeLength, at);
        assert.ok(page.subarray(header.lower, header.upper).every((b) => b === 0));
      }
    }
    // 3 of the 8 FSM images (rel 16396, fsm blocks 0..2, logged by XLOG/FPI) are all zeros.
    assert.equal(zeroPages, 3);
    const withPdLsn = Uint8Array.from(images[0]!.page);
    setPageLsn(withPdLsn, images[0]!.record.endLsn);
    assert.equal(readPageHeader(withPdLsn).lsn, images[0]!.record.endLsn);
  });

  test("a rebuilt page into a reused buffer is the same page", () => {
    const buffer = new Uint8Array(PAGE).fill(0xaa);
    for (const { record, image, page } of images) {
      assert.deepEqual(rebuildPage(image, record.lsn, buffer), page);
    }
  });

  test("pglz and lz4: the segment's images (all uncompressed) round-trip through both", () => {
    // The segment has no compressed images (wal_compression was off), so each page is encoded
    // here and decoded by rebuildPage, through the same path a compressed FPW takes.
    let saved = 0;
    for (const { record, image, page } of images) {
      const raw = rawOf(page, image);
      for (const [compression, bit, encoded] of [
        ["pglz", 0x04, pglzEncode(raw)],
        ["lz4", 0x08, lz4Encode(raw)],
      ] as const) {
        const compressed: BlockImage = {
          ...image,
          bytes: encoded,
          compression,
          bimgInfo: image.bimgInfo | bit,
        };
        assert.deepEqual(
          rebuildPage(compressed, record.lsn),
          page,
          `${compression} ${formatLsn(record.lsn)}`,
        );
        saved += raw.length - encoded.length;
        // One byte short, or damaged: a typed error, never a wrong page.
        assert.throws(
          () =>
            rebuildPage(
              { ...compressed, bytes: encoded.subarray(0, encoded.length - 1) },
              record.lsn,
            ),
          (error: unknown) => error instanceof WalImageError && error.lsn === record.lsn,
        );
        // A stream that yields less than 8192 - hole_length bytes. (More is not always caught
        // for pglz: like PostgreSQL, a reference past the end is clamped.)
        if (compressed.holeLength >= 8) {
          assert.throws(
            () => rebuildPage({ ...compressed, holeLength: compressed.holeLength - 8 }, record.lsn),
            WalImageError,
          );
        }
      }
    }
    assert.ok(saved > 0);
  });

  test("optional: lz4 blocks from the lz4 tool decode (when installed)", (t) => {
    let lz4Exists = true;
    try {
      execFileSync("lz4", ["--version"], { stdio: "ignore" });
    } catch {
      lz4Exists = false;
    }
    if (!lz4Exists) {
      t.skip("lz4 CLI not installed");
      return;
    }
    for (const { image, page } of images.slice(0, 12)) {
      const raw = rawOf(page, image);
      // Legacy format: 4-byte magic, then u32 block size and one raw block.
      const legacy = execFileSync("lz4", ["-l", "-c", "-9"], { input: raw });
      const block = legacy.subarray(8, 8 + legacy.readUInt32LE(4));
      const out = new Uint8Array(PAGE);
      assert.equal(lz4DecompressBlock(block, out, raw.length), raw.length);
      assert.deepEqual(out.subarray(0, raw.length), raw);
    }
  });

  test("optional: a zstd frame from the zstd tool rebuilds (when installed)", (t) => {
    let zstdExists = true;
    try {
      execFileSync("zstd", ["--version"], { stdio: "ignore" });
    } catch {
      zstdExists = false;
    }
    if (!zstdExists) {
      t.skip("zstd CLI not installed");
      return;
    }
    const { record, image, page } = images.find((x) => x.image.holeLength > 0)!;
    const frame = execFileSync("zstd", ["-c", "-3", "--no-check"], { input: rawOf(page, image) });
    const zimage: BlockImage = {
      ...image,
      bytes: frame,
      compression: "zstd",
      bimgInfo: image.bimgInfo | 0x10,
    };
    assert.deepEqual(rebuildPage(zimage, record.lsn), page);
    assert.throws(
      () => rebuildPage({ ...zimage, bytes: frame.subarray(0, 10) }, record.lsn),
      WalImageError,
    );
  });

  test("pglz hand-built streams", () => {
    const out = new Uint8Array(512);
    // ctrl 0b1000: 'a' 'b' 'c' literal, then a reference (len 9 → nibble 6, offset 3).
    assert.equal(
      pglzDecompress(Uint8Array.from([0x08, 0x61, 0x62, 0x63, 0x06, 0x03]), out, 12),
      12,
    );
    assert.equal(Buffer.from(out.subarray(0, 12)).toString(), "abcabcabcabc");
    // Length 18 + extension 100 = 118, offset 1: a run.
    assert.equal(pglzDecompress(Uint8Array.from([0x02, 0x78, 0x0f, 0x01, 100]), out, 119), 119);
    assert.ok(out.subarray(0, 119).every((b) => b === 0x78));
    // A 12-bit offset (0x123 = 291) after 300 literals.
    const literals = Uint8Array.from({ length: 300 }, (_, i) => (i * 7 + 3) & 0xff);
    const stream: number[] = [];
    for (let i = 0; i < 300; i += 8) {
      // The last group has 4 literals; its 5th item (bit 4) is the reference.
      stream.push(i + 8 > 300 ? 1 << (300 - i) : 0);
      for (let k = i; k < Math.min(i + 8, 300); k++) stream.push(literals[k]!);
    }
    stream.push(0x10, 0x23); // len 3, offset 0x123
    assert.equal(pglzDecompress(Uint8Array.from(stream), out, 303), 303);
    assert.deepEqual(out.subarray(300, 303), literals.subarray(9, 12));
    // Errors: offset 0, offset before the start, trailing bytes, too little output.
    assert.equal(pglzDecompress(Uint8Array.from([0x02, 0x61, 0x00, 0x00]), out, 4), -1);
    assert.equal(pglzDecompress(Uint8Array.from([0x02, 0x61, 0x00, 0x05]), out, 4), -1);
    assert.equal(pglzDecompress(Uint8Array.from([0x00, 0x61, 0x62]), out, 1), -1);
    assert.equal(pglzDecompress(Uint8Array.from([0x00, 0x61]), out, 2), -1);
  });

  test("lz4 hand-built blocks", () => {
    const out = new Uint8Array(512);
    const text = (n: number) => Buffer.from(out.subarray(0, n)).toString();
    // Literals only (the last sequence): token 0x40, "abcd".
    assert.equal(lz4DecompressBlock(Uint8Array.from([0x40, 0x61, 0x62, 0x63, 0x64]), out, 512), 4);
    assert.equal(text(4), "abcd");
    // "abcd", match offset 4 length 8 (nibble 4), then a last sequence with literal "e".
    const seq = [0x44, 0x61, 0x62, 0x63, 0x64, 0x04, 0x00, 0x10, 0x65];
    assert.equal(lz4DecompressBlock(Uint8Array.from(seq), out, 512), 13);
    assert.equal(text(13), "abcdabcdabcde");
    // Extended literal length: 15 + 5 = 20 literals.
    const twenty = Array.from({ length: 20 }, (_, i) => 0x41 + i);
    assert.equal(lz4DecompressBlock(Uint8Array.from([0xf0, 5, ...twenty]), out, 512), 20);
    assert.equal(text(20), "ABCDEFGHIJKLMNOPQRST");
    // Extended match length: 4 + 15 + 255 + 10 = 284 at offset 1, then an empty last sequence.
    assert.equal(
      lz4DecompressBlock(Uint8Array.from([0x1f, 0x71, 0x01, 0x00, 0xff, 0x0a, 0x00]), out, 512),
      285,
    );
    assert.ok(out.subarray(0, 285).every((b) => b === 0x71));
    // Errors: offset 0, offset before the start, output over capacity, cut in the middle.
    assert.equal(lz4DecompressBlock(Uint8Array.from([0x14, 0x61, 0x00, 0x00, 0x00]), out, 512), -1);
    assert.equal(lz4DecompressBlock(Uint8Array.from([0x14, 0x61, 0x02, 0x00, 0x00]), out, 512), -1);
    assert.equal(lz4DecompressBlock(Uint8Array.from(seq), out, 12), -1);
    assert.equal(lz4DecompressBlock(Uint8Array.from(seq.slice(0, 6)), out, 512), -1);
  });
});
