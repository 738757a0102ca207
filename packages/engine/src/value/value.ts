/**
 * Values stored per (key, LSN): a page image, or a WAL record to apply on top of older values.
 *
 * Records are Neon's `NeonWalRecord` kinds (see reference §2). `Postgres` records are carried
 * opaquely; the in-process redo applies every other kind.
 *
 * ## Binary encoding (ours, compact, big-endian)
 *
 * One tag byte, then the payload. Images carry their bytes as they are, so an 8 KiB page costs
 * one byte of overhead, and `valueWillInit` answers from the first bytes without decoding.
 *
 * | tag | value | payload |
 * |---|---|---|
 * | 0 | Image | the bytes |
 * | 1 | Postgres | u8 will_init, record bytes |
 * | 2 | ClearVisibilityMapFlags | u8 flags, u8 has_new, u32 new, u8 has_old, u32 old |
 * | 3 | ClogSetCommitted | i64 timestamp, u32 n, n × u32 xid |
 * | 4 | ClogSetAborted | u32 n, n × u32 xid |
 * | 5 | MultixactOffsetCreate | u32 mid, u32 moff |
 * | 6 | MultixactMembersCreate | u32 moff, u32 n, n × (u32 xid, u32 status) |
 * | 7 | AuxFile | u32 path length, path (UTF-8), u8 has_content, content |
 * | 8 | TruncateVisibilityMap | u64 trunc_byte, u64 trunc_offs |
 * | 9 | Test | u8 flags (1 clear, 2 will_init, 4 has only_if), u32 append length, append, only_if |
 */
import { assert, unreachable } from "../assert.ts";
import { CorruptionError } from "../errors.ts";

export type NeonWalRecord =
  | { readonly type: "Postgres"; readonly willInit: boolean; readonly rec: Buffer }
  | {
      readonly type: "ClearVisibilityMapFlags";
      readonly newHeapBlkno: number | null;
      readonly oldHeapBlkno: number | null;
      readonly flags: number;
    }
  | {
      readonly type: "ClogSetCommitted";
      readonly xids: readonly number[];
      readonly timestamp: number;
    }
  | { readonly type: "ClogSetAborted"; readonly xids: readonly number[] }
  | { readonly type: "MultixactOffsetCreate"; readonly mid: number; readonly moff: number }
  | {
      readonly type: "MultixactMembersCreate";
      readonly moff: number;
      readonly members: readonly { readonly xid: number; readonly status: number }[];
    }
  | { readonly type: "AuxFile"; readonly filePath: string; readonly content: Buffer | null }
  | {
      readonly type: "TruncateVisibilityMap";
      readonly truncByte: number;
      readonly truncOffs: number;
    }
  | {
      readonly type: "Test";
      readonly append: string;
      readonly clear: boolean;
      readonly willInit: boolean;
      readonly onlyIf: string | null;
    };

export type Value =
  | { readonly kind: "image"; readonly image: Buffer }
  | { readonly kind: "record"; readonly record: NeonWalRecord };

export enum ValueTag {
  Image = 0,
  Postgres = 1,
  ClearVisibilityMapFlags = 2,
  ClogSetCommitted = 3,
  ClogSetAborted = 4,
  MultixactOffsetCreate = 5,
  MultixactMembersCreate = 6,
  AuxFile = 7,
  TruncateVisibilityMap = 8,
  Test = 9,
}

const TEST_CLEAR = 1;
const TEST_WILL_INIT = 2;
const TEST_HAS_ONLY_IF = 4;

export function imageValue(image: Buffer): Value {
  return { kind: "image", image };
}

export function recordValue(record: NeonWalRecord): Value {
  return { kind: "record", record };
}

export function recordWillInit(record: NeonWalRecord): boolean {
  return (record.type === "Postgres" || record.type === "Test") && record.willInit;
}

export function valueWillInit(value: Value): boolean {
  return value.kind === "image" || recordWillInit(value.record);
}

/** will_init of an encoded value, read from its first two bytes. */
export function encodedValueWillInit(encoded: Buffer): boolean {
  const tag = encoded[0];
  if (tag === ValueTag.Image) return true;
  if (tag === ValueTag.Postgres) return encoded[1] === 1;
  if (tag === ValueTag.Test) return ((encoded[1] ?? 0) & TEST_WILL_INIT) !== 0;
  return false;
}

export function isEncodedImage(encoded: Buffer): boolean {
  return encoded[0] === ValueTag.Image;
}

/** Size of the encoding of `value` in bytes. */
export function encodedValueLength(value: Value): number {
  if (value.kind === "image") return 1 + value.image.length;
  const record = value.record;
  switch (record.type) {
    case "Postgres":
      return 2 + record.rec.length;
    case "ClearVisibilityMapFlags":
      return 12;
    case "ClogSetCommitted":
      return 1 + 8 + 4 + 4 * record.xids.length;
    case "ClogSetAborted":
      return 1 + 4 + 4 * record.xids.length;
    case "MultixactOffsetCreate":
      return 1 + 8;
    case "MultixactMembersCreate":
      return 1 + 8 + 8 * record.members.length;
    case "AuxFile":
      return 1 + 4 + Buffer.byteLength(record.filePath) + 1 + (record.content?.length ?? 0);
    case "TruncateVisibilityMap":
      return 1 + 16;
    case "Test":
      return (
        1 +
        1 +
        4 +
        Buffer.byteLength(record.append) +
        (record.onlyIf === null ? 0 : Buffer.byteLength(record.onlyIf))
      );
    default:
      return unreachable(record);
  }
}

