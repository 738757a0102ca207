/**
 * A small streaming reader of tar archives (POSIX ustar, with the GNU long-name and PAX `path` /
 * `size` extensions that GNU tar and Go's archive/tar write for long paths and big files).
 *
 * It reads headers with positional reads and never the data: each entry says where its data
 * lives (`dataOffset`, `size`), and the caller reads what it needs when it needs it. Memory stays
 * at one 512-byte header whatever the archive's size.
 *
 * Header layout (512 bytes): name 0..100, mode 100, uid 108, gid 116, size 124 (12 bytes, octal
 * or GNU base-256), mtime 136, checksum 148 (8 bytes, octal: the byte sum of the header with the
 * checksum field read as spaces), typeflag 156, linkname 157..257, magic 257 ("ustar"), version
 * 263, uname 265, gname 297, devmajor 329, devminor 337, prefix 345..500. The archive ends at a
 * zero block (two of them, strictly, but one is enough to stop).
 */
import type { FileHandle } from "node:fs/promises";
import { DatadirImportError } from "./errors.ts";

export const TAR_BLOCK_SIZE = 512;

export type TarEntryType = "file" | "directory" | "symlink" | "other";

export interface TarEntry {
  /** The path inside the archive, without a leading `./` or a trailing `/`. */
  readonly name: string;
  readonly type: TarEntryType;
  /** The raw typeflag character ('0', '5', '2', …). */
  readonly typeflag: string;
  readonly size: number;
  /** Byte offset of the entry's data in the archive. */
  readonly dataOffset: number;
  /** Byte offset of the entry's (last) header, for error messages. */
  readonly headerOffset: number;
}

function cString(header: Buffer, start: number, length: number): string {
  const end = header.indexOf(0, start);
  return header.toString("utf8", start, end === -1 || end > start + length ? start + length : end);
}

/** An octal field (NUL or space terminated), or GNU base-256 when the first byte has bit 7 set. */
function numericField(header: Buffer, start: number, length: number): number | null {
  const first = header[start]!;
  if (first & 0x80) {
    let value = first & 0x7f;
    for (let i = 1; i < length; i++) value = value * 256 + header[start + i]!;
    return Number.isSafeInteger(value) ? value : null;
  }
  const text = header
    .toString("latin1", start, start + length)
    .replace(/[\0 ]+$/, "")
    .replace(/^ +/, "");
  if (text === "") return 0;
  if (!/^[0-7]+$/.test(text)) return null;
  return Number.parseInt(text, 8);
}

function headerChecksum(header: Buffer): number {
  let sum = 0;
  for (let i = 0; i < TAR_BLOCK_SIZE; i++) sum += i >= 148 && i < 156 ? 0x20 : header[i]!;
  return sum;
}

function normaliseName(name: string): string {
  let result = name;
  while (result.startsWith("./")) result = result.slice(2);
  while (result.endsWith("/")) result = result.slice(0, -1);
  return result;
}

function entryType(typeflag: string): TarEntryType {
  if (typeflag === "0" || typeflag === "\0" || typeflag === "7") return "file";
  if (typeflag === "5") return "directory";
  if (typeflag === "2") return "symlink";
  return "other";
}

/** PAX extended header records: `<len> <key>=<value>\n`. */
function parsePax(data: Buffer): Map<string, string> {
  const records = new Map<string, string>();
  let at = 0;
  while (at < data.length) {
    const space = data.indexOf(0x20, at);
    if (space === -1) break;
    const length = Number.parseInt(data.toString("latin1", at, space), 10);
    if (!Number.isSafeInteger(length) || length <= 0 || at + length > data.length) break;
    const record = data.toString("utf8", space + 1, at + length - 1);
    const eq = record.indexOf("=");
    if (eq > 0) records.set(record.slice(0, eq), record.slice(eq + 1));
    at += length;
  }
  return records;
}

/** Metadata entries (long names, PAX headers) are small; anything bigger is not a real one. */
const METADATA_ENTRY_MAX_BYTES = 1 << 20;

