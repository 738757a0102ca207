/**
 * A historic layer: an immutable delta or image file of one timeline, known by its Neon name and
 * generation. The file is opened lazily through the descriptor cache (a timeline may have 100,000
 * layers; few are read at once), and its header is checked against the name when it is.
 *
 * Access statistics (last access, residence start) feed eviction; the visibility hint is computed
 * by the layer map for the timeline's read points.
 *
 * Residence (with remote storage):
 *
 *     Resident ──evict (only if uploaded)──▶ Evicted ──read: download──▶ Downloading ──▶ Resident
 *
 * An evicted layer stays in the layer map; a read that needs it downloads it first (concurrent
 * reads share one download, see Timeline.ensureResident).
 */
import { unlinkSync } from "node:fs";
import path from "node:path";
import { CorruptionError } from "../errors.ts";
import type { Generation } from "../ids.ts";
import { formatKeyRange } from "../key/key_space.ts";
import { formatLsn } from "../lsn.ts";
import { LayerFileReader, type LayerIo } from "./layer_file_reader.ts";
import { formatLayerName, isL0Name, type LayerName, localLayerFileName } from "./layer_name.ts";

export type LayerVisibility = "Visible" | "Covered";

export interface LayerAccessStats {
  /** Wall-clock ms of the last read, or null if never read since load. */
  lastAccessMs: number | null;
  /** Wall-clock ms since when the file has been local. */
  residentSinceMs: number;
  accessCount: number;
}

export class PersistentLayer {
  readonly name: LayerName;
  readonly nameText: string;
  readonly generation: Generation;
  readonly fileName: string;
  readonly path: string;
  readonly fileSize: number;
  readonly isL0: boolean;
  visibility: LayerVisibility = "Visible";
  readonly access: LayerAccessStats;
  /** The local file exists. */
  resident = true;
  /**
   * An uploaded remote index names this layer (and so its object exists): only then may the local
   * file be evicted, since after a crash the index is what the next start trusts.
   */
  uploaded = false;
  /** The download in progress, shared by concurrent readers. */
  downloading: Promise<void> | null = null;
  /** Readers holding the file across awaits (compaction): eviction leaves a pinned layer alone. */
  pins = 0;
  private readonly io: LayerIo;
  private openReader: LayerFileReader | null = null;

  constructor(options: {
    io: LayerIo;
    directory: string;
    name: LayerName;
    generation: Generation;
    fileSize: number;
  }) {
    this.io = options.io;
    this.name = options.name;
    this.nameText = formatLayerName(options.name);
    this.generation = options.generation;
    this.fileName = localLayerFileName(options.name, options.generation);
    this.path = path.join(options.directory, this.fileName);
    this.fileSize = options.fileSize;
    this.isL0 = isL0Name(options.name);
    this.access = { lastAccessMs: null, residentSinceMs: Date.now(), accessCount: 0 };
  }

  get kind(): "delta" | "image" {
    return this.name.kind;
  }

  /** The reader, opened on first use; its header must match the layer's name. */
  reader(): LayerFileReader {
    if (this.openReader) return this.openReader;
    const reader = LayerFileReader.open(this.path, this.io);
    const { summary } = reader;
    const { name } = this;
    if (
      summary.kind !== name.kind ||
      summary.keyRange.start !== name.keyRange.start ||
      summary.keyRange.end !== name.keyRange.end ||
      summary.lsnRange.start !== name.lsnRange.start ||
      summary.lsnRange.end !== name.lsnRange.end
    ) {
      reader.close();
      throw new CorruptionError(
        `layer file ${this.path} holds ${summary.kind} ${formatKeyRange(summary.keyRange)} ${formatLsn(summary.lsnRange.start)}..${formatLsn(summary.lsnRange.end)}, not what its name says`,
        { file: this.path },
      );
    }
    this.openReader = reader;
    return reader;
  }

  recordAccess(nowMs = Date.now()): void {
    this.access.lastAccessMs = nowMs;
    this.access.accessCount++;
  }

  /** Closes the reader (its descriptor and cached pages). */
  close(): void {
    this.openReader?.close();
    this.openReader = null;
  }

  /** Removes the local file of an uploaded layer; it stays in the layer map, evicted. */
  evict(): void {
    this.close();
    try {
      unlinkSync(this.path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    }
    this.resident = false;
  }

  /** Marks the file local again (after a download). */
  markResident(nowMs = Date.now()): void {
    this.resident = true;
    this.access.residentSinceMs = nowMs;
  }

  /** Closes and removes the local file (the layer left the layer map). */
  deleteLocalFile(): void {
    this.close();
    try {
      unlinkSync(this.path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    }
  }

  toString(): string {
    return this.fileName;
  }
}