function writeU64(buffer: Buffer, value: number, offset: number): number {
  buffer.writeUInt32BE(Math.floor(value / 0x1_0000_0000), offset);
  buffer.writeUInt32BE(value >>> 0, offset + 4);
  return offset + 8;
}

function writeI64(buffer: Buffer, value: number, offset: number): number {
  buffer.writeBigInt64BE(BigInt(value), offset);
  return offset + 8;
}

function writeXids(buffer: Buffer, xids: readonly number[], offset: number): number {
  offset = buffer.writeUInt32BE(xids.length, offset);
  for (const xid of xids) offset = buffer.writeUInt32BE(xid, offset);
  return offset;
}

/**
 * Writes the encoding of `value` at `offset` (the caller sized the room with
 * `encodedValueLength`); returns the offset after it.
 */
export function writeValue(value: Value, buffer: Buffer, offset: number): number {
  if (value.kind === "image") {
    buffer[offset] = ValueTag.Image;
    // TypedArray set, not Buffer.copy: 16 ns against 40-100 ns for a 100-byte value (ingest's
    // per-put copy).
    buffer.set(value.image, offset + 1);
    return offset + 1 + value.image.length;
  }
  const record = value.record;
  switch (record.type) {
    case "Postgres":
      buffer[offset] = ValueTag.Postgres;
      buffer[offset + 1] = record.willInit ? 1 : 0;
      return offset + 2 + record.rec.copy(buffer, offset + 2);
    case "ClearVisibilityMapFlags":
      buffer[offset] = ValueTag.ClearVisibilityMapFlags;
      buffer[offset + 1] = record.flags;
      buffer[offset + 2] = record.newHeapBlkno === null ? 0 : 1;
      buffer.writeUInt32BE(record.newHeapBlkno ?? 0, offset + 3);
      buffer[offset + 7] = record.oldHeapBlkno === null ? 0 : 1;
      buffer.writeUInt32BE(record.oldHeapBlkno ?? 0, offset + 8);
      return offset + 12;
    case "ClogSetCommitted":
      buffer[offset] = ValueTag.ClogSetCommitted;
      return writeXids(buffer, record.xids, writeI64(buffer, record.timestamp, offset + 1));
    case "ClogSetAborted":
      buffer[offset] = ValueTag.ClogSetAborted;
      return writeXids(buffer, record.xids, offset + 1);
    case "MultixactOffsetCreate":
      buffer[offset] = ValueTag.MultixactOffsetCreate;
      buffer.writeUInt32BE(record.mid, offset + 1);
      return buffer.writeUInt32BE(record.moff, offset + 5);
    case "MultixactMembersCreate": {
      buffer[offset] = ValueTag.MultixactMembersCreate;
      offset = buffer.writeUInt32BE(record.moff, offset + 1);
      offset = buffer.writeUInt32BE(record.members.length, offset);
      for (const member of record.members) {
        offset = buffer.writeUInt32BE(member.xid, offset);
        offset = buffer.writeUInt32BE(member.status, offset);
      }
      return offset;
    }
    case "AuxFile": {
      buffer[offset] = ValueTag.AuxFile;
      const pathLength = Buffer.byteLength(record.filePath);
      offset = buffer.writeUInt32BE(pathLength, offset + 1);
      offset += buffer.write(record.filePath, offset, pathLength, "utf8");
      buffer[offset] = record.content === null ? 0 : 1;
      return offset + 1 + (record.content?.copy(buffer, offset + 1) ?? 0);
    }
    case "TruncateVisibilityMap":
      buffer[offset] = ValueTag.TruncateVisibilityMap;
      return writeU64(buffer, record.truncOffs, writeU64(buffer, record.truncByte, offset + 1));
    case "Test": {
      buffer[offset] = ValueTag.Test;
      buffer[offset + 1] =
        (record.clear ? TEST_CLEAR : 0) |
        (record.willInit ? TEST_WILL_INIT : 0) |
        (record.onlyIf === null ? 0 : TEST_HAS_ONLY_IF);
      const appendLength = Buffer.byteLength(record.append);
      offset = buffer.writeUInt32BE(appendLength, offset + 2);
      offset += buffer.write(record.append, offset, appendLength, "utf8");
      if (record.onlyIf !== null) offset += buffer.write(record.onlyIf, offset, "utf8");
      return offset;
    }
    default:
      return unreachable(record);
  }
}

export function encodeValue(value: Value): Buffer {
  const buffer = Buffer.allocUnsafe(encodedValueLength(value));
  const end = writeValue(value, buffer, 0);
  assert(end === buffer.length, `encodeValue: wrote ${end} of ${buffer.length} bytes`);
  return buffer;
}

