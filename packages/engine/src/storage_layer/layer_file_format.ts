/**
 * The byte layout of our layer files (written down in packages/engine/FORMAT.md). Shared by the
 * writer and the reader; nothing here does I/O.
 */
import { crc32 } from "node:zlib";
import { CorruptionError, InvalidArgumentError } from "../errors.ts";
import type { TenantId, TimelineId } from "../ids.ts";
import { KEY_SIZE, type Key, keyFromBytes, writeKey } from "../key/key.ts";
import type { KeyRange } from "../key/key_space.ts";
import { INDEX_NODE_SIZE_BYTES } from "../limits.ts";
import { type Lsn, type LsnRange, readLsn, writeLsn } from "../lsn.ts";
import type { LayerKind } from "./layer_name.ts";

export const DELTA_MAGIC = 0x5053_444c; // "PSDL"
export const IMAGE_MAGIC = 0x5053_494d; // "PSIM"
export const FORMAT_VERSION = 1;
export const HEADER_SIZE = 512;
const HEADER_CHECKSUMMED_BYTES = 132;

/** Index nodes. */
export const NODE_HEADER_SIZE = 16;
export const NODE_LEVEL_LEAF = 0;
/** Leaf entry: key 18 | lsn u64 | blob offset u48 | payload length u32 | flags u8. */
export const LEAF_ENTRY_SIZE = 37;
/** Internal entry: key 18 | lsn u64 | child node offset u48. */
export const INTERNAL_ENTRY_SIZE = 32;
export const LEAF_CAPACITY = Math.floor(
  (INDEX_NODE_SIZE_BYTES - NODE_HEADER_SIZE) / LEAF_ENTRY_SIZE,
);
export const INTERNAL_CAPACITY = Math.floor(
  (INDEX_NODE_SIZE_BYTES - NODE_HEADER_SIZE) / INTERNAL_ENTRY_SIZE,
);
/** Entry flag: the value initialises the page (an image or a will_init record). */
export const ENTRY_WILL_INIT = 1;
/** Bytes of the CRC-32 trailer after each blob payload. */
export const BLOB_CHECKSUM_SIZE = 4;
/** Size of the (key, lsn) prefix every entry starts with; its byte order is the entry order. */
export const ENTRY_KEY_SIZE = KEY_SIZE + 8;

export interface LayerFileSummary {
  readonly kind: LayerKind;
  readonly tenantId: TenantId;
  readonly timelineId: TimelineId;
  readonly keyRange: KeyRange;
  readonly lsnRange: LsnRange;
  readonly indexRootOffset: number;
  /** Levels of the index; 1 when the root is a leaf, 0 when the layer is empty. */
  readonly indexHeight: number;
  readonly entryCount: number;
  readonly valuesBytes: number;
  readonly fileSize: number;
}

function writeU64(buffer: Buffer, value: number, offset: number): void {
  buffer.writeUInt32BE(Math.floor(value / 0x1_0000_0000), offset);
  buffer.writeUInt32BE(value >>> 0, offset + 4);
}

function readU64(buffer: Buffer, offset: number): number {
  return buffer.readUInt32BE(offset) * 0x1_0000_0000 + buffer.readUInt32BE(offset + 4);
}

export function encodeHeader(summary: LayerFileSummary): Buffer {
  const header = Buffer.alloc(HEADER_SIZE);
  header.writeUInt32BE(summary.kind === "delta" ? DELTA_MAGIC : IMAGE_MAGIC, 0);
  header.writeUInt16BE(FORMAT_VERSION, 4);
  header.writeUInt16BE(HEADER_SIZE, 6);
  header.write(summary.tenantId, 8, 16, "hex");
  header.write(summary.timelineId, 24, 16, "hex");
  writeKey(header, summary.keyRange.start, 40);
  writeKey(header, summary.keyRange.end, 58);
  writeLsn(header, summary.lsnRange.start, 76);
  writeLsn(header, summary.lsnRange.end, 84);
  writeU64(header, summary.indexRootOffset, 92);
  header.writeUInt32BE(summary.indexHeight, 100);
  writeU64(header, summary.entryCount, 104);
  writeU64(header, summary.valuesBytes, 112);
  writeU64(header, summary.fileSize, 120);
  header.writeUInt32BE(0, 128); // reserved: value compression (none)
  header.writeUInt32BE(
    crc32(header.subarray(0, HEADER_CHECKSUMMED_BYTES)),
    HEADER_CHECKSUMMED_BYTES,
  );
  return header;
}

