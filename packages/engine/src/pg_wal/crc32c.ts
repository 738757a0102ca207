/**
 * CRC-32C (Castagnoli), the checksum of PostgreSQL's WAL records: reflected polynomial 0x82F63B78,
 * initial value 0xFFFFFFFF, final XOR 0xFFFFFFFF. Slicing-by-8: eight 256-entry tables, eight input
 * bytes per step, so the hot loop does two 32-bit loads' worth of table lookups per 8 bytes.
 *
 * `crc32cUpdate` works on the raw (un-inverted) register so that one checksum can span several
 * ranges, as the WAL CRC does (record body first, then the header's first 20 bytes).
 */

const POLY = 0x82f63b78;

/** TABLES[k * 256 + b]: the CRC register contribution of byte b followed by k zero bytes. */
const TABLES = new Uint32Array(8 * 256);
for (let b = 0; b < 256; b++) {
  let c = b;
  for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
  TABLES[b] = c >>> 0;
}
for (let b = 0; b < 256; b++) {
  let c = TABLES[b]!;
  for (let k = 1; k < 8; k++) {
    c = (c >>> 8) ^ TABLES[c & 0xff]!;
    TABLES[k * 256 + b] = c >>> 0;
  }
}

export const CRC32C_INIT = 0xffffffff;

/** Feeds `bytes[start, end)` into the register `crc` (start with CRC32C_INIT); returns the register. */
export function crc32cUpdate(
  crc: number,
  bytes: Uint8Array,
  start = 0,
  end = bytes.length,
): number {
  const t = TABLES;
  let i = start;
  // Slicing-by-8 over the aligned middle part.
  const stop8 = end - 7;
  while (i < stop8) {
    const lo =
      (crc ^ (bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24))) >>>
      0;
    crc =
      t[1792 + (lo & 0xff)]! ^
      t[1536 + ((lo >>> 8) & 0xff)]! ^
      t[1280 + ((lo >>> 16) & 0xff)]! ^
      t[1024 + (lo >>> 24)]! ^
      t[768 + bytes[i + 4]!]! ^
      t[512 + bytes[i + 5]!]! ^
      t[256 + bytes[i + 6]!]! ^
      t[bytes[i + 7]!]!;
    i += 8;
  }
  while (i < end) {
    crc = (crc >>> 8) ^ t[(crc ^ bytes[i]!) & 0xff]!;
    i++;
  }
  return crc >>> 0;
}

/** The finished CRC-32C of `bytes[start, end)`. */
export function crc32c(bytes: Uint8Array, start = 0, end = bytes.length): number {
  return (crc32cUpdate(CRC32C_INIT, bytes, start, end) ^ 0xffffffff) >>> 0;
}
