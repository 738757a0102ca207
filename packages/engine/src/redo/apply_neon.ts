/**
 * In-process redo for Neon's own record kinds: the same effects as PostgreSQL's redo functions for
 * the visibility map, CLOG and MultiXact SLRUs, plus the Test record. PostgreSQL-native records
 * cannot be applied here: they fail with a WalRedoError that says so.
 *
 * Each function checks that the record targets the page it is applied to (the key names the
 * block); a mismatch means the ingest stored the record under the wrong key, a programmer error,
 * so it is reported as a WalRedoError with the key and LSN rather than silently producing a page.
 */
import { WalRedoError } from "../errors.ts";
import {
  formatKey,
  isRelBlockKey,
  isSlruBlockKey,
  type Key,
  keyField2,
  keyField4,
  keyField5,
  keyField6,
} from "../key/key.ts";
import { SlruKind, VISIBILITYMAP_FORKNUM } from "../key/rel_tag.ts";
import { formatLsn, type Lsn } from "../lsn.ts";
import type { NeonWalRecord } from "../value/value.ts";
import {
  BLCKSZ,
  CLOG_XACT_BITMASK,
  CLOG_XACTS_PER_BYTE,
  CLOG_XACTS_PER_PAGE,
  heapBlockToMapBlock,
  heapBlockToMapByte,
  heapBlockToMapOffset,
  MULTIXACT_MEMBERS_PER_PAGE,
  MULTIXACT_OFFSETS_PER_PAGE,
  MXACT_MEMBER_BITS_PER_XACT,
  mxOffsetToFlagsBitShift,
  mxOffsetToFlagsOffset,
  mxOffsetToMemberOffset,
  pageIsNew,
  pageSetLsn,
  SIZE_OF_PAGE_HEADER,
  SLRU_PAGES_PER_SEGMENT,
  TRANSACTION_STATUS_ABORTED,
  TRANSACTION_STATUS_COMMITTED,
} from "./pg_constants.ts";

/** A page being rebuilt: a growable byte buffer (CLOG pages grow by a timestamp trailer). */
export class PageBuffer {
  bytes: Buffer;
  length: number;

  constructor(initial: Buffer | null, capacity = BLCKSZ + 8) {
    this.bytes = Buffer.allocUnsafe(Math.max(capacity, initial?.length ?? 0));
    this.length = initial ? initial.copy(this.bytes, 0) : 0;
  }

  view(): Buffer {
    return this.bytes.subarray(0, this.length);
  }

  clear(): void {
    this.length = 0;
  }

  truncate(length: number): void {
    if (length < this.length) this.length = length;
  }

  append(data: Buffer): void {
    if (this.length + data.length > this.bytes.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.bytes.length * 2, this.length + data.length));
      this.bytes.copy(grown, 0, 0, this.length);
      this.bytes = grown;
    }
    this.length += data.copy(this.bytes, this.length);
  }
}

export function canApplyInProcess(record: NeonWalRecord): boolean {
  return record.type !== "Postgres";
}

function fail(message: string, key: Key, lsn: Lsn): never {
  throw new WalRedoError(message, { key: formatKey(key), lsn: formatLsn(lsn) });
}

function requireFullPage(page: PageBuffer, what: string, key: Key, lsn: Lsn): Buffer {
  if (page.length < BLCKSZ) fail(`${what} applied to a page of ${page.length} bytes`, key, lsn);
  return page.bytes;
}

function slruLocation(
  key: Key,
  kind: SlruKind,
  what: string,
  lsn: Lsn,
): { segno: number; block: number } {
  if (!isSlruBlockKey(key) || keyField2(key) !== kind)
    fail(`${what} record on a key that is not its SLRU block`, key, lsn);
  return { segno: keyField4(key), block: keyField6(key) };
}

function checkSlruPage(
  pageno: number,
  at: { segno: number; block: number },
  what: string,
  key: Key,
  lsn: Lsn,
): void {
  if (
    Math.floor(pageno / SLRU_PAGES_PER_SEGMENT) !== at.segno ||
    pageno % SLRU_PAGES_PER_SEGMENT !== at.block
  ) {
    fail(`${what} targets SLRU page ${pageno}, not the page of this key`, key, lsn);
  }
}

function setClogStatus(page: Buffer, xid: number, status: number): void {
  const byte = Math.floor((xid % CLOG_XACTS_PER_PAGE) / CLOG_XACTS_PER_BYTE);
  const shift = (xid % CLOG_XACTS_PER_BYTE) * 2;
  page[byte] = (page[byte]! & ~(CLOG_XACT_BITMASK << shift)) | (status << shift);
}

function clearVisibilityMapFlags(
  record: Extract<NeonWalRecord, { type: "ClearVisibilityMapFlags" }>,
  key: Key,
  lsn: Lsn,
  page: PageBuffer,
): void {
  if (!isRelBlockKey(key) || keyField5(key) !== VISIBILITYMAP_FORKNUM) {
    fail("ClearVisibilityMapFlags record on a key that is not a visibility-map block", key, lsn);
  }
  const bytes = requireFullPage(page, "ClearVisibilityMapFlags", key, lsn);
  const mapBlock = keyField6(key);
  for (const heapBlock of [record.newHeapBlkno, record.oldHeapBlkno]) {
    if (heapBlock === null) continue;
    if (heapBlockToMapBlock(heapBlock) !== mapBlock) {
      fail(
        `ClearVisibilityMapFlags for heap block ${heapBlock} applied to VM block ${mapBlock}`,
        key,
        lsn,
      );
    }
    const at = SIZE_OF_PAGE_HEADER + heapBlockToMapByte(heapBlock);
    bytes[at] = bytes[at]! & ~(record.flags << heapBlockToMapOffset(heapBlock));
    // A new (all-zero) page keeps LSN 0, as PostgreSQL leaves new pages alone.
    if (!pageIsNew(bytes)) pageSetLsn(bytes, lsn);
  }
}

