/**
 * Parses one PostgreSQL 15 XLogRecord (as the reader hands it out, page headers removed) into its
 * header fields, block references and main data, as DecodeXLogRecord does. Payloads are views into
 * the record's bytes, never copies.
 *
 * Layout after the 24-byte header: block headers (ids strictly increasing, 0..32), then optional
 * ORIGIN (253, u16), TOPLEVEL_XID (252, u32), then the main-data header (255 + u8 length, or
 * 254 + u32 length), always last. Then the payloads: per block its image then its data, then the
 * main data. The lengths must add up to exactly xl_tot_len.
 */
import type { Lsn } from "../lsn.ts";
import { WalRecordFormatError } from "./errors.ts";
import {
  BKPBLOCK_FORK_MASK,
  BKPBLOCK_HAS_DATA,
  BKPBLOCK_HAS_IMAGE,
  BKPBLOCK_SAME_REL,
  BKPBLOCK_WILL_INIT,
  BKPIMAGE_APPLY,
  BKPIMAGE_COMPRESS_LZ4,
  BKPIMAGE_COMPRESS_PGLZ,
  BKPIMAGE_COMPRESS_ZSTD,
  BKPIMAGE_COMPRESSED_MASK,
  BKPIMAGE_HAS_HOLE,
  BLCKSZ,
  readU16,
  readU32,
  readU64,
  SIZE_OF_XLOG_RECORD,
  XLR_BLOCK_ID_DATA_LONG,
  XLR_BLOCK_ID_DATA_SHORT,
  XLR_BLOCK_ID_ORIGIN,
  XLR_BLOCK_ID_TOPLEVEL_XID,
  XLR_INFO_MASK,
  XLR_MAX_BLOCK_ID,
  XLR_RMGR_INFO_MASK,
} from "./layout.ts";

/** RelFileNode: tablespace, database and relfilenode (not the relation OID). */
export interface RelFileNode {
  spcNode: number;
  dbNode: number;
  relNode: number;
}

export type ImageCompression = "none" | "pglz" | "lz4" | "zstd";

export interface BlockImage {
  /** The stored image: bimg_len bytes (compressed, hole removed). View into the record. */
  bytes: Uint8Array;
  /** bimg_len: the stored image's length. */
  length: number;
  holeOffset: number;
  holeLength: number;
  /** bimg_info as stored. */
  bimgInfo: number;
  compression: ImageCompression;
  /** BKPIMAGE_APPLY: a real full-page write; clear means the image is for consistency checks only. */
  apply: boolean;
}

export interface DecodedBlock {
  id: number;
  /** For blocks with BKPBLOCK_SAME_REL this is the same object as the previous block's. */
  rel: RelFileNode;
  /** 0 main, 1 fsm, 2 vm, 3 init. */
  forkNum: number;
  blkno: number;
  /** fork_flags as stored. */
  forkFlags: number;
  willInit: boolean;
  image: BlockImage | null;
  /** Block data (HAS_DATA), a view into the record; null when there is none. */
  data: Uint8Array | null;
  /** data_length: 0 when there is no block data. */
  dataLength: number;
}

export interface DecodedRecord {
  lsn: Lsn;
  endLsn: Lsn;
  totLen: number;
  xid: number;
  prev: Lsn;
  /** xl_info, all 8 bits; see `rmgrInfo` for the opcode part. */
  info: number;
  /** The rmgr's opcode bits: info & 0xF0. */
  rmgrInfo: number;
  /** info & 0x0F: XLR_SPECIAL_REL_UPDATE, XLR_CHECK_CONSISTENCY. */
  flags: number;
  rmid: number;
  crc: number;
  /** Replication origin id, or null when the record has none. */
  origin: number | null;
  /** Top-level xid (wal_level=logical, first record of a subtransaction), or null. */
  toplevelXid: number | null;
  blocks: DecodedBlock[];
  /** Main data, a view into the record (empty when there is none). */
  mainData: Uint8Array;
}

/** The parts of a reader record the decoder needs. */
export interface RawRecord {
  lsn: Lsn;
  endLsn: Lsn;
  bytes: Uint8Array;
}

const EMPTY = new Uint8Array(0);

function fail(lsn: Lsn, message: string, context: Record<string, number> = {}): never {
  throw new WalRecordFormatError(lsn, message, context);
}