export function decodeHeader(header: Buffer, file: string): LayerFileSummary {
  const corrupt = (what: string): never => {
    throw new CorruptionError(`layer file ${file} is damaged: ${what}`, { file });
  };
  if (header.length < HEADER_SIZE)
    corrupt(`header has ${header.length} bytes, expected ${HEADER_SIZE}`);
  const magic = header.readUInt32BE(0);
  if (magic !== DELTA_MAGIC && magic !== IMAGE_MAGIC) corrupt(`bad magic 0x${magic.toString(16)}`);
  const stored = header.readUInt32BE(HEADER_CHECKSUMMED_BYTES);
  if (crc32(header.subarray(0, HEADER_CHECKSUMMED_BYTES)) !== stored)
    corrupt("header checksum mismatch");
  const version = header.readUInt16BE(4);
  if (version !== FORMAT_VERSION) corrupt(`unsupported format version ${version}`);
  return {
    kind: magic === DELTA_MAGIC ? "delta" : "image",
    tenantId: header.toString("hex", 8, 24) as TenantId,
    timelineId: header.toString("hex", 24, 40) as TimelineId,
    keyRange: { start: keyFromBytes(header, 40), end: keyFromBytes(header, 58) },
    lsnRange: { start: readLsn(header, 76), end: readLsn(header, 84) },
    indexRootOffset: readU64(header, 92),
    indexHeight: header.readUInt32BE(100),
    entryCount: readU64(header, 104),
    valuesBytes: readU64(header, 112),
    fileSize: readU64(header, 120),
  };
}

/** Writes the node header (checksum last, over everything after it). */
export function sealNode(node: Buffer, level: number, count: number, previousLeaf: number): void {
  node[4] = level;
  node[5] = 0;
  node.writeUInt16BE(count, 6);
  writeU64(node, previousLeaf, 8);
  node.writeUInt32BE(crc32(node.subarray(4, INDEX_NODE_SIZE_BYTES)), 0);
}

export function nodeChecksumOk(node: Buffer): boolean {
  return crc32(node.subarray(4, INDEX_NODE_SIZE_BYTES)) === node.readUInt32BE(0);
}

export function nodeLevel(node: Buffer): number {
  return node[4]!;
}

export function nodeCount(node: Buffer): number {
  return node.readUInt16BE(6);
}

export function nodePreviousLeaf(node: Buffer): number {
  return readU64(node, 8);
}

export function readU48(buffer: Buffer, offset: number): number {
  return buffer.readUIntBE(offset, 6);
}

export function writeU48(buffer: Buffer, value: number, offset: number): void {
  buffer.writeUIntBE(value, offset, 6);
}

/**
 * A search target (key, lsn) held as seven numbers so that comparing it with an entry in a node
 * reads only the node: six big-endian u32 words and a final u16, which is byte order.
 */
/** A big-endian u32 by indexed byte reads (see EntryTarget.compareEntry). */
function u32At(bytes: Buffer, offset: number): number {
  return (
    ((bytes[offset]! << 24) |
      (bytes[offset + 1]! << 16) |
      (bytes[offset + 2]! << 8) |
      bytes[offset + 3]!) >>>
    0
  );
}

export class EntryTarget {
  private readonly bytes = Buffer.alloc(ENTRY_KEY_SIZE);
  w0 = 0;
  w1 = 0;
  w2 = 0;
  w3 = 0;
  w4 = 0;
  w5 = 0;
  w6 = 0;

  set(key: Key, lsn: Lsn): this {
    writeKey(this.bytes, key, 0);
    writeLsn(this.bytes, lsn, KEY_SIZE);
    return this.load();
  }

  setBytes(source: Buffer, offset: number): this {
    source.copy(this.bytes, 0, offset, offset + ENTRY_KEY_SIZE);
    return this.load();
  }

  private load(): this {
    const b = this.bytes;
    this.w0 = b.readUInt32BE(0);
    this.w1 = b.readUInt32BE(4);
    this.w2 = b.readUInt32BE(8);
    this.w3 = b.readUInt32BE(12);
    this.w4 = b.readUInt32BE(16);
    this.w5 = b.readUInt32BE(20);
    this.w6 = b.readUInt16BE(24);
    return this;
  }

  /**
   * Compares the entry at `offset` of `node` with this target: <0, 0, >0 (byte order). The
   * binary searches of every index lookup run this; plain indexed byte reads compile to a few
   * instructions, where `readUInt32BE` (with its bounds checks) was not always inlined. Callers
   * guarantee `offset + ENTRY_KEY_SIZE <= node.length` (entries lie inside verified nodes).
   */
  compareEntry(node: Buffer, offset: number): number {
    let a = u32At(node, offset);
    if (a !== this.w0) return a - this.w0;
    a = u32At(node, offset + 4);
    if (a !== this.w1) return a - this.w1;
    a = u32At(node, offset + 8);
    if (a !== this.w2) return a - this.w2;
    a = u32At(node, offset + 12);
    if (a !== this.w3) return a - this.w3;
    a = u32At(node, offset + 16);
    if (a !== this.w4) return a - this.w4;
    a = u32At(node, offset + 20);
    if (a !== this.w5) return a - this.w5;
    return ((node[offset + 24]! << 8) | node[offset + 25]!) - this.w6;
  }

