/**
 * Rebuilds the 8192-byte page from a block image, as RestoreBlockImage does: decompress (pglz,
 * lz4, zstd) to `8192 - hole_length` bytes, then put the hole back as zeros at `hole_offset`.
 *
 * The page's pd_lsn is left as the image holds it (the page's LSN *before* the record); redo sets
 * it to the record's endLsn, which `setPageLsn` does when the caller wants redo's result.
 */
import { decompress as zstdDecompress } from "fzstd";
import type { Lsn } from "../lsn.ts";
import { lz4DecompressBlock, pglzDecompress } from "./compression.ts";
import { WalImageError } from "./errors.ts";
import { BLCKSZ, readU16, readU32 } from "./layout.ts";
import type { BlockImage } from "./record_decoder.ts";

/**
 * The page of `image` (from the record at `lsn`, for error messages), written into `out` (a new
 * 8192-byte buffer unless given; every byte of it is overwritten). Throws WalImageError when the
 * image does not decompress to exactly 8192 - hole_length bytes.
 */
export function rebuildPage(
  image: BlockImage,
  lsn: Lsn,
  out: Uint8Array = new Uint8Array(BLCKSZ),
): Uint8Array {
  const { holeOffset, holeLength } = image;
  const rawLen = BLCKSZ - holeLength;
  const holeEnd = holeOffset + holeLength;
  if (out.length < BLCKSZ) throw new RangeError(`page buffer of ${out.length} bytes`);
  if (holeEnd > BLCKSZ) {
    throw new WalImageError(lsn, `hole ${holeOffset}+${holeLength} beyond the page`);
  }
  const fail = (what: string): never => {
    throw new WalImageError(
      lsn,
      `${image.compression} image of ${image.bytes.length} bytes ${what}; expected ${rawLen} bytes (8192 - hole ${holeLength})`,
      { compression: image.compression, imageBytes: image.bytes.length, expectedBytes: rawLen },
    );
  };
  switch (image.compression) {
    case "none":
      if (image.bytes.length !== rawLen) fail("is the wrong size");
      placeWithHole(image.bytes, out, holeOffset, holeLength);
      return out;
    case "pglz":
      if (pglzDecompress(image.bytes, out, rawLen) !== rawLen) fail("is not valid pglz");
      break;
    case "lz4": {
      const produced = lz4DecompressBlock(image.bytes, out, rawLen);
      if (produced < 0) fail("is not a valid lz4 block");
      if (produced !== rawLen) fail(`decompresses to ${produced} bytes`);
      break;
    }
    case "zstd": {
      let raw: Uint8Array;
      try {
        raw = zstdDecompress(image.bytes);
      } catch (error) {
        return fail(`is not a valid zstd frame (${(error as Error).message})`);
      }
      if (raw.length !== rawLen) fail(`decompresses to ${raw.length} bytes`);
      placeWithHole(raw, out, holeOffset, holeLength);
      return out;
    }
  }
  // pglz and lz4 wrote the raw bytes to out[0, rawLen): open the hole in place.
  if (holeLength > 0) {
    out.copyWithin(holeEnd, holeOffset, rawLen);
    out.fill(0, holeOffset, holeEnd);
  }
  return out;
}

function placeWithHole(raw: Uint8Array, out: Uint8Array, holeOffset: number, holeLength: number) {
  out.set(raw.subarray(0, holeOffset), 0);
  out.fill(0, holeOffset, holeOffset + holeLength);
  out.set(raw.subarray(holeOffset), holeOffset + holeLength);
}

/** The standard PostgreSQL page header (PageHeaderData, 24 bytes). */
export interface PageHeader {
  /** pd_lsn: {xlogid (high), xrecoff (low)}, as one number. */
  lsn: Lsn;
  checksum: number;
  flags: number;
  lower: number;
  upper: number;
  special: number;
  pageSizeVersion: number;
  pruneXid: number;
}

export function readPageHeader(page: Uint8Array): PageHeader {
  return {
    lsn: (readU32(page, 0) * 0x1_0000_0000 + readU32(page, 4)) as Lsn,
    checksum: readU16(page, 8),
    flags: readU16(page, 10),
    lower: readU16(page, 12),
    upper: readU16(page, 14),
    special: readU16(page, 16),
    pageSizeVersion: readU16(page, 18),
    pruneXid: readU32(page, 20),
  };
}

/** What redo does after restoring an image: pd_lsn = the record's endLsn, unless pd_upper is 0. */
export function setPageLsn(page: Uint8Array, lsn: Lsn): void {
  if (readU16(page, 14) === 0) return; // a new (all-zero) page keeps its LSN
  const view = new DataView(page.buffer, page.byteOffset, 8);
  view.setUint32(0, Math.floor(lsn / 0x1_0000_0000), true);
  view.setUint32(4, lsn >>> 0, true);
}
