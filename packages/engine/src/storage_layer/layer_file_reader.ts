/**
 * Reads a layer file written by LayerFileWriter: the header once at open, index nodes through the
 * shared page cache (checksummed when they enter it), value blobs with one `pread` each
 * (checksummed on every read). Damage anywhere a read touches is a CorruptionError naming the
 * file; a read never returns bytes whose checksum did not match.
 */
import { statSync } from "node:fs";
import { crc32 } from "node:zlib";
import { CorruptionError } from "../errors.ts";
import type { FileDescriptorCache, FileId } from "../io/file_descriptor_cache.ts";
import type { PageCache } from "../io/page_cache.ts";
import { KEY_SIZE, type Key, keyFromBytes } from "../key/key.ts";
import { INDEX_NODE_SIZE_BYTES, VERSIONS_PER_KEY_MAX } from "../limits.ts";
import { formatLsn, type Lsn, readLsn } from "../lsn.ts";
import {
  BLOB_CHECKSUM_SIZE,
  decodeHeader,
  ENTRY_KEY_SIZE,
  ENTRY_WILL_INIT,
  EntryTarget,
  HEADER_SIZE,
  INTERNAL_CAPACITY,
  INTERNAL_ENTRY_SIZE,
  type LayerFileSummary,
  LEAF_CAPACITY,
  LEAF_ENTRY_SIZE,
  NODE_HEADER_SIZE,
  NODE_LEVEL_LEAF,
  nodeChecksumOk,
  nodeCount,
  nodeLevel,
  nodePreviousLeaf,
  readU48,
} from "./layer_file_format.ts";

/** What a reader needs from the process: the descriptor cache and the page cache. */
export interface LayerIo {
  readonly files: FileDescriptorCache;
  readonly pages: PageCache;
}

/** Called for each version found, newest first; return false to stop. */
export type VersionVisitor = (
  lsn: Lsn,
  blobOffset: number,
  length: number,
  willInit: boolean,
) => boolean;

export interface LayerEntry {
  readonly key: Key;
  readonly lsn: Lsn;
  readonly blobOffset: number;
  readonly length: number;
  readonly willInit: boolean;
}

const target = new EntryTarget();

/**
 * Blob buffers are carved from 256 KiB slabs, as Node's own pool carves small buffers: a page
 * read (8,197 bytes with its checksum) is too big for that pool, and a separate allocation per
 * read measured about 1 µs more than a carve, on the GetPage hot path. Slabs are never reused
 * (the GC frees one when its last blob is dropped), so a returned blob is the caller's to keep;
 * the price is that a blob kept long holds its whole slab. Values are short-lived (copied into a
 * response, a new layer or a decoded structure), so that is rare; big blobs get their own buffer.
 */
const BLOB_SLAB_BYTES = 256 * 1024;
const BLOB_CARVE_BYTES_MAX = 16 * 1024;
let blobSlab = Buffer.allocUnsafeSlow(BLOB_SLAB_BYTES);
let blobSlabOffset = 0;

function allocateBlob(size: number): Buffer {
  if (size > BLOB_CARVE_BYTES_MAX) return Buffer.allocUnsafe(size);
  if (blobSlabOffset + size > BLOB_SLAB_BYTES) {
    blobSlab = Buffer.allocUnsafeSlow(BLOB_SLAB_BYTES);
    blobSlabOffset = 0;
  }
  const blob = blobSlab.subarray(blobSlabOffset, blobSlabOffset + size);
  blobSlabOffset += (size + 7) & ~7; // 8-byte aligned carves
  return blob;
}

export class LayerFileReader {
  readonly path: string;
  readonly summary: LayerFileSummary;
  private readonly io: LayerIo;
  private readonly fileId: FileId;
  private closed = false;

  private constructor(path: string, io: LayerIo, fileId: FileId, summary: LayerFileSummary) {
    this.path = path;
    this.io = io;
    this.fileId = fileId;
    this.summary = summary;
  }

  /** Opens and validates the header (magic, version, checksum, size). */
  static open(path: string, io: LayerIo): LayerFileReader {
    const fileId = io.files.register(path);
    try {
      const header = Buffer.allocUnsafe(HEADER_SIZE);
      const read = io.files.read(fileId, header, 0, HEADER_SIZE, 0);
      if (read < HEADER_SIZE) {
        throw new CorruptionError(
          `layer file ${path} is damaged: ${read} bytes, shorter than its header`,
          { file: path },
        );
      }
      const summary = decodeHeader(header, path);
      const size = LayerFileReader.actualSize(path);
      if (size !== summary.fileSize) {
        throw new CorruptionError(
          `layer file ${path} is damaged: ${size} bytes, header says ${summary.fileSize}`,
          { file: path },
        );
      }
      if (summary.indexHeight > 0 && summary.indexRootOffset + INDEX_NODE_SIZE_BYTES > size) {
        throw new CorruptionError(`layer file ${path} is damaged: index root beyond the end`, {
          file: path,
        });
      }
      return new LayerFileReader(path, io, fileId, summary);
    } catch (error) {
      io.files.unregister(fileId);
      throw error;
    }
  }

