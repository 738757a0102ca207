/**
 * Streams a delta or image layer file to disk with bounded memory, whatever its size.
 *
 * Entries arrive in (key, LSN) order. Each value is appended as a blob (payload + CRC-32) and its
 * index entry goes into the current leaf; a full leaf is appended to the same stream, and its first
 * entry becomes a separator in the level above, whose full nodes are appended in turn. So memory
 * holds one 1 MiB write buffer plus one 8 KiB node per index level. `finish` writes the partial
 * nodes, the header (at offset 0), fsyncs, and renames the temp file into place.
 *
 * # Crash consistency
 * Until the rename the file is `*.___temp`, which loading removes; after `finish` resolves the file
 * and its directory entry are durable.
 */
import { randomBytes } from "node:crypto";
import { closeSync, fdatasync, openSync, renameSync, unlinkSync, writeSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { crc32 } from "node:zlib";
import { assert } from "../assert.ts";
import { InvalidArgumentError, StorageIoError } from "../errors.ts";
import type { TenantId, TimelineId } from "../ids.ts";
import { fsyncDirectory, tempPathFor } from "../io/durable_fs.ts";
import { formatKey, KEY_SIZE, type Key, keyFromBytes, writeKey } from "../key/key.ts";
import type { KeyRange } from "../key/key_space.ts";
import {
  INDEX_NODE_SIZE_BYTES,
  LAYER_FILE_SIZE_BYTES_MAX,
  VALUE_SIZE_BYTES_MAX,
  WRITE_BUFFER_SIZE_BYTES,
} from "../limits.ts";
import { formatLsn, type Lsn, type LsnRange, writeLsn } from "../lsn.ts";
import {
  ENTRY_KEY_SIZE,
  ENTRY_WILL_INIT,
  encodeHeader,
  HEADER_SIZE,
  INTERNAL_CAPACITY,
  INTERNAL_ENTRY_SIZE,
  type LayerFileSummary,
  LEAF_CAPACITY,
  LEAF_ENTRY_SIZE,
  NODE_HEADER_SIZE,
  NODE_LEVEL_LEAF,
  sealNode,
  writeU48,
} from "./layer_file_format.ts";
import type { LayerKind } from "./layer_name.ts";

const fdatasyncAsync = promisify(fdatasync);

export interface LayerFileWriterOptions {
  readonly directory: string;
  readonly tenantId: TenantId;
  readonly timelineId: TimelineId;
  readonly kind: LayerKind;
  /** Delta: the LSN range of its values; image: [lsn, lsn+1). */
  readonly lsnRange: LsnRange;
}

/** One level of internal nodes being filled. */
class InternalLevel {
  readonly node = Buffer.alloc(INDEX_NODE_SIZE_BYTES);
  count = 0;
  nodesWritten = 0;
  lastNodeOffset = 0;
  constructor(readonly level: number) {}
}

export class LayerFileWriter {
  readonly options: LayerFileWriterOptions;
  readonly tempPath: string;
  private fd: number | null;
  private readonly out = Buffer.allocUnsafeSlow(WRITE_BUFFER_SIZE_BYTES);
  private outLength = 0;
  /** File offset of out[0]. */
  private outStart = 0;
  private readonly leaf = Buffer.alloc(INDEX_NODE_SIZE_BYTES);
  private leafCount = 0;
  private leavesWritten = 0;
  private lastLeafOffset = 0;
  private readonly levels: InternalLevel[] = [];
  private readonly lastEntry = Buffer.alloc(ENTRY_KEY_SIZE);
  private readonly entryScratch = Buffer.alloc(ENTRY_KEY_SIZE);
  private firstKeyHex: Key | null = null;
  entryCount = 0;
  valuesBytes = 0;

  constructor(options: LayerFileWriterOptions) {
    assert(options.lsnRange.start < options.lsnRange.end, "layer writer: empty LSN range");
    this.options = options;
    this.tempPath = tempPathFor(
      path.join(options.directory, `layer-${randomBytes(8).toString("hex")}`),
    );
    try {
      this.fd = openSync(this.tempPath, "wx");
    } catch (error) {
      throw new StorageIoError(
        `cannot create ${this.tempPath}: ${(error as Error).message}`,
        { file: this.tempPath },
        error,
      );
    }
    this.append(Buffer.alloc(HEADER_SIZE));
  }

  /** Bytes written so far (the file size if finished now, give or take the index tail). */
  get position(): number {
    return this.outStart + this.outLength;
  }

  private flushOut(): void {
    assert(this.fd !== null, "layer writer is closed");
    let done = 0;
    try {
      while (done < this.outLength) {
        done += writeSync(this.fd, this.out, done, this.outLength - done, this.outStart + done);
      }
    } catch (error) {
      throw new StorageIoError(
        `write to ${this.tempPath} failed: ${(error as Error).message}`,
        { file: this.tempPath },
        error,
      );
    }
    this.outStart += this.outLength;
    this.outLength = 0;
  }

  private append(bytes: Buffer): void {
    if (bytes.length > this.out.length - this.outLength) {
      this.flushOut();
      if (bytes.length > this.out.length) {
        // Large values go straight to the file.
        assert(this.fd !== null, "layer writer is closed");
        let done = 0;
        while (done < bytes.length)
          done += writeSync(this.fd, bytes, done, bytes.length - done, this.outStart + done);
        this.outStart += bytes.length;
        return;
      }
    }
    this.outLength += bytes.copy(this.out, this.outLength);
  }

  private appendU32(value: number): void {
    if (this.out.length - this.outLength < 4) this.flushOut();
    this.out.writeUInt32BE(value, this.outLength);
    this.outLength += 4;
  }

  /**
   * Appends one value. `value` is an encoded Value (see value.ts); entries must arrive in strictly
   * increasing (key, LSN) order, within the writer's LSN range.
   */
  put(key: Key, lsn: Lsn, value: Buffer, willInit: boolean): void {
    const entry = this.entryScratch;
    writeKey(entry, key, 0);
    writeLsn(entry, lsn, KEY_SIZE);
    this.putEntry(entry, lsn, value, willInit);
  }

  /** `put` with the (key, LSN) already as 26 bytes (the k-way merge of compaction has them so). */
  putEntry(entry: Buffer, lsn: Lsn, value: Buffer, willInit: boolean): void {
    const { lsnRange, kind } = this.options;
    if (
      lsn < lsnRange.start ||
      lsn >= lsnRange.end ||
      (kind === "image" && lsn !== lsnRange.start)
    ) {
      throw new InvalidArgumentError(
        `${kind} layer writer: LSN ${formatLsn(lsn)} outside ${formatLsn(lsnRange.start)}..${formatLsn(lsnRange.end)}`,
      );
    }
    if (value.length > VALUE_SIZE_BYTES_MAX) {
      throw new InvalidArgumentError(
        `value of ${value.length} bytes exceeds ${VALUE_SIZE_BYTES_MAX}`,
      );
    }
    if (
      this.entryCount > 0 &&
      entry.compare(this.lastEntry, 0, ENTRY_KEY_SIZE, 0, ENTRY_KEY_SIZE) <= 0
    ) {
      throw new InvalidArgumentError(
        `layer writer: (key ${formatKey(keyFromBytes(entry, 0))}, LSN ${formatLsn(lsn)}) is not after the previous entry`,
      );
    }
    if (this.entryCount === 0) this.firstKeyHex = keyFromBytes(entry, 0);
    entry.copy(this.lastEntry, 0, 0, ENTRY_KEY_SIZE);

    const blobOffset = this.position;
    this.append(value);
    this.appendU32(crc32(value));
    this.valuesBytes += value.length;

    const at = NODE_HEADER_SIZE + this.leafCount * LEAF_ENTRY_SIZE;
    entry.copy(this.leaf, at, 0, ENTRY_KEY_SIZE);
    writeU48(this.leaf, blobOffset, at + ENTRY_KEY_SIZE);
    this.leaf.writeUInt32BE(value.length, at + ENTRY_KEY_SIZE + 6);
    this.leaf[at + ENTRY_KEY_SIZE + 10] = willInit ? ENTRY_WILL_INIT : 0;
    this.leafCount++;
    this.entryCount++;
    if (this.leafCount === LEAF_CAPACITY) this.writeLeaf();
    if (this.position > LAYER_FILE_SIZE_BYTES_MAX) {
      throw new InvalidArgumentError(`layer file would exceed ${LAYER_FILE_SIZE_BYTES_MAX} bytes`);
    }
  }

  private writeLeaf(): void {
    const offset = this.position;
    this.leaf.fill(0, NODE_HEADER_SIZE + this.leafCount * LEAF_ENTRY_SIZE);
    sealNode(
      this.leaf,
      NODE_LEVEL_LEAF,
      this.leafCount,
      this.leavesWritten === 0 ? 0 : this.lastLeafOffset,
    );
    this.append(this.leaf);
    this.addSeparator(0, this.leaf, NODE_HEADER_SIZE, offset);
    this.leavesWritten++;
    this.lastLeafOffset = offset;
    this.leafCount = 0;
  }

  /** Adds (first entry of a node at `childLevel`, its offset) to the level above it. */
  private addSeparator(
    childLevel: number,
    source: Buffer,
    sourceOffset: number,
    childOffset: number,
  ): void {
    let level = this.levels[childLevel];
    if (!level) {
      level = new InternalLevel(childLevel + 1);
      this.levels.push(level);
    }
    const at = NODE_HEADER_SIZE + level.count * INTERNAL_ENTRY_SIZE;
    source.copy(level.node, at, sourceOffset, sourceOffset + ENTRY_KEY_SIZE);
    writeU48(level.node, childOffset, at + ENTRY_KEY_SIZE);
    level.count++;
    if (level.count === INTERNAL_CAPACITY) this.writeInternal(level);
  }

  private writeInternal(level: InternalLevel): void {
    const offset = this.position;
    level.node.fill(0, NODE_HEADER_SIZE + level.count * INTERNAL_ENTRY_SIZE);
    sealNode(level.node, level.level, level.count, 0);
    this.append(level.node);
    this.addSeparator(level.level, level.node, NODE_HEADER_SIZE, offset);
    level.nodesWritten++;
    level.lastNodeOffset = offset;
    level.count = 0;
  }

  /** Writes the partial nodes bottom-up; returns the root offset and the index height. */
  private writeIndexTail(): { root: number; height: number } {
    if (this.leafCount > 0) this.writeLeaf();
    if (this.leavesWritten === 0) return { root: 0, height: 0 };
    let nodes = this.leavesWritten;
    let root = this.lastLeafOffset;
    let height = 1;
    for (let i = 0; nodes > 1; i++) {
      const level = this.levels[i];
      assert(level !== undefined, "layer writer: missing index level");
      if (level.count > 0) this.writeInternal(level);
      nodes = level.nodesWritten;
      root = level.lastNodeOffset;
      height++;
    }
    return { root, height };
  }

  /**
   * Completes the file and moves it to `finalPath`. `keyRange` is the layer's key range (it must
   * hold every key written).
   */
  async finish(finalPath: string, keyRange: KeyRange): Promise<LayerFileSummary> {
    assert(this.fd !== null, "layer writer is closed");
    if (this.entryCount > 0) {
      const lastKey = keyFromBytes(this.lastEntry, 0);
      if (this.firstKeyHex! < keyRange.start || lastKey >= keyRange.end) {
        throw new InvalidArgumentError(
          `layer keys ${formatKey(this.firstKeyHex!)}..${formatKey(lastKey)} outside the key range ${formatKey(keyRange.start)}-${formatKey(keyRange.end)}`,
        );
      }
    }
    const { root, height } = this.writeIndexTail();
    this.flushOut();
    const summary: LayerFileSummary = {
      kind: this.options.kind,
      tenantId: this.options.tenantId,
      timelineId: this.options.timelineId,
      keyRange,
      lsnRange: this.options.lsnRange,
      indexRootOffset: root,
      indexHeight: height,
      entryCount: this.entryCount,
      valuesBytes: this.valuesBytes,
      fileSize: this.position,
    };
    const fd = this.fd;
    try {
      writeSync(fd, encodeHeader(summary), 0, HEADER_SIZE, 0);
      await fdatasyncAsync(fd);
      closeSync(fd);
      this.fd = null;
      renameSync(this.tempPath, finalPath);
    } catch (error) {
      this.abort();
      throw new StorageIoError(
        `cannot finish layer file ${finalPath}: ${(error as Error).message}`,
        { file: finalPath },
        error,
      );
    }
    await fsyncDirectory(path.dirname(finalPath));
    return summary;
  }

  /** Discards the temp file. Safe to call more than once. */
  abort(): void {
    if (this.fd !== null) {
      try {
        closeSync(this.fd);
      } catch {}
      this.fd = null;
    }
    try {
      unlinkSync(this.tempPath);
    } catch {}
  }
}
