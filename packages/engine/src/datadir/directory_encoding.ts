/**
 * Values of PostgreSQL's directory keys, in Neon's bincode (reference §0-1): big-endian, u64
 * collection lengths. Collections are written sorted so equal content encodes equally.
 *
 * | key | value |
 * |---|---|
 * | DbDir | HashMap<(spc u32, db u32), has_relmap bool> |
 * | RelDir | HashSet<(relnode u32, fork u8)> |
 * | SlruDir | HashSet<segno u32> |
 * | RelSize, SlruSegSize | nblocks as u32 **little-endian** |
 */
import { CorruptionError } from "../errors.ts";

export interface DbDirEntry {
  readonly spcNode: number;
  readonly dbNode: number;
  readonly hasRelmap: boolean;
}

export interface RelDirEntry {
  readonly relNode: number;
  readonly forkNum: number;
}

function writeLength(buffer: Buffer, count: number): void {
  buffer.writeUInt32BE(0, 0);
  buffer.writeUInt32BE(count, 4);
}

function readLength(buffer: Buffer, entrySize: number, what: string): number {
  if (buffer.length < 8)
    throw new CorruptionError(`${what}: ${buffer.length} bytes, too short`, {});
  const count = buffer.readUInt32BE(4);
  if (buffer.readUInt32BE(0) !== 0 || buffer.length !== 8 + count * entrySize) {
    throw new CorruptionError(
      `${what}: length ${buffer.length} does not match ${count} entries`,
      {},
    );
  }
  return count;
}

export function encodeDbDir(entries: readonly DbDirEntry[]): Buffer {
  const sorted = [...entries].sort((a, b) => a.spcNode - b.spcNode || a.dbNode - b.dbNode);
  const buffer = Buffer.alloc(8 + sorted.length * 9);
  writeLength(buffer, sorted.length);
  sorted.forEach((entry, i) => {
    buffer.writeUInt32BE(entry.spcNode, 8 + i * 9);
    buffer.writeUInt32BE(entry.dbNode, 12 + i * 9);
    buffer[16 + i * 9] = entry.hasRelmap ? 1 : 0;
  });
  return buffer;
}

export function decodeDbDir(buffer: Buffer): DbDirEntry[] {
  const count = readLength(buffer, 9, "db dir");
  const entries: DbDirEntry[] = [];
  for (let i = 0; i < count; i++) {
    entries.push({
      spcNode: buffer.readUInt32BE(8 + i * 9),
      dbNode: buffer.readUInt32BE(12 + i * 9),
      hasRelmap: buffer[16 + i * 9] === 1,
    });
  }
  return entries;
}

export function encodeRelDir(entries: readonly RelDirEntry[]): Buffer {
  const sorted = [...entries].sort((a, b) => a.relNode - b.relNode || a.forkNum - b.forkNum);
  const buffer = Buffer.alloc(8 + sorted.length * 5);
  writeLength(buffer, sorted.length);
  sorted.forEach((entry, i) => {
    buffer.writeUInt32BE(entry.relNode, 8 + i * 5);
    buffer[12 + i * 5] = entry.forkNum;
  });
  return buffer;
}

export function decodeRelDir(buffer: Buffer): RelDirEntry[] {
  const count = readLength(buffer, 5, "rel dir");
  const entries: RelDirEntry[] = [];
  for (let i = 0; i < count; i++) {
    entries.push({ relNode: buffer.readUInt32BE(8 + i * 5), forkNum: buffer[12 + i * 5]! });
  }
  return entries;
}

export function encodeSlruDir(segments: readonly number[]): Buffer {
  const sorted = [...segments].sort((a, b) => a - b);
  const buffer = Buffer.alloc(8 + sorted.length * 4);
  writeLength(buffer, sorted.length);
  for (const [i, segno] of sorted.entries()) buffer.writeUInt32BE(segno, 8 + i * 4);
  return buffer;
}

export function decodeSlruDir(buffer: Buffer): number[] {
  const count = readLength(buffer, 4, "slru dir");
  const segments: number[] = [];
  for (let i = 0; i < count; i++) segments.push(buffer.readUInt32BE(8 + i * 4));
  return segments;
}

export function encodeBlockCount(nblocks: number): Buffer {
  const buffer = Buffer.alloc(4);
  buffer.writeUInt32LE(nblocks >>> 0, 0);
  return buffer;
}

export function decodeBlockCount(buffer: Buffer): number {
  if (buffer.length !== 4)
    throw new CorruptionError(`block count value of ${buffer.length} bytes, expected 4`, {});
  return buffer.readUInt32LE(0);
}