  /** Whether the entry at `offset` has this target's key (ignoring the LSN). */
  sameKey(node: Buffer, offset: number): boolean {
    return (
      u32At(node, offset) === this.w0 &&
      u32At(node, offset + 4) === this.w1 &&
      u32At(node, offset + 8) === this.w2 &&
      u32At(node, offset + 12) === this.w3 &&
      ((node[offset + 16]! << 8) | node[offset + 17]!) === this.w4 >>> 16
    );
  }
}

export { readU64, writeU64 };

// --- CRC-32 of short ranges --------------------------------------------------------------

/**
 * zlib's crc32 costs about 190 ns per call before its first byte (4.5 GB/s after), so a 100-byte
 * value took 200 ns; slice-by-16 in JS does it in 65 ns and wins below about 600 bytes. Same
 * polynomial (IEEE, reflected), same results: the format does not change.
 */
const CRC_JS_BYTES_MAX = 512;
const CRC_TABLE = new Int32Array(16 * 256);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  CRC_TABLE[n] = c;
}
for (let n = 0; n < 256; n++) {
  let c = CRC_TABLE[n]!;
  for (let k = 1; k < 16; k++) {
    c = CRC_TABLE[c & 0xff]! ^ (c >>> 8);
    CRC_TABLE[k * 256 + n] = c;
  }
}

