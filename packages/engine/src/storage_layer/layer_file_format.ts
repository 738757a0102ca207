/**
 * The byte layout of our layer files (written down in packages/engine/FORMAT.md). Shared by the
 * writer and the reader; nothing here does I/O.
 */
import { crc32 } from "node:zlib";
import { CorruptionError } from "../errors.ts";
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