async function readExactly(
  handle: FileHandle,
  length: number,
  position: number,
  archive: string,
  what: string,
): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await handle.read(buffer, done, length - done, position + done);
    if (bytesRead === 0) {
      throw new DatadirImportError(
        `tar archive ${archive} is truncated: ${what} at offset ${position} ends after ${done} of ${length} bytes`,
        what,
        { archive, offset: position },
      );
    }
    done += bytesRead;
  }
  return buffer;
}

/**
 * The entries of the archive open as `handle`, in archive order. `archive` names it in errors.
 * A header with a bad checksum or an unparsable size is a DatadirImportError naming the entry.
 */
export async function* readTarEntries(
  handle: FileHandle,
  archive: string,
): AsyncGenerator<TarEntry> {
  const archiveSize = (await handle.stat()).size;
  let offset = 0;
  let longName: string | null = null;
  let pax: Map<string, string> | null = null;
  for (;;) {
    if (offset + TAR_BLOCK_SIZE > archiveSize) {
      // Some writers stop without the end-of-archive blocks; a partial header is damage.
      if (offset === archiveSize && longName === null && pax === null) return;
      throw new DatadirImportError(
        `tar archive ${archive} is truncated: the header at offset ${offset} is incomplete`,
        archive,
        { offset },
      );
    }
    const header = await readExactly(handle, TAR_BLOCK_SIZE, offset, archive, archive);
    if (header.every((byte) => byte === 0)) return;
    const rawName = cString(header, 0, 100);
    const magic = header.toString("latin1", 257, 262);
    const prefix = magic === "ustar" ? cString(header, 345, 155) : "";
    const headerName = prefix === "" ? rawName : `${prefix}/${rawName}`;
    const stored = numericField(header, 148, 8);
    const computed = headerChecksum(header);
    if (stored !== computed) {
      throw new DatadirImportError(
        `tar archive ${archive}: bad header checksum for entry '${headerName}' at offset ${offset} (stored ${stored ?? "unparsable"}, computed ${computed})`,
        headerName,
        { archive, offset },
      );
    }
    const headerSize = numericField(header, 124, 12);
    if (headerSize === null) {
      throw new DatadirImportError(
        `tar archive ${archive}: unparsable size field for entry '${headerName}' at offset ${offset}`,
        headerName,
        { archive, offset },
      );
    }
    const typeflag = String.fromCharCode(header[156]!);
    const dataOffset = offset + TAR_BLOCK_SIZE;
    const paddedSize = Math.ceil(headerSize / TAR_BLOCK_SIZE) * TAR_BLOCK_SIZE;
    const paxSize = pax?.get("size");
    const size = paxSize !== undefined ? Number(paxSize) : headerSize;
    const dataEnd = dataOffset + (paxSize !== undefined ? size : headerSize);
    if (!Number.isSafeInteger(size) || dataEnd > archiveSize) {
      throw new DatadirImportError(
        `tar archive ${archive} is truncated: entry '${headerName}' needs ${size} bytes at offset ${dataOffset}, the archive has ${archiveSize}`,
        headerName,
        { archive, offset },
      );
    }
    if (typeflag === "L" || typeflag === "x" || typeflag === "g") {
      if (headerSize > METADATA_ENTRY_MAX_BYTES) {
        throw new DatadirImportError(
          `tar archive ${archive}: metadata entry '${headerName}' at offset ${offset} is ${headerSize} bytes`,
          headerName,
          { archive, offset },
        );
      }
      const data = await readExactly(handle, headerSize, dataOffset, archive, headerName);
      if (typeflag === "L") longName = cString(data, 0, data.length);
      else if (typeflag === "x") pax = parsePax(data);
      offset = dataOffset + paddedSize;
      continue;
    }
    const name = normaliseName(pax?.get("path") ?? longName ?? headerName);
    longName = null;
    pax = null;
    const type = entryType(typeflag);
    yield {
      name,
      type,
      typeflag,
      size: type === "file" ? size : 0,
      dataOffset,
      headerOffset: offset,
    };
    const stepSize =
      paxSize !== undefined ? Math.ceil(size / TAR_BLOCK_SIZE) * TAR_BLOCK_SIZE : paddedSize;
    offset = dataOffset + stepSize;
  }
}