function truncateVisibilityMap(
  record: Extract<NeonWalRecord, { type: "TruncateVisibilityMap" }>,
  key: Key,
  lsn: Lsn,
  page: PageBuffer,
): void {
  if (!isRelBlockKey(key) || keyField5(key) !== VISIBILITYMAP_FORKNUM) {
    fail("TruncateVisibilityMap record on a key that is not a visibility-map block", key, lsn);
  }
  const bytes = requireFullPage(page, "TruncateVisibilityMap", key, lsn);
  const at = SIZE_OF_PAGE_HEADER + record.truncByte;
  if (at >= BLCKSZ || record.truncOffs > 7) fail("TruncateVisibilityMap out of the page", key, lsn);
  bytes.fill(0, at + 1, BLCKSZ);
  bytes[at] = bytes[at]! & ((1 << record.truncOffs) - 1);
}

function clogSetStatus(
  xids: readonly number[],
  status: number,
  what: string,
  key: Key,
  lsn: Lsn,
  page: PageBuffer,
): void {
  const at = slruLocation(key, SlruKind.Clog, what, lsn);
  const bytes = requireFullPage(page, what, key, lsn);
  for (const xid of xids) {
    checkSlruPage(Math.floor(xid / CLOG_XACTS_PER_PAGE), at, `${what} for xid ${xid}`, key, lsn);
    setClogStatus(bytes, xid, status);
  }
}

function multixactOffsetCreate(
  mid: number,
  moff: number,
  key: Key,
  lsn: Lsn,
  page: PageBuffer,
): void {
  const at = slruLocation(key, SlruKind.MultiXactOffsets, "MultixactOffsetCreate", lsn);
  const bytes = requireFullPage(page, "MultixactOffsetCreate", key, lsn);
  checkSlruPage(
    Math.floor(mid / MULTIXACT_OFFSETS_PER_PAGE),
    at,
    `MultixactOffsetCreate for multi ${mid}`,
    key,
    lsn,
  );
  bytes.writeUInt32LE(moff >>> 0, (mid % MULTIXACT_OFFSETS_PER_PAGE) * 4);
}

function multixactMembersCreate(
  record: Extract<NeonWalRecord, { type: "MultixactMembersCreate" }>,
  key: Key,
  lsn: Lsn,
  page: PageBuffer,
): void {
  const at = slruLocation(key, SlruKind.MultiXactMembers, "MultixactMembersCreate", lsn);
  const bytes = requireFullPage(page, "MultixactMembersCreate", key, lsn);
  record.members.forEach((member, i) => {
    const offset = (record.moff + i) >>> 0;
    checkSlruPage(
      Math.floor(offset / MULTIXACT_MEMBERS_PER_PAGE),
      at,
      `MultixactMembersCreate at offset ${offset}`,
      key,
      lsn,
    );
    const flagsAt = mxOffsetToFlagsOffset(offset);
    const shift = mxOffsetToFlagsBitShift(offset);
    let flags = bytes.readUInt32LE(flagsAt);
    flags &= ~(((1 << MXACT_MEMBER_BITS_PER_XACT) - 1) << shift);
    flags |= member.status << shift;
    bytes.writeUInt32LE(flags >>> 0, flagsAt);
    bytes.writeUInt32LE(member.xid >>> 0, mxOffsetToMemberOffset(offset));
  });
}

const timestampBytes = Buffer.alloc(8);

/**
 * Applies one record to `page` in place. `lsn` is the record's LSN (set as the page LSN where
 * PostgreSQL would set it).
 */
export function applyNeonRecord(record: NeonWalRecord, key: Key, lsn: Lsn, page: PageBuffer): void {
  switch (record.type) {
    case "Postgres":
      fail(
        "cannot apply a PostgreSQL WAL record in process: PostgreSQL-native redo is not available on this pageserver",
        key,
        lsn,
      );
      break;
    case "ClearVisibilityMapFlags":
      clearVisibilityMapFlags(record, key, lsn, page);
      break;
    case "TruncateVisibilityMap":
      truncateVisibilityMap(record, key, lsn, page);
      break;
    case "ClogSetCommitted":
      clogSetStatus(record.xids, TRANSACTION_STATUS_COMMITTED, "ClogSetCommitted", key, lsn, page);
      // The commit timestamp rides along after the page, replacing any older one.
      if (page.length === BLCKSZ + 8) page.truncate(BLCKSZ);
      if (page.length === BLCKSZ) {
        timestampBytes.writeBigInt64BE(BigInt(record.timestamp), 0);
        page.append(timestampBytes);
      }
      break;
    case "ClogSetAborted":
      clogSetStatus(record.xids, TRANSACTION_STATUS_ABORTED, "ClogSetAborted", key, lsn, page);
      break;
    case "MultixactOffsetCreate":
      multixactOffsetCreate(record.mid, record.moff, key, lsn, page);
      break;
    case "MultixactMembersCreate":
      multixactMembersCreate(record, key, lsn, page);
      break;
    case "AuxFile":
      // Legacy: aux files are stored as images now; the record has no effect.
      break;
    case "Test":
      if (record.willInit && (!record.clear || page.length !== 0)) {
        fail("Test record: an init record must clear and come first", key, lsn);
      }
      if (record.clear) page.clear();
      if (record.onlyIf !== null && page.view().toString("utf8") !== record.onlyIf) {
        fail("Test record: the current image does not match only_if, cannot append", key, lsn);
      }
      page.append(Buffer.from(record.append, "utf8"));
      break;
  }
}