  private static actualSize(path: string): number {
    return statSync(path).size;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.io.pages.forgetFile(this.fileId);
    this.io.files.unregister(this.fileId);
  }

  private corrupt(what: string): never {
    throw new CorruptionError(`layer file ${this.path} is damaged: ${what}`, { file: this.path });
  }

  /** The index node at `offset`, verified when it enters the page cache. */
  private node(offset: number, expectedLevel: number): Buffer {
    if (offset < HEADER_SIZE || offset + INDEX_NODE_SIZE_BYTES > this.summary.fileSize) {
      this.corrupt(`index node offset ${offset} out of range`);
    }
    const node = this.io.pages.get(this.fileId, offset, (page) => {
      this.io.files.readExact(this.fileId, page, 0, INDEX_NODE_SIZE_BYTES, offset);
      if (!nodeChecksumOk(page)) this.corrupt(`index node at ${offset}: checksum mismatch`);
      const count = nodeCount(page);
      const capacity = nodeLevel(page) === NODE_LEVEL_LEAF ? LEAF_CAPACITY : INTERNAL_CAPACITY;
      if (count === 0 || count > capacity)
        this.corrupt(`index node at ${offset}: ${count} entries`);
    });
    if (nodeLevel(node) !== expectedLevel) {
      this.corrupt(`index node at ${offset}: level ${nodeLevel(node)}, expected ${expectedLevel}`);
    }
    return node;
  }

  /** Index of the last entry ≤ target in a node, or -1. */
  private static lastAtOrBelow(node: Buffer, entrySize: number): number {
    let low = 0;
    let high = nodeCount(node) - 1;
    let found = -1;
    while (low <= high) {
      const mid = (low + high) >>> 1;
      if (target.compareEntry(node, NODE_HEADER_SIZE + mid * entrySize) <= 0) {
        found = mid;
        low = mid + 1;
      } else {
        high = mid - 1;
      }
    }
    return found;
  }

  /** Descends to the leaf holding the last entry ≤ `target`; returns its offset and slot or null. */
  private seek(): { leafOffset: number; slot: number } | null {
    const { indexHeight, indexRootOffset } = this.summary;
    if (indexHeight === 0) return null;
    let offset = indexRootOffset;
    for (let level = indexHeight - 1; level > 0; level--) {
      const node = this.node(offset, level);
      const slot = LayerFileReader.lastAtOrBelow(node, INTERNAL_ENTRY_SIZE);
      if (slot < 0) return null;
      offset = readU48(node, NODE_HEADER_SIZE + slot * INTERNAL_ENTRY_SIZE + ENTRY_KEY_SIZE);
    }
    const leaf = this.node(offset, NODE_LEVEL_LEAF);
    const slot = LayerFileReader.lastAtOrBelow(leaf, LEAF_ENTRY_SIZE);
    return slot < 0 ? null : { leafOffset: offset, slot };
  }

  /**
   * Visits the versions of `key` with LSN in [lsnFloor, lsnEnd), newest first, stopping after the
   * first will_init one or when the visitor returns false. The visitor must not read index nodes.
   */
  visitVersions(key: Key, lsnFloor: Lsn, lsnEnd: Lsn, visitor: VersionVisitor): void {
    if (lsnEnd <= lsnFloor || lsnEnd <= this.summary.lsnRange.start) return;
    target.set(key, (lsnEnd - 1) as Lsn);
    const found = this.seek();
    if (found === null) return;
    let leafOffset = found.leafOffset;
    let slot = found.slot;
    let leaf = this.node(leafOffset, NODE_LEVEL_LEAF);
    for (let visited = 0; visited < VERSIONS_PER_KEY_MAX; visited++) {
      const at = NODE_HEADER_SIZE + slot * LEAF_ENTRY_SIZE;
      if (!target.sameKey(leaf, at)) return;
      const lsn = readLsn(leaf, at + KEY_SIZE);
      if (lsn < lsnFloor) return;
      const blobOffset = readU48(leaf, at + ENTRY_KEY_SIZE);
      const length = leaf.readUInt32BE(at + ENTRY_KEY_SIZE + 6);
      const willInit = (leaf[at + ENTRY_KEY_SIZE + 10]! & ENTRY_WILL_INIT) !== 0;
      if (!visitor(lsn, blobOffset, length, willInit) || willInit) return;
      if (slot > 0) {
        slot--;
        continue;
      }
      const previous = nodePreviousLeaf(leaf);
      if (previous === 0) return;
      if (previous >= leafOffset)
        this.corrupt(`leaf at ${leafOffset} links forward to ${previous}`);
      leafOffset = previous;
      leaf = this.node(leafOffset, NODE_LEVEL_LEAF);
      slot = nodeCount(leaf) - 1;
    }
    this.corrupt(`more than ${VERSIONS_PER_KEY_MAX} versions of one key`);
  }