function truncated(lsn: Lsn, what: string, offset: number, count: number, totLen: number): never {
  throw new WalRecordFormatError(
    lsn,
    `${what} truncated: needs ${count} bytes at offset ${offset} of ${totLen}`,
    { offset },
  );
}

export function decodeRecord(record: RawRecord): DecodedRecord {
  const lsn = record.lsn;
  const bytes = record.bytes;
  const totLen = bytes.length;
  if (totLen < SIZE_OF_XLOG_RECORD) {
    fail(lsn, `record of ${totLen} bytes is shorter than its header`);
  }
  if (readU32(bytes, 0) !== totLen) {
    fail(lsn, `xl_tot_len ${readU32(bytes, 0)} but the record has ${totLen} bytes`);
  }
  const info = bytes[16]!;
  const blocks: DecodedBlock[] = [];
  let origin: number | null = null;
  let toplevelXid: number | null = null;
  let mainLen = 0;
  let payloadLen = 0; // images + block data, in header order
  let lastRel: RelFileNode | null = null;
  let lastId = -1;
  let p = SIZE_OF_XLOG_RECORD;

  // Headers go on while the bytes left exceed the payloads they announced (DecodeXLogRecord).
  while (totLen - p > payloadLen) {
    const id = bytes[p]!;
    if (id === XLR_BLOCK_ID_DATA_SHORT) {
      if (p + 2 > totLen) truncated(lsn, "short main-data header", p, 2, totLen);
      mainLen = bytes[p + 1]!;
      p += 2;
      break; // always last
    }
    if (id === XLR_BLOCK_ID_DATA_LONG) {
      if (p + 5 > totLen) truncated(lsn, "long main-data header", p, 5, totLen);
      mainLen = readU32(bytes, p + 1);
      p += 5;
      break;
    }
    if (id === XLR_BLOCK_ID_ORIGIN) {
      if (p + 3 > totLen) truncated(lsn, "origin header", p, 3, totLen);
      origin = readU16(bytes, p + 1);
      p += 3;
      continue;
    }
    if (id === XLR_BLOCK_ID_TOPLEVEL_XID) {
      if (p + 5 > totLen) truncated(lsn, "toplevel xid header", p, 5, totLen);
      toplevelXid = readU32(bytes, p + 1);
      p += 5;
      continue;
    }
    if (id > XLR_MAX_BLOCK_ID) fail(lsn, `unknown block id ${id} at offset ${p}`, { blockId: id });
    if (id <= lastId) fail(lsn, `out-of-order block id ${id} after ${lastId}`, { blockId: id });
    if (origin !== null || toplevelXid !== null) {
      fail(lsn, `block id ${id} after the origin or toplevel-xid header`, { blockId: id });
    }
    lastId = id;
    if (p + 4 > totLen) truncated(lsn, `block ${id} header`, p, 4, totLen);
    const forkFlags = bytes[p + 1]!;
    const dataLength = readU16(bytes, p + 2);
    p += 4;
    const hasData = (forkFlags & BKPBLOCK_HAS_DATA) !== 0;
    if (hasData && dataLength === 0) fail(lsn, `block ${id}: HAS_DATA set but data length 0`);
    if (!hasData && dataLength !== 0) {
      fail(lsn, `block ${id}: HAS_DATA clear but data length ${dataLength}`);
    }
    let image: BlockImage | null = null;
    let imageLen = 0;
    if (forkFlags & BKPBLOCK_HAS_IMAGE) {
      if (p + 5 > totLen) truncated(lsn, `block ${id} image header`, p, 5, totLen);
      imageLen = readU16(bytes, p);
      const holeOffset = readU16(bytes, p + 2);
      const bimgInfo = bytes[p + 4]!;
      p += 5;
      const compressedBits = bimgInfo & BKPIMAGE_COMPRESSED_MASK;
      const hasHole = (bimgInfo & BKPIMAGE_HAS_HOLE) !== 0;
      let holeLength: number;
      if (compressedBits !== 0) {
        if (hasHole) {
          if (p + 2 > totLen) truncated(lsn, `block ${id} compressed-image header`, p, 2, totLen);
          holeLength = readU16(bytes, p);
          p += 2;
        } else {
          holeLength = 0;
        }
      } else {
        holeLength = BLCKSZ - imageLen;
      }
      let compression: ImageCompression = "none";
      if (compressedBits === BKPIMAGE_COMPRESS_PGLZ) compression = "pglz";
      else if (compressedBits === BKPIMAGE_COMPRESS_LZ4) compression = "lz4";
      else if (compressedBits === BKPIMAGE_COMPRESS_ZSTD) compression = "zstd";
      else if (compressedBits !== 0) {
        fail(lsn, `block ${id}: several compression bits in bimg_info 0x${bimgInfo.toString(16)}`);
      }
      // The sanity checks of DecodeXLogRecord.
      if (hasHole && (holeOffset === 0 || holeLength === 0 || imageLen === BLCKSZ)) {
        fail(
          lsn,
          `block ${id}: HAS_HOLE with hole offset ${holeOffset}, length ${holeLength}, image ${imageLen}`,
        );
      }
      if (!hasHole && (holeOffset !== 0 || holeLength !== 0)) {
        fail(lsn, `block ${id}: no HAS_HOLE but hole offset ${holeOffset}, length ${holeLength}`);
      }
      if (compressedBits !== 0 && imageLen === BLCKSZ) {
        fail(lsn, `block ${id}: compressed image of ${BLCKSZ} bytes`);
      }
      if (!hasHole && compressedBits === 0 && imageLen !== BLCKSZ) {
        fail(lsn, `block ${id}: image of ${imageLen} bytes with neither hole nor compression`);
      }
      if (holeOffset + holeLength > BLCKSZ) {
        fail(lsn, `block ${id}: hole ${holeOffset}+${holeLength} beyond the page`);
      }
      image = {
        bytes: EMPTY, // the view is made once the payload offsets are known
        length: imageLen,
        holeOffset,
        holeLength,
        bimgInfo,
        compression,
        apply: (bimgInfo & BKPIMAGE_APPLY) !== 0,
      };
    }
    let rel: RelFileNode;
    if (forkFlags & BKPBLOCK_SAME_REL) {
      if (lastRel === null) fail(lsn, `block ${id}: BKPBLOCK_SAME_REL without a previous relation`);
      rel = lastRel!;
    } else {
      if (p + 12 > totLen) truncated(lsn, `block ${id} RelFileNode`, p, 12, totLen);
      rel = {
        spcNode: readU32(bytes, p),
        dbNode: readU32(bytes, p + 4),
        relNode: readU32(bytes, p + 8),
      };
      p += 12;
      lastRel = rel;
    }
    if (p + 4 > totLen) truncated(lsn, `block ${id} block number`, p, 4, totLen);
    const blkno = readU32(bytes, p);
    p += 4;
    payloadLen += imageLen + dataLength;
    blocks.push({
      id,
      rel,
      forkNum: forkFlags & BKPBLOCK_FORK_MASK,
      blkno,
      forkFlags,
      willInit: (forkFlags & BKPBLOCK_WILL_INIT) !== 0,
      image,
      data: null,
      dataLength,
    });
  }

  if (p + payloadLen + mainLen !== totLen) {
    fail(
      lsn,
      `headers (${p} bytes), block payloads (${payloadLen}) and main data (${mainLen}) do not add up to xl_tot_len ${totLen}`,
      { headerBytes: p, payloadBytes: payloadLen, mainDataBytes: mainLen },
    );
  }
  for (let b = 0; b < blocks.length; b++) {
    const block = blocks[b]!;
    const image = block.image;
    if (image !== null) {
      image.bytes = bytes.subarray(p, p + image.length);
      p += image.length;
    }
    const dataLen = block.dataLength;
    if (dataLen > 0) {
      block.data = bytes.subarray(p, p + dataLen);
      p += dataLen;
    }
  }
  return {
    lsn,
    endLsn: record.endLsn,
    totLen,
    xid: readU32(bytes, 4),
    prev: readU64(bytes, 8) as Lsn,
    info,
    rmgrInfo: info & XLR_RMGR_INFO_MASK,
    flags: info & XLR_INFO_MASK,
    rmid: bytes[17]!,
    crc: readU32(bytes, 20),
    origin,
    toplevelXid,
    blocks,
    mainData: bytes.subarray(p, p + mainLen),
  };
}
