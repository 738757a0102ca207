/**
 * Key: Neon's 18-byte key `field1 u8 | field2 u32 | field3 u32 | field4 u32 | field5 u8 |
 * field6 u32` (big endian), which orders by fields, i.e. by bytes.
 *
 * In memory a key is a 36-digit **lowercase** hex string: it orders the same way as the bytes
 * (fixed width), is a cheap Map key, and converts to and from bytes with one native call
 * (`Buffer.write(…, "hex")` / `toString("hex")`). Neon's text form is upper case: `formatKey`
 * produces it, `parseKey` accepts either case.
 */
import { InvalidArgumentError } from "../errors.ts";
import {
  DEFAULTTABLESPACE_OID,
  formatRelTag,
  GLOBALTABLESPACE_OID,
  type RelTag,
  SLRU_KIND_NAMES,
  type SlruKind,
} from "./rel_tag.ts";

export type Key = string & { readonly __brand: "Key" };

export const KEY_SIZE = 18;
export const KEY_HEX_LENGTH = 36;
export const KEY_MIN = "0".repeat(KEY_HEX_LENGTH) as Key;
export const KEY_MAX = "f".repeat(KEY_HEX_LENGTH) as Key;

const scratch = Buffer.alloc(KEY_SIZE);

/** Builds a key from its six fields. */
export function keyFromFields(
  field1: number,
  field2: number,
  field3: number,
  field4: number,
  field5: number,
  field6: number,
): Key {
  scratch[0] = field1;
  scratch.writeUInt32BE(field2 >>> 0, 1);
  scratch.writeUInt32BE(field3 >>> 0, 5);
  scratch.writeUInt32BE(field4 >>> 0, 9);
  scratch[13] = field5;
  scratch.writeUInt32BE(field6 >>> 0, 14);
  return scratch.toString("hex", 0, KEY_SIZE) as Key;
}

export function keyFromBytes(buffer: Buffer, offset: number): Key {
  return buffer.toString("hex", offset, offset + KEY_SIZE) as Key;
}

export function writeKey(buffer: Buffer, key: Key, offset: number): void {
  buffer.write(key, offset, KEY_SIZE, "hex");
}

export function keyToBytes(key: Key): Buffer {
  return Buffer.from(key, "hex");
}

const KEY_TEXT = /^[0-9A-Fa-f]{36}$/;

/** Parses Neon's 36-hex-digit text form (any case). */
export function parseKey(text: string): Key {
  if (typeof text !== "string" || !KEY_TEXT.test(text)) {
    throw new InvalidArgumentError(
      `invalid key '${String(text).slice(0, 80)}': expected exactly 36 hex digits`,
    );
  }
  return text.toLowerCase() as Key;
}

export function isKey(text: string): text is Key {
  return text.length === KEY_HEX_LENGTH && /^[0-9a-f]{36}$/.test(text);
}

/** Neon's text form: 36 upper-case hex digits. */
export function formatKey(key: Key): string {
  return key.toUpperCase();
}

export function keyField1(key: Key): number {
  return Number.parseInt(key.slice(0, 2), 16);
}
export function keyField2(key: Key): number {
  return Number.parseInt(key.slice(2, 10), 16);
}
export function keyField3(key: Key): number {
  return Number.parseInt(key.slice(10, 18), 16);
}
export function keyField4(key: Key): number {
  return Number.parseInt(key.slice(18, 26), 16);
}
export function keyField5(key: Key): number {
  return Number.parseInt(key.slice(26, 28), 16);
}
export function keyField6(key: Key): number {
  return Number.parseInt(key.slice(28, 36), 16);
}

export function compareKeys(a: Key, b: Key): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The key plus `delta` (as an 18-byte big-endian integer), clamped to KEY_MAX. */
export function keyAdd(key: Key, delta: number): Key {
  const bytes = keyToBytes(key);
  let carry = delta;
  for (let i = KEY_SIZE - 1; i >= 0 && carry > 0; i--) {
    const sum = bytes[i]! + (carry % 256);
    bytes[i] = sum & 0xff;
    carry = Math.floor(carry / 256) + (sum >> 8);
  }
  if (carry > 0) return KEY_MAX;
  return bytes.toString("hex") as Key;
}

/** The next key (key + 1); KEY_MAX stays KEY_MAX. */
export function keyNext(key: Key): Key {
  return keyAdd(key, 1);
}

/** The previous key; KEY_MIN stays KEY_MIN. */
export function keyPrevious(key: Key): Key {
  const bytes = keyToBytes(key);
  for (let i = KEY_SIZE - 1; i >= 0; i--) {
    if (bytes[i]! > 0) {
      bytes[i] = bytes[i]! - 1;
      return bytes.toString("hex") as Key;
    }
    bytes[i] = 0xff;
  }
  return KEY_MIN;
}