  /** Reads and verifies one blob; returns its payload (an encoded Value). */
  readBlob(blobOffset: number, length: number): Buffer {
    if (
      blobOffset < HEADER_SIZE ||
      blobOffset + length + BLOB_CHECKSUM_SIZE > this.summary.fileSize
    ) {
      this.corrupt(`value at ${blobOffset} (+${length}) out of range`);
    }
    const blob = allocateBlob(length + BLOB_CHECKSUM_SIZE);
    this.io.files.readExact(this.fileId, blob, 0, blob.length, blobOffset);
    const payload = blob.subarray(0, length);
    if (crc32(payload) !== blob.readUInt32BE(length))
      this.corrupt(`value at ${blobOffset}: checksum mismatch`);
    return payload;
  }

  /** Reads several blobs with one pread when they lie close together (a vectored read). */
  readBlobRun(start: number, end: number): Buffer {
    if (start < HEADER_SIZE || end > this.summary.fileSize || end <= start)
      this.corrupt(`read ${start}..${end} out of range`);
    const run = Buffer.allocUnsafe(end - start);
    this.io.files.readExact(this.fileId, run, 0, run.length, start);
    return run;
  }

  /** Verifies a blob inside a run read by `readBlobRun`. */
  blobFromRun(run: Buffer, runStart: number, blobOffset: number, length: number): Buffer {
    const at = blobOffset - runStart;
    const payload = run.subarray(at, at + length);
    if (crc32(payload) !== run.readUInt32BE(at + length))
      this.corrupt(`value at ${blobOffset}: checksum mismatch`);
    return payload;
  }

  /** Every entry in (key, LSN) order, streaming through the index (for compaction, pagectl). */
  *entries(): Generator<LayerEntry> {
    if (this.summary.indexHeight === 0) return;
    yield* this.entriesUnder(this.summary.indexRootOffset, this.summary.indexHeight - 1);
  }

  private *entriesUnder(offset: number, level: number): Generator<LayerEntry> {
    if (level === NODE_LEVEL_LEAF) {
      // Copy the leaf: the consumer may read other nodes before resuming us.
      const leaf = Buffer.from(this.node(offset, NODE_LEVEL_LEAF));
      const count = nodeCount(leaf);
      for (let slot = 0; slot < count; slot++) {
        const at = NODE_HEADER_SIZE + slot * LEAF_ENTRY_SIZE;
        yield {
          key: keyFromBytes(leaf, at),
          lsn: readLsn(leaf, at + KEY_SIZE),
          blobOffset: readU48(leaf, at + ENTRY_KEY_SIZE),
          length: leaf.readUInt32BE(at + ENTRY_KEY_SIZE + 6),
          willInit: (leaf[at + ENTRY_KEY_SIZE + 10]! & ENTRY_WILL_INIT) !== 0,
        };
      }
      return;
    }
    const node = Buffer.from(this.node(offset, level));
    const count = nodeCount(node);
    for (let slot = 0; slot < count; slot++) {
      const child = readU48(node, NODE_HEADER_SIZE + slot * INTERNAL_ENTRY_SIZE + ENTRY_KEY_SIZE);
      yield* this.entriesUnder(child, level - 1);
    }
  }

  /** Reads every node and value: a full scrub. Returns the number of entries checked. */
  verify(): number {
    let count = 0;
    let previous: LayerEntry | null = null;
    for (const entry of this.entries()) {
      if (
        previous &&
        (entry.key < previous.key || (entry.key === previous.key && entry.lsn <= previous.lsn))
      ) {
        this.corrupt(`entries out of order at key ${entry.key} LSN ${formatLsn(entry.lsn)}`);
      }
      this.readBlob(entry.blobOffset, entry.length);
      previous = entry;
      count++;
    }
    if (count !== this.summary.entryCount)
      this.corrupt(`${count} entries, header says ${this.summary.entryCount}`);
    return count;
  }
}
