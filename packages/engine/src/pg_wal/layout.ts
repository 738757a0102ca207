/**
 * PostgreSQL 15 WAL layout constants (see shared/reference/postgres-wal.md §4). WAL integers are in
 * the source server's byte order; this decoder reads little-endian (x86-64, arm64).
 */

export const XLOG_BLCKSZ = 8192;
export const BLCKSZ = 8192;
export const DEFAULT_WAL_SEGMENT_SIZE = 16 * 1024 * 1024;
export const XLOG_PAGE_MAGIC = 0xd110;

// Page header (XLogPageHeaderData / XLogLongPageHeaderData).
export const SIZE_OF_SHORT_PAGE_HEADER = 24;
export const SIZE_OF_LONG_PAGE_HEADER = 40;
export const XLP_FIRST_IS_CONTRECORD = 0x0001;
export const XLP_LONG_HEADER = 0x0002;
export const XLP_BKP_REMOVABLE = 0x0004;
export const XLP_FIRST_IS_OVERWRITE_CONTRECORD = 0x0008;
export const XLP_ALL_FLAGS = 0x000f;

// XLogRecord header.
export const SIZE_OF_XLOG_RECORD = 24;
export const XL_CRC_OFFSET = 20;
/** PG 15 XLogRecordMaxSize: 1020 MB. A longer xl_tot_len is garbage, i.e. the end of WAL. */
export const XLOG_RECORD_MAX_SIZE = 1020 * 1024 * 1024;
export const XLR_INFO_MASK = 0x0f;
export const XLR_RMGR_INFO_MASK = 0xf0;
export const XLR_SPECIAL_REL_UPDATE = 0x01;
export const XLR_CHECK_CONSISTENCY = 0x02;

// Fragment ids.
export const XLR_MAX_BLOCK_ID = 32;
export const XLR_BLOCK_ID_DATA_SHORT = 255;
export const XLR_BLOCK_ID_DATA_LONG = 254;
export const XLR_BLOCK_ID_ORIGIN = 253;
export const XLR_BLOCK_ID_TOPLEVEL_XID = 252;

// XLogRecordBlockHeader.fork_flags.
export const BKPBLOCK_FORK_MASK = 0x0f;
export const BKPBLOCK_HAS_IMAGE = 0x10;
export const BKPBLOCK_HAS_DATA = 0x20;
export const BKPBLOCK_WILL_INIT = 0x40;
export const BKPBLOCK_SAME_REL = 0x80;

// XLogRecordBlockImageHeader.bimg_info.
export const BKPIMAGE_HAS_HOLE = 0x01;
export const BKPIMAGE_APPLY = 0x02;
export const BKPIMAGE_COMPRESS_PGLZ = 0x04;
export const BKPIMAGE_COMPRESS_LZ4 = 0x08;
export const BKPIMAGE_COMPRESS_ZSTD = 0x10;
export const BKPIMAGE_COMPRESSED_MASK =
  BKPIMAGE_COMPRESS_PGLZ | BKPIMAGE_COMPRESS_LZ4 | BKPIMAGE_COMPRESS_ZSTD;

// Resource managers (rmgrlist.h, PG 15).
export const RM_XLOG_ID = 0;
export const RM_MAX_BUILTIN_ID = 21;
export const RM_MIN_CUSTOM_ID = 128;
/** XLOG opcode of XLOG_SWITCH: the rest of the segment is padding. */
export const XLOG_SWITCH = 0x40;

export const RMGR_NAMES: readonly string[] = [
  "XLOG",
  "Transaction",
  "Storage",
  "CLOG",
  "Database",
  "Tablespace",
  "MultiXact",
  "RelMap",
  "Standby",
  "Heap2",
  "Heap",
  "Btree",
  "Hash",
  "Gin",
  "Gist",
  "Sequence",
  "SPGist",
  "BRIN",
  "CommitTs",
  "ReplicationOrigin",
  "Generic",
  "LogicalMessage",
];

export function rmgrName(rmid: number): string {
  return RMGR_NAMES[rmid] ?? `custom${rmid}`;
}

export function isValidRmid(rmid: number): boolean {
  return rmid <= RM_MAX_BUILTIN_ID || rmid >= RM_MIN_CUSTOM_ID;
}

export function readU16(bytes: Uint8Array, offset: number): number {
  return bytes[offset]! | (bytes[offset + 1]! << 8);
}

export function readU32(bytes: Uint8Array, offset: number): number {
  return (
    (bytes[offset]! |
      (bytes[offset + 1]! << 8) |
      (bytes[offset + 2]! << 16) |
      (bytes[offset + 3]! << 24)) >>>
    0
  );
}

/** A little-endian u64 that is known to fit in 2^53 (an LSN). */
export function readU64(bytes: Uint8Array, offset: number): number {
  return readU32(bytes, offset) + readU32(bytes, offset + 4) * 0x1_0000_0000;
}

export function maxAlign(value: number): number {
  return Math.ceil(value / 8) * 8;
}
