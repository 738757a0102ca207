/**
 * An append-only scratch file behind an in-memory layer (Neon's `ephemeral-N`): values go to a
 * 1 MiB write buffer and out to the file when it fills, so process memory stays bounded while the
 * layer grows to `checkpoint_distance`. Reads of bytes still in the buffer come from it; older ones
 * are `pread`s (from the OS page cache, in practice).
 *
 * Not durable, on purpose: the WAL is the source of truth until the layer is flushed, and loading
 * a timeline deletes leftover ephemeral files.
 */
import { closeSync, openSync, readSync, unlinkSync, writeSync } from "node:fs";
import { assert } from "../assert.ts";
import { StorageIoError } from "../errors.ts";
import { WRITE_BUFFER_SIZE_BYTES } from "../limits.ts";

export const EPHEMERAL_FILE_PREFIX = "ephemeral-";

export class EphemeralFile {
  readonly path: string;
  private fd: number | null;
  private readonly buffer = Buffer.allocUnsafeSlow(WRITE_BUFFER_SIZE_BYTES);
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
  }

  get size(): number {
    return this.flushed + this.bufferLength;
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
   * Reserves `length` bytes at the end and returns where to write them: a buffer and an offset in
   * it, plus the file offset the bytes will have. The caller fills them before the next call.
   * Returns null when `length` exceeds the write buffer: use `append` then.
   */
  reserve(length: number): { target: Buffer; at: number; fileOffset: number } | null {
    if (length > this.buffer.length) return null;
    if (this.bufferLength + length > this.buffer.length) this.flushBuffer();
    const at = this.bufferLength;
    this.bufferLength += length;
    return { target: this.buffer, at, fileOffset: this.flushed + at };
  }

  /** Appends bytes; returns their file offset. */
  append(bytes: Buffer): number {
    const slot = this.reserve(bytes.length);
    if (slot) {
      bytes.copy(slot.target, slot.at);
      return slot.fileOffset;
    }
    this.flushBuffer();
    const fileOffset = this.flushed;
    this.writeOut(bytes, 0, bytes.length);
    return fileOffset;
  }

  /** Reads `length` bytes at `offset` (a fresh buffer, or a view of `into`). */
  read(offset: number, length: number, into?: Buffer): Buffer {
    assert(offset + length <= this.size, "ephemeral read past the end");
    const out =
      into && into.length >= length ? into.subarray(0, length) : Buffer.allocUnsafe(length);
    let done = 0;
    if (offset < this.flushed) {
      assert(this.fd !== null, "ephemeral file is closed");
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

  /** The whole content in one buffer (for writing the layer out in key order). */
  readAll(): Buffer {
    return this.read(0, this.size);
  }

  /** Closes and deletes the file. */
  delete(): void {
    if (this.fd !== null) {
      try {
        closeSync(this.fd);
      } catch {}
      this.fd = null;
    }
    try {
      unlinkSync(this.path);
    } catch {}
  }
}
