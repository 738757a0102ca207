/**
 * A bounded cache of open file descriptors (Neon's VirtualFile): layers are registered by path and
 * opened on demand; when more than `maxOpen` are open, the least recently used one is closed. So
 * 100,000 layer files never exhaust the process's descriptors.
 *
 * Reads are synchronous `pread`s: a page-cache hit costs about 2 µs that way against about 23 µs
 * through libuv's thread pool (machine-limits.md), and the event loop is the one CPU we have.
 * A descriptor is never held across an `await`, so closing one for LRU is always safe.
 */
import { closeSync, openSync, readSync } from "node:fs";
import { assert } from "../assert.ts";
import { StorageIoError } from "../errors.ts";
import { FILE_DESCRIPTORS_MIN } from "../limits.ts";

export type FileId = number;

export interface FileDescriptorCacheStats {
  opens: number;
  closes: number;
  hits: number;
  open: number;
}

export class FileDescriptorCache {
  readonly maxOpen: number;
  private readonly paths = new Map<FileId, string>();
  /**
   * Open descriptors with the tick of their last use. A hit only bumps the tick (the read path
   * takes a descriptor per pread: reordering a Map there cost more than the lookup); the least
   * recently used one is found by a scan, which happens only when opening past `maxOpen`.
   */
  private readonly open = new Map<FileId, { fd: number; used: number }>();
  private clock = 0;
  private nextFileId = 1;
  readonly stats: FileDescriptorCacheStats = { opens: 0, closes: 0, hits: 0, open: 0 };

  constructor(maxOpen: number) {
    assert(
      Number.isInteger(maxOpen) && maxOpen >= FILE_DESCRIPTORS_MIN,
      `max_file_descriptors must be ≥ ${FILE_DESCRIPTORS_MIN}`,
    );
    this.maxOpen = maxOpen;
  }

  register(path: string): FileId {
    const id = this.nextFileId++;
    this.paths.set(id, path);
    return id;
  }

  /** Forgets a file (closing its descriptor); call before deleting or renaming it. */
  unregister(id: FileId): void {
    const entry = this.open.get(id);
    if (entry !== undefined) {
      this.open.delete(id);
      this.close(entry.fd);
    }
    this.paths.delete(id);
  }

  path(id: FileId): string {
    const path = this.paths.get(id);
    assert(path !== undefined, `file ${id} is not registered`);
    return path;
  }

  private close(fd: number): void {
    try {
      closeSync(fd);
    } catch {
      // A failed close of a read-only descriptor loses nothing.
    }
    this.stats.closes++;
    this.stats.open = this.open.size;
  }

  private descriptor(id: FileId): number {
    const entry = this.open.get(id);
    if (entry !== undefined) {
      entry.used = ++this.clock;
      this.stats.hits++;
      return entry.fd;
    }
    const path = this.path(id);
    while (this.open.size >= this.maxOpen) this.closeLeastRecentlyUsed();
    let opened: number;
    try {
      opened = openSync(path, "r");
    } catch (error) {
      throw new StorageIoError(
        `cannot open ${path}: ${(error as Error).message}`,
        { file: path },
        error,
      );
    }
    this.open.set(id, { fd: opened, used: ++this.clock });
    this.stats.opens++;
    this.stats.open = this.open.size;
    return opened;
  }

  private closeLeastRecentlyUsed(): void {
    let oldestId: FileId | null = null;
    let oldestUsed = Number.POSITIVE_INFINITY;
    for (const [id, entry] of this.open) {
      if (entry.used < oldestUsed) {
        oldestUsed = entry.used;
        oldestId = id;
      }
    }
    assert(oldestId !== null, "no descriptor to close");
    const oldest = this.open.get(oldestId)!;
    this.open.delete(oldestId);
    this.close(oldest.fd);
  }

  /** Reads exactly `length` bytes at `position` into `buffer[offset..]`, or fails. */
  readExact(id: FileId, buffer: Buffer, offset: number, length: number, position: number): void {
    const fd = this.descriptor(id);
    let done = 0;
    while (done < length) {
      let n: number;
      try {
        n = readSync(fd, buffer, offset + done, length - done, position + done);
      } catch (error) {
        const path = this.path(id);
        throw new StorageIoError(
          `read of ${path} at ${position + done} failed: ${(error as Error).message}`,
          { file: path },
          error,
        );
      }
      if (n === 0) {
        const path = this.path(id);
        throw new StorageIoError(
          `unexpected end of ${path}: wanted ${length} bytes at ${position}`,
          { file: path },
        );
      }
      done += n;
    }
  }

  /** Reads up to `length` bytes; returns how many were read (fewer at end of file). */
  read(id: FileId, buffer: Buffer, offset: number, length: number, position: number): number {
    const fd = this.descriptor(id);
    let done = 0;
    while (done < length) {
      const n = readSync(fd, buffer, offset + done, length - done, position + done);
      if (n === 0) break;
      done += n;
    }
    return done;
  }

  closeAll(): void {
    for (const entry of this.open.values()) this.close(entry.fd);
    this.open.clear();
    this.stats.open = 0;
  }
}
