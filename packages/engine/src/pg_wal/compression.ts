/**
 * Decompressors for PostgreSQL's full-page-image compression, written from the format
 * descriptions: pglz (PostgreSQL's own LZ variant) and the raw LZ4 block format. Both write into a
 * caller-supplied buffer and return the number of bytes produced, or -1 when the input is not a
 * valid stream for that buffer (a back-reference before the start, a stream that runs out in the
 * middle of an item, output that would overflow). zstd goes through the npm package fzstd (see
 * page_image.ts, and `zstdDecompressFrame` for whole files such as archived segments).
 */
import { decompress as fzstdDecompress } from "fzstd";

/** One or more complete zstd frames (an archived WAL segment, a zstd page image). */
export function zstdDecompressFrame(src: Uint8Array): Uint8Array {
  return fzstdDecompress(src);
}

/**
 * pglz: a control byte gives, LSB first, the kind of the next 8 items. Bit 0: one literal byte.
 * Bit 1: a back-reference of 2 or 3 bytes: byte 0 high nibble = offset bits 8..11, low nibble =
 * length - 3; byte 1 = offset bits 0..7; when the low nibble is 15 a third byte adds 0..255 to
 * the length (lengths 3..273, offsets 1..4095). A reference may overlap its own output (runs).
 * There is no header: the raw size is known from the context. Like PostgreSQL with
 * check_complete, the stream must fill `dest[0, rawLen)` and be consumed exactly.
 */
export function pglzDecompress(src: Uint8Array, dest: Uint8Array, rawLen: number): number {
  const srcLen = src.length;
  if (rawLen > dest.length) return -1;
  let sp = 0;
  let dp = 0;
  while (sp < srcLen && dp < rawLen) {
    let ctrl = src[sp++]!;
    for (let bit = 0; bit < 8 && sp < srcLen && dp < rawLen; bit++) {
      if (ctrl & 1) {
        if (sp + 1 >= srcLen) return -1;
        const b0 = src[sp]!;
        let len = (b0 & 0x0f) + 3;
        const off = ((b0 & 0xf0) << 4) | src[sp + 1]!;
        sp += 2;
        if (len === 18) {
          if (sp >= srcLen) return -1;
          len += src[sp++]!;
        }
        if (off === 0 || off > dp) return -1;
        // PostgreSQL clamps a reference that runs past the end; the completeness check decides.
        if (dp + len > rawLen) len = rawLen - dp;
        copyMatch(dest, dp, off, len);
        dp += len;
      } else {
        dest[dp++] = src[sp++]!;
      }
      ctrl >>= 1;
    }
  }
  return dp === rawLen && sp === srcLen ? dp : -1;
}

/**
 * LZ4 block (no frame): a sequence of (token, literal-length extension, literals, u16 LE offset,
 * match-length extension). Token high nibble = literal count, low nibble = match length - 4; a
 * nibble of 15 continues in the following bytes, each added, until one is below 255. The last
 * sequence has literals only and ends the block. Returns the decompressed size (≤ capacity).
 */
export function lz4DecompressBlock(src: Uint8Array, dest: Uint8Array, capacity: number): number {
  const srcLen = src.length;
  if (capacity > dest.length) return -1;
  let sp = 0;
  let dp = 0;
  for (;;) {
    if (sp >= srcLen) return -1;
    const token = src[sp++]!;
    let litLen = token >>> 4;
    if (litLen === 15) {
      let b: number;
      do {
        if (sp >= srcLen) return -1;
        b = src[sp++]!;
        litLen += b;
      } while (b === 255);
    }
    if (sp + litLen > srcLen || dp + litLen > capacity) return -1;
    if (litLen > 16) {
      dest.set(src.subarray(sp, sp + litLen), dp);
    } else {
      for (let k = 0; k < litLen; k++) dest[dp + k] = src[sp + k]!;
    }
    sp += litLen;
    dp += litLen;
    if (sp === srcLen) return dp; // last sequence: literals only
    if (sp + 2 > srcLen) return -1;
    const off = src[sp]! | (src[sp + 1]! << 8);
    sp += 2;
    if (off === 0 || off > dp) return -1;
    let matchLen = (token & 0x0f) + 4;
    if ((token & 0x0f) === 15) {
      let b: number;
      do {
        if (sp >= srcLen) return -1;
        b = src[sp++]!;
        matchLen += b;
      } while (b === 255);
    }
    if (dp + matchLen > capacity) return -1;
    copyMatch(dest, dp, off, matchLen);
    dp += matchLen;
  }
}

/** Copies `len` bytes from `dp - off` to `dp`, forward, so that an overlap repeats the pattern. */
function copyMatch(dest: Uint8Array, dp: number, off: number, len: number): void {
  if (off >= len) {
    if (len > 32) dest.copyWithin(dp, dp - off, dp - off + len);
    else for (let k = 0; k < len; k++) dest[dp + k] = dest[dp - off + k]!;
    return;
  }
  let from = dp - off;
  const end = dp + len;
  while (dp < end) dest[dp++] = dest[from++]!;
}
