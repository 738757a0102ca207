/**
 * The in-memory layer: the newest WAL of a timeline, not yet on disk as a layer file.
 *
 * Values are appended to an ephemeral file; the RAM index maps key → its newest entry, and entries
 * of one key are chained newest → oldest through `entryPrevious`. Entries live in growable typed
 * arrays, so a put allocates nothing per record beyond the Map slot of a new key.
 *
 *     open  ──freeze(end)──▶  frozen  ──writeToDisk──▶  L0 delta file  (then deleted)
 *
 * An open layer takes puts; freezing fixes its LSN end; a frozen layer is immutable and readable
 * until its L0 is in the layer map.
 */
import path from "node:path";
import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import { assert } from "../assert.ts";
import { InvalidArgumentError } from "../errors.ts";
import type { TenantId, TimelineId } from "../ids.ts";
import { formatKey, type Key } from "../key/key.ts";
import { FULL_KEY_RANGE } from "../key/key_space.ts";
import { VALUE_SIZE_BYTES_MAX } from "../limits.ts";
import { formatLsn, LSN_MAX, type Lsn } from "../lsn.ts";
import {
  encodedValueLength,
  encodeValue,
  type Value,
  valueWillInit,
  writeValue,
} from "../value/value.ts";
import { EphemeralFile } from "./ephemeral_file.ts";
import type { LayerFileSummary } from "./layer_file_format.ts";
import { LayerFileWriter } from "./layer_file_writer.ts";
import { formatLayerName, type LayerName } from "./layer_name.ts";

const INITIAL_ENTRIES = 1024;
/** Entries written between yields to the event loop while flushing. */
const FLUSH_YIELD_ENTRIES = 8192;

export interface InMemoryLayerOptions {
  readonly directory: string;
  readonly tenantId: TenantId;
  readonly timelineId: TimelineId;
  readonly lsnStart: Lsn;
  /** Distinguishes ephemeral files of one timeline. */
  readonly sequence: number;
}

/** Called per version found, newest first; return false to stop. */
export type InMemoryVersionVisitor = (lsn: Lsn, value: Buffer, willInit: boolean) => boolean;

export class InMemoryLayer {
  readonly lsnStart: Lsn;
  private frozenEnd: Lsn | null = null;
  readonly options: InMemoryLayerOptions;
  private readonly file: EphemeralFile;
  private readonly index = new Map<Key, number>();
  private entryLsn = new Float64Array(INITIAL_ENTRIES);
  private entryOffset = new Float64Array(INITIAL_ENTRIES);
  private entryLength = new Uint32Array(INITIAL_ENTRIES);
  private entryWillInit = new Uint8Array(INITIAL_ENTRIES);
  private entryPrevious = new Int32Array(INITIAL_ENTRIES);
  private entryCount = 0;
  /** The highest LSN put so far (the layer's end is above it). */
  maxLsn: Lsn;
  /** Wall-clock time of the first put, for checkpoint_timeout. */
  readonly createdAtMs = Date.now();

  constructor(options: InMemoryLayerOptions) {
    this.options = options;
    this.lsnStart = options.lsnStart;
    this.maxLsn = options.lsnStart;
    this.file = new EphemeralFile(path.join(options.directory, `ephemeral-${options.sequence}`));
  }

  /** LSN_MAX while open; the freeze LSN afterwards. */
  get lsnEnd(): Lsn {
    return this.frozenEnd ?? LSN_MAX;
  }

  get isFrozen(): boolean {
    return this.frozenEnd !== null;
  }

  /** Bytes of values held (the ephemeral file size). */
  get size(): number {
    return this.file.size;
  }

  get keyCount(): number {
    return this.index.size;
  }

  get valueCount(): number {
    return this.entryCount;
  }

  private grow(): void {
    const capacity = this.entryLsn.length * 2;
    const grow = <T extends Float64Array | Uint32Array | Uint8Array | Int32Array>(
      old: T,
      make: (n: number) => T,
    ): T => {
      const next = make(capacity);
      next.set(old);
      return next;
    };
    this.entryLsn = grow(this.entryLsn, (n) => new Float64Array(n));
    this.entryOffset = grow(this.entryOffset, (n) => new Float64Array(n));
    this.entryLength = grow(this.entryLength, (n) => new Uint32Array(n));
    this.entryWillInit = grow(this.entryWillInit, (n) => new Uint8Array(n));
    this.entryPrevious = grow(this.entryPrevious, (n) => new Int32Array(n));
  }

  private checkPut(key: Key, lsn: Lsn): number {
    assert(this.frozenEnd === null, "put into a frozen in-memory layer");
    if (lsn < this.lsnStart) {
      throw new InvalidArgumentError(
        `put at LSN ${formatLsn(lsn)} below the layer start ${formatLsn(this.lsnStart)}`,
        {
          key: formatKey(key),
        },
      );
    }
    const newest = this.index.get(key);
    if (newest !== undefined && this.entryLsn[newest]! > lsn) {
      throw new InvalidArgumentError(
        `put at LSN ${formatLsn(lsn)} below the key's newest version ${formatLsn(this.entryLsn[newest] as Lsn)}`,
        { key: formatKey(key) },
      );
    }
    return newest ?? -1;
  }