/** CRC-32 of bytes[start, end). `view` is a DataView over the same memory as `bytes`. */
export function crc32Of(bytes: Uint8Array, view: DataView, start: number, end: number): number {
  if (end - start > CRC_JS_BYTES_MAX) {
    return crc32(new Uint8Array(bytes.buffer, bytes.byteOffset + start, end - start));
  }
  const t = CRC_TABLE;
  let c = -1;
  let i = start;
  const end16 = start + ((end - start) & ~15);
  while (i < end16) {
    const a = c ^ view.getInt32(i, true);
    const b = view.getInt32(i + 4, true);
    const d = view.getInt32(i + 8, true);
    const e = view.getInt32(i + 12, true);
    c =
      t[3840 + (a & 0xff)]! ^
      t[3584 + ((a >>> 8) & 0xff)]! ^
      t[3328 + ((a >>> 16) & 0xff)]! ^
      t[3072 + (a >>> 24)]! ^
      t[2816 + (b & 0xff)]! ^
      t[2560 + ((b >>> 8) & 0xff)]! ^
      t[2304 + ((b >>> 16) & 0xff)]! ^
      t[2048 + (b >>> 24)]! ^
      t[1792 + (d & 0xff)]! ^
      t[1536 + ((d >>> 8) & 0xff)]! ^
      t[1280 + ((d >>> 16) & 0xff)]! ^
      t[1024 + (d >>> 24)]! ^
      t[768 + (e & 0xff)]! ^
      t[512 + ((e >>> 8) & 0xff)]! ^
      t[256 + ((e >>> 16) & 0xff)]! ^
      t[e >>> 24]!;
    i += 16;
  }
  while (i < end) c = t[(c ^ bytes[i++]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

/**
 * Copies src[start, start + length) to dst at `at` and returns its CRC-32, in one pass for short
 * values: the 16 bytes each CRC step reads are the ones it stores. No view is made (a
 * `new Uint8Array` per value was a young-generation object per entry, and scavenges, on a
 * million-entry flush). The views are DataViews over the same memory as src and dst.
 */
export function copyWithCrc32(
  src: Uint8Array,
  srcView: DataView,
  start: number,
  length: number,
  dst: Uint8Array,
  dstView: DataView,
  at: number,
): number {
  if (length > CRC_JS_BYTES_MAX) {
    dst.set(new Uint8Array(src.buffer, src.byteOffset + start, length), at);
    return crc32(new Uint8Array(dst.buffer, dst.byteOffset + at, length));
  }
  const t = CRC_TABLE;
  let c = -1;
  let i = start;
  let j = at;
  const end = start + length;
  const end16 = start + (length & ~15);
  while (i < end16) {
    const a0 = srcView.getInt32(i, true);
    const b = srcView.getInt32(i + 4, true);
    const d = srcView.getInt32(i + 8, true);
    const e = srcView.getInt32(i + 12, true);
    dstView.setInt32(j, a0, true);
    dstView.setInt32(j + 4, b, true);
    dstView.setInt32(j + 8, d, true);
    dstView.setInt32(j + 12, e, true);
    const a = c ^ a0;
    c =
      t[3840 + (a & 0xff)]! ^
      t[3584 + ((a >>> 8) & 0xff)]! ^
      t[3328 + ((a >>> 16) & 0xff)]! ^
      t[3072 + (a >>> 24)]! ^
      t[2816 + (b & 0xff)]! ^
      t[2560 + ((b >>> 8) & 0xff)]! ^
      t[2304 + ((b >>> 16) & 0xff)]! ^
      t[2048 + (b >>> 24)]! ^
      t[1792 + (d & 0xff)]! ^
      t[1536 + ((d >>> 8) & 0xff)]! ^
      t[1280 + ((d >>> 16) & 0xff)]! ^
      t[1024 + (d >>> 24)]! ^
      t[768 + (e & 0xff)]! ^
      t[512 + ((e >>> 8) & 0xff)]! ^
      t[256 + ((e >>> 16) & 0xff)]! ^
      t[e >>> 24]!;
    i += 16;
    j += 16;
  }
  while (i < end) {
    const byte = src[i++]!;
    dst[j++] = byte;
    c = t[(c ^ byte) & 0xff]! ^ (c >>> 8);
  }
  return ~c >>> 0;
}

/** Copies src[start, start + length) to dst at `at`; short copies make no view (see above). */
export function copyBytes(
  src: Uint8Array,
  srcView: DataView,
  start: number,
  length: number,
  dst: Uint8Array,
  dstView: DataView,
  at: number,
): void {
  if (length > CRC_JS_BYTES_MAX) {
    dst.set(new Uint8Array(src.buffer, src.byteOffset + start, length), at);
    return;
  }
  let i = start;
  let j = at;
  const end4 = start + (length & ~3);
  while (i < end4) {
    dstView.setInt32(j, srcView.getInt32(i, true), true);
    i += 4;
    j += 4;
  }
  const end = start + length;
  while (i < end) dst[j++] = src[i++]!;
}

// --- Keys as five numbers ----------------------------------------------------------------

/** Hex digit values by char code; -1 for anything else (both cases accepted). */
const HEX_DIGIT = new Int8Array(65536).fill(-1);
for (let i = 0; i < 10; i++) HEX_DIGIT[48 + i] = i;
for (let i = 0; i < 6; i++) {
  HEX_DIGIT[65 + i] = 10 + i;
  HEX_DIGIT[97 + i] = 10 + i;
}

function hexWord(text: string, at: number): number {
  const h = HEX_DIGIT;
  const a = h[text.charCodeAt(at)]!;
  const b = h[text.charCodeAt(at + 1)]!;
  const c = h[text.charCodeAt(at + 2)]!;
  const d = h[text.charCodeAt(at + 3)]!;
  const e = h[text.charCodeAt(at + 4)]!;
  const f = h[text.charCodeAt(at + 5)]!;
  const g = h[text.charCodeAt(at + 6)]!;
  const i = h[text.charCodeAt(at + 7)]!;
  // A -1 digit sets the sign bit of the OR; callers check it.
  if ((a | b | c | d | e | f | g | i) < 0) return -1;
  return (
    ((a << 28) | (b << 24) | (c << 20) | (d << 16) | (e << 12) | (f << 8) | (g << 4) | i) >>> 0
  );
}

/**
 * Decodes a key's 36 hex digits into `out[0..5)`: the big-endian u32 words of bytes 0-3, 4-7,
 * 8-11, 12-15 and the u16 of bytes 16-17 — numbers that compare in key order, word by word.
 * Charcode arithmetic: `Buffer.write(…, "hex")` costs a native call (about 90 ns) per key.
 */
export function decodeKeyWords(key: Key, out: Uint32Array): void {
  const w0 = key.length === 36 ? hexWord(key, 0) : -1;
  const w1 = hexWord(key, 8);
  const w2 = hexWord(key, 16);
  const w3 = hexWord(key, 24);
  const h = HEX_DIGIT;
  const a = h[key.charCodeAt(32)]!;
  const b = h[key.charCodeAt(33)]!;
  const c = h[key.charCodeAt(34)]!;
  const d = h[key.charCodeAt(35)]!;
  if (w0 < 0 || w1 < 0 || w2 < 0 || w3 < 0 || (a | b | c | d) < 0) {
    throw new InvalidArgumentError(
      `invalid key '${String(key).slice(0, 80)}': expected 36 hex digits`,
    );
  }
  out[0] = w0;
  out[1] = w1;
  out[2] = w2;
  out[3] = w3;
  out[4] = (a << 12) | (b << 8) | (c << 4) | d;
}

/** Writes the 18 key bytes of words k0..k4 (see decodeKeyWords) at `at`. */
export function writeKeyWords(
  view: DataView,
  at: number,
  k0: number,
  k1: number,
  k2: number,
  k3: number,
  k4: number,
): void {
  view.setUint32(at, k0);
  view.setUint32(at + 4, k1);
  view.setUint32(at + 8, k2);
  view.setUint32(at + 12, k3);
  view.setUint16(at + 16, k4);
}
