/**
 * An append-only scratch file behind an in-memory layer (Neon's `ephemeral-N`): values go to a
 * 1 MiB write buffer and out to the file when it fills, so process memory stays bounded while the
 * layer grows to `checkpoint_distance`. Reads of bytes still in the buffer come from it; older ones
 * are `pread`s (from the OS page cache, in practice).
 *
 * Not durable, on purpose: the WAL is the source of truth until the layer is flushed, and loading
 * a timeline deletes leftover ephemeral files.
 *
 * The write buffer passes from a deleted file to the next one (spare_memory.ts): fresh memory
 * costs page faults here, about 3.4 ms per MiB.
 */
import { closeSync, openSync, readSync, unlinkSync, writeSync } from "node:fs";
import { assert } from "../assert.ts";
import { StorageIoError } from "../errors.ts";
import { WRITE_BUFFER_SIZE_BYTES } from "../limits.ts";
import { SpareBuffers } from "./spare_memory.ts";

export const EPHEMERAL_FILE_PREFIX = "ephemeral-";

/** Write buffers of deleted files; a few, for timelines that roll layers together. */
const spareWriteBuffers = new SpareBuffers(4);

export class EphemeralFile {
  readonly path: string;
  private fd: number | null;
  private owned: Buffer | null;
  /** The write buffer: bytes [0, bufferLength) are the file's tail from offset `flushed`. */
  readonly buffer: Buffer;
  private bufferLength = 0;
  /** Bytes already written to the file (the buffer starts here). */
  private flushed = 0;

  constructor(path: string) {
    this.path = path;
    try {
      this.fd = openSync(path, "w+");
    } catch (error) {
      throw new StorageIoError(
        `cannot create ${path}: ${(error as Error).message}`,
        { file: path },
        error,
      );
    }
    this.owned = spareWriteBuffers.take(WRITE_BUFFER_SIZE_BYTES);
    this.buffer = this.owned.subarray(0, WRITE_BUFFER_SIZE_BYTES);
  }

  get size(): number {
    return this.flushed + this.bufferLength;
  }

  /** File offset of `buffer[0]`. */
  get bufferFileOffset(): number {
    return this.flushed;
  }

  private writeOut(bytes: Buffer, start: number, end: number): void {
    assert(this.fd !== null, "ephemeral file is closed");
    let done = start;
    try {
      while (done < end)
        done += writeSync(this.fd, bytes, done, end - done, this.flushed + done - start);
    } catch (error) {
      throw new StorageIoError(
        `write to ${this.path} failed: ${(error as Error).message}`,
        { file: this.path },
        error,
      );
    }
    this.flushed += end - start;
  }

  private flushBuffer(): void {
    this.writeOut(this.buffer, 0, this.bufferLength);
    this.bufferLength = 0;
  }

  /**
   * Reserves `length` bytes at the end; returns where they go in `buffer` (their file offset is
   * `bufferFileOffset` plus that). The caller fills them before the next call. Returns -1 when
   * `length` exceeds the write buffer: use `append` then. (A number, not an object: this runs
   * once per put.)
   */
  reserve(length: number): number {
    if (length > this.buffer.length) return -1;
    assert(this.fd !== null, "ephemeral file is closed");
    if (this.bufferLength + length > this.buffer.length) this.flushBuffer();
    const at = this.bufferLength;
    this.bufferLength += length;
    return at;
  }

  /** Appends bytes; returns their file offset. */
  append(bytes: Buffer): number {
    const at = this.reserve(bytes.length);
    if (at >= 0) {
      this.buffer.set(bytes, at);
      return this.flushed + at;
    }
    this.flushBuffer();
    const fileOffset = this.flushed;
    this.writeOut(bytes, 0, bytes.length);
    return fileOffset;
  }

  /** Reads `length` bytes at `offset` (a fresh buffer, or a view of `into`). */
  read(offset: number, length: number, into?: Buffer): Buffer {
    // Also after delete: the write buffer may belong to another file by then.
    assert(this.fd !== null, "ephemeral file is closed");
    assert(offset + length <= this.size, "ephemeral read past the end");
    const out =
      into && into.length >= length ? into.subarray(0, length) : Buffer.allocUnsafe(length);
    let done = 0;
    if (offset < this.flushed) {
      const fromFile = Math.min(length, this.flushed - offset);
      while (done < fromFile) {
        const n = readSync(this.fd, out, done, fromFile - done, offset + done);
        if (n === 0)
          throw new StorageIoError(`unexpected end of ${this.path}`, { file: this.path });
        done += n;
      }
    }
    if (done < length) {
      const at = offset + done - this.flushed;
      this.buffer.copy(out, done, at, at + (length - done));
    }
    return out;
  }

  /** Closes and deletes the file. */
  delete(): void {
    if (this.fd !== null) {
      try {
        closeSync(this.fd);
      } catch {}
      this.fd = null;
    }
    if (this.owned) {
      spareWriteBuffers.give(this.owned);
      this.owned = null;
    }
    try {
      unlinkSync(this.path);
    } catch {}
  }
}