  private record(
    key: Key,
    lsn: Lsn,
    newest: number,
    fileOffset: number,
    length: number,
    willInit: boolean,
  ): void {
    let entry: number;
    if (newest >= 0 && this.entryLsn[newest] === lsn) {
      entry = newest; // A second value at the same (key, LSN) replaces the first.
    } else {
      if (this.entryCount === this.entryLsn.length) this.grow();
      entry = this.entryCount++;
      this.entryLsn[entry] = lsn;
      this.entryPrevious[entry] = newest;
      this.index.set(key, entry);
    }
    this.entryOffset[entry] = fileOffset;
    this.entryLength[entry] = length;
    this.entryWillInit[entry] = willInit ? 1 : 0;
    if (lsn > this.maxLsn) this.maxLsn = lsn;
  }

  /** Adds a value, encoding it straight into the ephemeral file's buffer. */
  put(key: Key, lsn: Lsn, value: Value): void {
    const newest = this.checkPut(key, lsn);
    const length = encodedValueLength(value);
    if (length > VALUE_SIZE_BYTES_MAX) {
      throw new InvalidArgumentError(`value of ${length} bytes exceeds ${VALUE_SIZE_BYTES_MAX}`, {
        key: formatKey(key),
      });
    }
    const slot = this.file.reserve(length);
    let fileOffset: number;
    if (slot) {
      writeValue(value, slot.target, slot.at);
      fileOffset = slot.fileOffset;
    } else {
      fileOffset = this.file.append(encodeValue(value));
    }
    this.record(key, lsn, newest, fileOffset, length, valueWillInit(value));
  }

  /** Adds an already encoded value. */
  putEncoded(key: Key, lsn: Lsn, encoded: Buffer, willInit: boolean): void {
    const newest = this.checkPut(key, lsn);
    const fileOffset = this.file.append(encoded);
    this.record(key, lsn, newest, fileOffset, encoded.length, willInit);
  }

  /** Visits the versions of `key` with LSN in [lsnFloor, lsnEnd), newest first. */
  visitVersions(key: Key, lsnFloor: Lsn, lsnEnd: Lsn, visitor: InMemoryVersionVisitor): void {
    let entry = this.index.get(key) ?? -1;
    while (entry >= 0 && this.entryLsn[entry]! >= lsnEnd) entry = this.entryPrevious[entry]!;
    while (entry >= 0) {
      const lsn = this.entryLsn[entry]! as Lsn;
      if (lsn < lsnFloor) return;
      const willInit = this.entryWillInit[entry] === 1;
      const value = this.file.read(this.entryOffset[entry]!, this.entryLength[entry]!);
      if (!visitor(lsn, value, willInit) || willInit) return;
      entry = this.entryPrevious[entry]!;
    }
  }

  /** Fixes the end LSN (exclusive); the layer takes no more puts. */
  freeze(lsnEnd: Lsn): void {
    assert(this.frozenEnd === null, "in-memory layer frozen twice");
    assert(lsnEnd > this.maxLsn, "freeze at or below a put LSN");
    this.frozenEnd = lsnEnd;
  }

  /** The L0 name this layer will have when written. */
  l0Name(): LayerName {
    assert(this.frozenEnd !== null, "only a frozen layer has an L0 name");
    return {
      kind: "delta",
      keyRange: FULL_KEY_RANGE,
      lsnRange: { start: this.lsnStart, end: this.frozenEnd },
    };
  }

  /**
   * Writes the frozen layer as an L0 delta file named after it in `directory`, in (key, LSN)
   * order; returns the file path and summary. Yields to the event loop as it goes.
   */
  async writeToDisk(
    finalPathFor: (name: LayerName) => string,
  ): Promise<{ path: string; summary: LayerFileSummary }> {
    const name = this.l0Name();
    const keys = [...this.index.keys()].sort();
    // Neon does the same: load the whole ephemeral file once, then emit in key order.
    const contents = this.file.readAll();
    const writer = new LayerFileWriter({
      directory: this.options.directory,
      tenantId: this.options.tenantId,
      timelineId: this.options.timelineId,
      kind: "delta",
      lsnRange: name.lsnRange,
    });
    try {
      const chain: number[] = [];
      let sinceYield = 0;
      for (const key of keys) {
        chain.length = 0;
        for (let entry = this.index.get(key)!; entry >= 0; entry = this.entryPrevious[entry]!)
          chain.push(entry);
        for (let i = chain.length - 1; i >= 0; i--) {
          const entry = chain[i]!;
          const offset = this.entryOffset[entry]!;
          writer.put(
            key,
            this.entryLsn[entry]! as Lsn,
            contents.subarray(offset, offset + this.entryLength[entry]!),
            this.entryWillInit[entry] === 1,
          );
        }
        sinceYield += chain.length;
        if (sinceYield >= FLUSH_YIELD_ENTRIES) {
          sinceYield = 0;
          await yieldToEventLoop();
        }
      }
      const finalPath = finalPathFor(name);
      const summary = await writer.finish(finalPath, name.keyRange);
      return { path: finalPath, summary };
    } catch (error) {
      writer.abort();
      throw error;
    }
  }

  /** Deletes the ephemeral file (after the L0 is in the layer map, or at shutdown). */
  delete(): void {
    this.file.delete();
  }

  toString(): string {
    return `inmem-${formatLsn(this.lsnStart)}-${this.frozenEnd === null ? "open" : formatLsn(this.frozenEnd)}`;
  }

  get displayName(): string {
    return this.frozenEnd === null
      ? `open@${formatLsn(this.lsnStart)}`
      : formatLayerName(this.l0Name());
  }
}