/**
 * Neon's compact i128 form is only valid when field2 ≤ 0xFFFF (the global and default tablespaces);
 * the write path requires it. Keys outside it are refused before they reach a layer.
 */
export function isCompactKey(key: Key): boolean {
  return key.slice(2, 6) === "0000";
}

// --- Key mapping (Neon's pgdatadir_mapping): which PostgreSQL object each key holds. ---

const REL_SIZE_BLOCK = 0xffff_ffff;

export function relBlockKey(rel: RelTag, block: number): Key {
  return keyFromFields(0, rel.spcNode, rel.dbNode, rel.relNode, rel.forkNum, block);
}

export function relSizeKey(rel: RelTag): Key {
  return keyFromFields(0, rel.spcNode, rel.dbNode, rel.relNode, rel.forkNum, REL_SIZE_BLOCK);
}

/** The range of one relation fork: its blocks and its size key. */
export function relKeyRange(rel: RelTag): { start: Key; end: Key } {
  return {
    start: keyFromFields(0, rel.spcNode, rel.dbNode, rel.relNode, rel.forkNum, 0),
    end: keyFromFields(0, rel.spcNode, rel.dbNode, rel.relNode, rel.forkNum + 1, 0),
  };
}

export const DBDIR_KEY = keyFromFields(0, 0, 0, 0, 0, 0);

export function relmapFileKey(spcNode: number, dbNode: number): Key {
  return keyFromFields(0, spcNode, dbNode, 0, 0, 0);
}

export function relDirKey(spcNode: number, dbNode: number): Key {
  return keyFromFields(0, spcNode, dbNode, 0, 0, 1);
}

/** All keys of one database (its rel dir, relmap file and every relation). */
export function dbKeyRange(spcNode: number, dbNode: number): { start: Key; end: Key } {
  return {
    start: keyFromFields(0, spcNode, dbNode, 0, 0, 0),
    end: keyFromFields(0, spcNode, dbNode + 1, 0, 0, 0),
  };
}

export function slruDirKey(kind: SlruKind): Key {
  return keyFromFields(1, kind, 0, 0, 0, 0);
}

export function slruBlockKey(kind: SlruKind, segno: number, block: number): Key {
  return keyFromFields(1, kind, 1, segno, 0, block);
}

export function slruSegmentSizeKey(kind: SlruKind, segno: number): Key {
  return keyFromFields(1, kind, 1, segno, 0, REL_SIZE_BLOCK);
}

export function slruSegmentKeyRange(kind: SlruKind, segno: number): { start: Key; end: Key } {
  return {
    start: keyFromFields(1, kind, 1, segno, 0, 0),
    end: keyFromFields(1, kind, 1, segno, 1, 0),
  };
}

export const TWOPHASEDIR_KEY = keyFromFields(2, 0, 0, 0, 0, 0);

export function twoPhaseFileKey(xid: number): Key {
  const high = Math.floor(xid / 0x1_0000_0000);
  return keyFromFields(2, 0, 0, Math.floor(high / 256), high & 0xff, xid >>> 0);
}

export const CONTROLFILE_KEY = keyFromFields(3, 0, 0, 0, 0, 0);
export const CHECKPOINT_KEY = keyFromFields(3, 0, 0, 0, 0, 1);
/** The legacy aux-files key: not inherited by branches. */
export const AUX_FILES_KEY = keyFromFields(3, 0, 0, 0, 0, 2);

export const METADATA_KEY_BEGIN_PREFIX = 0x60;
export const METADATA_KEY_END_PREFIX = 0x7f;
export const AUX_KEY_PREFIX = 0x62;
export const REPL_ORIGIN_KEY_PREFIX = 0x63;
export const REL_DIR_V2_KEY_PREFIX = 0x65;

export function replicationOriginKey(originId: number): Key {
  return keyFromFields(REPL_ORIGIN_KEY_PREFIX, 0, 0, 0, 0, originId);
}

export function relDirV2Key(rel: RelTag): Key {
  return keyFromFields(REL_DIR_V2_KEY_PREFIX, rel.spcNode, rel.dbNode, rel.relNode, rel.forkNum, 1);
}

/** The sparse (metadata) keyspace 0x60..0x7F. */
export const SPARSE_RANGE = {
  start: keyFromFields(METADATA_KEY_BEGIN_PREFIX, 0, 0, 0, 0, 0),
  end: keyFromFields(METADATA_KEY_END_PREFIX, 0, 0, 0, 0, 0),
};