class ValueReader {
  offset = 1;
  constructor(readonly buffer: Buffer) {}

  need(bytes: number): void {
    if (this.offset + bytes > this.buffer.length) {
      throw new CorruptionError(
        `value encoding truncated: need ${bytes} bytes at ${this.offset} of ${this.buffer.length}`,
        {},
      );
    }
  }
  u8(): number {
    this.need(1);
    return this.buffer[this.offset++]!;
  }
  u32(): number {
    this.need(4);
    const value = this.buffer.readUInt32BE(this.offset);
    this.offset += 4;
    return value;
  }
  u64(): number {
    const high = this.u32();
    return high * 0x1_0000_0000 + this.u32();
  }
  i64(): number {
    this.need(8);
    const value = Number(this.buffer.readBigInt64BE(this.offset));
    this.offset += 8;
    return value;
  }
  xids(): number[] {
    const count = this.u32();
    this.need(count * 4);
    const xids = new Array<number>(count);
    for (let i = 0; i < count; i++) xids[i] = this.u32();
    return xids;
  }
  bytes(length: number): Buffer {
    this.need(length);
    const out = this.buffer.subarray(this.offset, this.offset + length);
    this.offset += length;
    return out;
  }
  rest(): Buffer {
    return this.bytes(this.buffer.length - this.offset);
  }
}

/**
 * Decodes a value. The result may share memory with `encoded` (images and record payloads are
 * views, not copies): copy before mutating.
 */
export function decodeValue(encoded: Buffer): Value {
  if (encoded.length === 0) throw new CorruptionError("empty value encoding", {});
  const tag = encoded[0];
  if (tag === ValueTag.Image) return { kind: "image", image: encoded.subarray(1) };
  return { kind: "record", record: decodeRecord(tag!, new ValueReader(encoded)) };
}

function decodeRecord(tag: number, reader: ValueReader): NeonWalRecord {
  switch (tag) {
    case ValueTag.Postgres: {
      const willInit = reader.u8() === 1;
      return { type: "Postgres", willInit, rec: reader.rest() };
    }
    case ValueTag.ClearVisibilityMapFlags: {
      const flags = reader.u8();
      const hasNew = reader.u8() === 1;
      const newBlock = reader.u32();
      const hasOld = reader.u8() === 1;
      const oldBlock = reader.u32();
      return {
        type: "ClearVisibilityMapFlags",
        flags,
        newHeapBlkno: hasNew ? newBlock : null,
        oldHeapBlkno: hasOld ? oldBlock : null,
      };
    }
    case ValueTag.ClogSetCommitted: {
      const timestamp = reader.i64();
      return { type: "ClogSetCommitted", timestamp, xids: reader.xids() };
    }
    case ValueTag.ClogSetAborted:
      return { type: "ClogSetAborted", xids: reader.xids() };
    case ValueTag.MultixactOffsetCreate: {
      const mid = reader.u32();
      return { type: "MultixactOffsetCreate", mid, moff: reader.u32() };
    }
    case ValueTag.MultixactMembersCreate: {
      const moff = reader.u32();
      const count = reader.u32();
      reader.need(count * 8);
      const members: { xid: number; status: number }[] = [];
      for (let i = 0; i < count; i++) members.push({ xid: reader.u32(), status: reader.u32() });
      return { type: "MultixactMembersCreate", moff, members };
    }
    case ValueTag.AuxFile: {
      const filePath = reader.bytes(reader.u32()).toString("utf8");
      const hasContent = reader.u8() === 1;
      return { type: "AuxFile", filePath, content: hasContent ? reader.rest() : null };
    }
    case ValueTag.TruncateVisibilityMap: {
      const truncByte = reader.u64();
      return { type: "TruncateVisibilityMap", truncByte, truncOffs: reader.u64() };
    }
    case ValueTag.Test: {
      const flags = reader.u8();
      const append = reader.bytes(reader.u32()).toString("utf8");
      const onlyIf = (flags & TEST_HAS_ONLY_IF) !== 0 ? reader.rest().toString("utf8") : null;
      return {
        type: "Test",
        append,
        clear: (flags & TEST_CLEAR) !== 0,
        willInit: (flags & TEST_WILL_INIT) !== 0,
        onlyIf,
      };
    }
    default:
      throw new CorruptionError(`unknown value tag ${tag}`, {});
  }
}

/** Neon's test record constructors (`NeonWalRecord::wal_append` and friends). */
export const testRecord = {
  append: (text: string): NeonWalRecord => ({
    type: "Test",
    append: text,
    clear: false,
    willInit: false,
    onlyIf: null,
  }),
  appendIf: (text: string, onlyIf: string): NeonWalRecord => ({
    type: "Test",
    append: text,
    clear: false,
    willInit: false,
    onlyIf,
  }),
  clear: (): NeonWalRecord => ({
    type: "Test",
    append: "",
    clear: true,
    willInit: false,
    onlyIf: null,
  }),
  init: (text: string): NeonWalRecord => ({
    type: "Test",
    append: text,
    clear: true,
    willInit: true,
    onlyIf: null,
  }),
};
