/**
 * PostgreSQL constants the in-process redo needs (PostgreSQL 14-17 share them).
 */
export const BLCKSZ = 8192;
/** MAXALIGN(SizeOfPageHeaderData): where a page's contents begin. */
export const SIZE_OF_PAGE_HEADER = 24;

// Visibility map: 2 bits per heap block.
export const VISIBILITYMAP_ALL_VISIBLE = 0x01;
export const VISIBILITYMAP_ALL_FROZEN = 0x02;
export const VISIBILITYMAP_VALID_BITS = 0x03;
export const HEAPBLOCKS_PER_BYTE = 4;
export const VM_MAPSIZE = BLCKSZ - SIZE_OF_PAGE_HEADER;
export const HEAPBLOCKS_PER_PAGE = VM_MAPSIZE * HEAPBLOCKS_PER_BYTE;

export function heapBlockToMapBlock(heapBlock: number): number {
  return Math.floor(heapBlock / HEAPBLOCKS_PER_PAGE);
}
export function heapBlockToMapByte(heapBlock: number): number {
  return Math.floor((heapBlock % HEAPBLOCKS_PER_PAGE) / HEAPBLOCKS_PER_BYTE);
}
export function heapBlockToMapOffset(heapBlock: number): number {
  return (heapBlock % HEAPBLOCKS_PER_BYTE) * 2;
}

// SLRUs.
export const SLRU_PAGES_PER_SEGMENT = 32;
export const CLOG_BITS_PER_XACT = 2;
export const CLOG_XACTS_PER_BYTE = 4;
export const CLOG_XACTS_PER_PAGE = BLCKSZ * CLOG_XACTS_PER_BYTE;
export const CLOG_XACT_BITMASK = (1 << CLOG_BITS_PER_XACT) - 1;
export const TRANSACTION_STATUS_IN_PROGRESS = 0;
export const TRANSACTION_STATUS_COMMITTED = 1;
export const TRANSACTION_STATUS_ABORTED = 2;
export const TRANSACTION_STATUS_SUB_COMMITTED = 3;

export const MULTIXACT_OFFSETS_PER_PAGE = BLCKSZ / 4;
export const MXACT_MEMBER_BITS_PER_XACT = 8;
export const MULTIXACT_FLAGBYTES_PER_GROUP = 4;
export const MULTIXACT_MEMBERS_PER_MEMBERGROUP = 4;
export const MULTIXACT_MEMBERGROUP_SIZE =
  4 * MULTIXACT_MEMBERS_PER_MEMBERGROUP + MULTIXACT_FLAGBYTES_PER_GROUP;
export const MULTIXACT_MEMBERGROUPS_PER_PAGE = Math.floor(BLCKSZ / MULTIXACT_MEMBERGROUP_SIZE);
export const MULTIXACT_MEMBERS_PER_PAGE =
  MULTIXACT_MEMBERGROUPS_PER_PAGE * MULTIXACT_MEMBERS_PER_MEMBERGROUP;

export function mxOffsetToFlagsOffset(offset: number): number {
  return (
    (Math.floor(offset / MULTIXACT_MEMBERS_PER_MEMBERGROUP) % MULTIXACT_MEMBERGROUPS_PER_PAGE) *
    MULTIXACT_MEMBERGROUP_SIZE
  );
}
export function mxOffsetToFlagsBitShift(offset: number): number {
  return (offset % MULTIXACT_MEMBERS_PER_MEMBERGROUP) * MXACT_MEMBER_BITS_PER_XACT;
}
export function mxOffsetToMemberOffset(offset: number): number {
  return (
    mxOffsetToFlagsOffset(offset) +
    MULTIXACT_FLAGBYTES_PER_GROUP +
    (offset % MULTIXACT_MEMBERS_PER_MEMBERGROUP) * 4
  );
}

/** The CLOG segment and block that hold an xid's status. */
export function clogLocation(xid: number): { segno: number; block: number } {
  const pageno = Math.floor(xid / CLOG_XACTS_PER_PAGE);
  return {
    segno: Math.floor(pageno / SLRU_PAGES_PER_SEGMENT),
    block: pageno % SLRU_PAGES_PER_SEGMENT,
  };
}

/** Sets `pd_lsn` (two native-endian u32 halves: xlogid, xrecoff). */
export function pageSetLsn(page: Buffer, lsn: number): void {
  page.writeUInt32LE(Math.floor(lsn / 0x1_0000_0000), 0);
  page.writeUInt32LE(lsn >>> 0, 4);
}

export function pageGetLsn(page: Buffer): number {
  return page.readUInt32LE(0) * 0x1_0000_0000 + page.readUInt32LE(4);
}

/** PageIsNew: pd_upper is zero. */
export function pageIsNew(page: Buffer): boolean {
  return page.readUInt16LE(14) === 0;
}