/** Keys a branch does not inherit from its ancestor. */
export const NON_INHERITED_RANGE = { start: AUX_FILES_KEY, end: keyNext(AUX_FILES_KEY) };
export const NON_INHERITED_SPARSE_RANGE = {
  start: keyFromFields(AUX_KEY_PREFIX, 0, 0, 0, 0, 0),
  end: keyFromFields(0x64, 0, 0, 0, 0, 0),
};

export function isMetadataKey(key: Key): boolean {
  const field1 = keyField1(key);
  return field1 >= METADATA_KEY_BEGIN_PREFIX && field1 < METADATA_KEY_END_PREFIX;
}

export function isRelBlockKey(key: Key): boolean {
  return key.startsWith("00") && key.slice(18, 26) !== "00000000" && !key.endsWith("ffffffff");
}

export function isRelSizeKey(key: Key): boolean {
  return key.startsWith("00") && key.slice(18, 26) !== "00000000" && key.endsWith("ffffffff");
}

export function isSlruBlockKey(key: Key): boolean {
  return key.startsWith("01") && key.slice(10, 18) === "00000001" && !key.endsWith("ffffffff");
}

export function isInherited(key: Key): boolean {
  if (key >= NON_INHERITED_RANGE.start && key < NON_INHERITED_RANGE.end) return false;
  return !(key >= NON_INHERITED_SPARSE_RANGE.start && key < NON_INHERITED_SPARSE_RANGE.end);
}

export function relTagOfKey(key: Key): RelTag {
  return {
    spcNode: keyField2(key),
    dbNode: keyField3(key),
    relNode: keyField4(key),
    forkNum: keyField5(key),
  };
}

/** A key described in PostgreSQL's terms, for tooltips, `pagectl key` and error messages. */
export type KeyDescription =
  | { kind: "rel_block"; rel: RelTag; block: number; text: string }
  | { kind: "rel_size"; rel: RelTag; text: string }
  | { kind: "slru_block"; slru: SlruKind; segno: number; block: number; text: string }
  | { kind: "other"; text: string };

export function describeKey(key: Key): KeyDescription {
  const field1 = keyField1(key);
  const field6 = keyField6(key);
  if (isRelBlockKey(key)) {
    const rel = relTagOfKey(key);
    return {
      kind: "rel_block",
      rel,
      block: field6,
      text: `rel ${formatRelTag(rel)} blk ${field6}`,
    };
  }
  if (isRelSizeKey(key)) {
    const rel = relTagOfKey(key);
    return { kind: "rel_size", rel, text: `rel ${formatRelTag(rel)} size` };
  }
  if (field1 === 0) {
    if (key === DBDIR_KEY) return { kind: "other", text: "db dir" };
    const spc = keyField2(key);
    const db = keyField3(key);
    return { kind: "other", text: field6 === 0 ? `relmap ${spc}/${db}` : `rel dir ${spc}/${db}` };
  }
  if (field1 === 1) {
    const slru = keyField2(key) as SlruKind;
    const name = SLRU_KIND_NAMES[slru] ?? `slru ${slru}`;
    if (keyField3(key) === 0) return { kind: "other", text: `${name} dir` };
    const segno = keyField4(key);
    if (field6 === REL_SIZE_BLOCK) return { kind: "other", text: `${name} seg ${segno} size` };
    return {
      kind: "slru_block",
      slru,
      segno,
      block: field6,
      text: `${name} seg ${segno} blk ${field6}`,
    };
  }
  if (field1 === 2)
    return { kind: "other", text: key === TWOPHASEDIR_KEY ? "twophase dir" : "twophase file" };
  if (key === CONTROLFILE_KEY) return { kind: "other", text: "control file" };
  if (key === CHECKPOINT_KEY) return { kind: "other", text: "checkpoint" };
  if (key === AUX_FILES_KEY) return { kind: "other", text: "aux files (v1)" };
  if (field1 === AUX_KEY_PREFIX) return { kind: "other", text: "aux file" };
  if (field1 === REPL_ORIGIN_KEY_PREFIX)
    return { kind: "other", text: `replication origin ${field6}` };
  if (field1 === REL_DIR_V2_KEY_PREFIX)
    return { kind: "other", text: `rel dir v2 ${formatRelTag(relTagOfKey(key))}` };
  if (isMetadataKey(key)) return { kind: "other", text: "metadata key" };
  return { kind: "other", text: `key ${formatKey(key)}` };
}

export { DEFAULTTABLESPACE_OID, GLOBALTABLESPACE_OID };
