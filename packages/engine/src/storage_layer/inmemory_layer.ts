/**
 * The in-memory layer: the newest WAL of a timeline, not yet on disk as a layer file.
 *
 * Values are appended to an ephemeral file. The RAM index is an open-addressing hash table over
 * the keys' bytes (as five u32 words, see decodeKeyWords) giving each key an id; a key's entries
 * are chained newest → oldest. Keys and entries are 32-byte records in growable typed arrays (a
 * key's words, newest entry and entry count; an entry's LSN, file offset, length, link and key),
 * one cache line each. A put allocates nothing, and the arrays pass to the next layer when this
 * one is deleted.
 *
 * Why not `Map<Key, number>`: measured on 1.34 M distinct keys it cost 600-800 ns per insert
 * (rehash copies, and each bigger table's fresh pages faulted in at about 3.4 ms per MiB on this
 * VM), and the flush then had to hex-decode every key and sort the strings. Here a put decodes
 * the key once (about 55 ns) and the flush sorts key ids by radix on those words.
 *
 * The table's slots come in groups of eight (one cache line): the group is a hash of the key
 * without the low three bits of its block number (field6), which pick the slot in the group. A
 * relation's consecutive blocks so share a line, where a plain hash missed the cache on every
 * put (130 ns measured, a third of the put). A slot holds a tag (the hash) beside the key id,
 * so probing past other keys compares tags instead of loading their records.
 *
 * # Flush
 * The L0 wants (key, LSN) order. When the keys arrived in order, one version each (a bulk load),
 * that is put order and the ephemeral file streams through a 1 MiB window. Otherwise the file
 * still streams in put order, each value *scattered* to its place in a buffer laid out in key
 * order, which the writer then reads front to back. Gathering instead (reading each value at
 * its offset, in key order) measured 140 ns per 100-byte value against 58 for the scatter: a
 * random read stalls on its cache and TLB miss, a random write does not.
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
import { copyBytes, decodeKeyWords, type LayerFileSummary } from "./layer_file_format.ts";
import { LayerFileWriter } from "./layer_file_writer.ts";
import { formatLayerName, type LayerName } from "./layer_name.ts";
import { SpareBuffers, SparePool } from "./spare_memory.ts";

const INITIAL_ENTRIES = 1024;
const INITIAL_KEYS = 1024;
/** Key words per key: bytes 0-3, 4-7, 8-11, 12-15 as u32, 16-17 as u16. */
const KEY_WORDS = 5;
/** A table slot: key id + 1 (0 = empty), tag (a hash of the key, checked before the key). */
const SLOT_INTS = 2;
const GROUP_SHIFT = 3;
const GROUP_SLOTS = 1 << GROUP_SHIFT;
/**
 * Key record, in 32-bit words: the five key words, newest entry, the flush's cursor (in 4-byte
 * units, see writeSorted), entry count.
 */
const KEY_STRIDE = 8;
const KEY_NEWEST = 5;
const KEY_CURSOR = 6;
const KEY_ENTRIES = 7;
/**
 * Entry record: as doubles, [0] LSN and [1] file offset; as 32-bit words, [4] the length with
 * bit 31 for will_init, [5] the key's previous entry (-1 for none), [6] the key id.
 */
const ENTRY_DOUBLES = 4;
const ENTRY_INTS = 8;
const ENTRY_LENGTH = 4;
const ENTRY_PREVIOUS = 5;
const ENTRY_KEY = 6;
const LENGTH_MASK = 0x7fff_ffff;
const WILL_INIT_BIT = 0x8000_0000;
/**
 * In the key-ordered flush buffer: a key header (words, entry count), an entry header; records
 * start at multiples of 4 bytes, so a cursor fits in 32 bits (16 GiB).
 */
const SORTED_KEY_HEADER_BYTES = 24;
const SORTED_ENTRY_HEADER_BYTES = 12;
/** How much of the ephemeral file a flush reads at once. */
const FLUSH_WINDOW_BYTES = 1024 * 1024;
/**
 * A flush yields to the event loop after this many entries or bytes of values: reads go on
 * meanwhile, and the writer's write-behind fdatasyncs complete (their callbacks need a turn).
 */
const FLUSH_YIELD_ENTRIES = 8192;
const FLUSH_YIELD_BYTES = 4 * 1024 * 1024;

/** Counts a flush's work since its last yield. */
class YieldPacer {
  private entries = 0;
  private bytes = 0;

  /** Counts one entry of `length` bytes; whether it is time to yield. */
  due(length: number): boolean {
    this.bytes += length;
    if (++this.entries < FLUSH_YIELD_ENTRIES && this.bytes < FLUSH_YIELD_BYTES) return false;
    this.entries = 0;
    this.bytes = 0;
    return true;
  }
}

/** A layer's index arrays, kept for the next layer (see spare_memory.ts). */
interface IndexArrays {
  entries: Float64Array;
  keyRecords: Uint32Array;
  /** The hash table (see SLOT_INTS); its ids all zero when spare. */
  slots: Int32Array;
  /** Per key id: its slot in the table (to clear it, and to rehash). */
  keySlots: Int32Array;
}

const spareIndexes = new SparePool<IndexArrays>(2, (a) => a.entries.length + a.keyRecords.length);
/** Flush buffers: key-ordered values, key tuples (two: the sort's), ephemeral file windows. */
const spareSortedBuffers = new SpareBuffers(1);
const spareTupleBuffers = new SpareBuffers(2);
const spareWindows = new SpareBuffers(2);

function newIndexArrays(): IndexArrays {
  return {
    entries: new Float64Array(INITIAL_ENTRIES * ENTRY_DOUBLES),
    keyRecords: new Uint32Array(INITIAL_KEYS * KEY_STRIDE),
    slots: new Int32Array(INITIAL_KEYS * 2 * SLOT_INTS),
    keySlots: new Int32Array(INITIAL_KEYS),
  };
}

function grown<T extends Float64Array | Uint32Array | Int32Array>(
  old: T,
  make: (n: number) => T,
): T {
  const next = make(old.length * 2);
  next.set(old);
  return next;
}

/** Where decodeKeyWords leaves a key; read straight back into locals. */
const keyScratch = new Uint32Array(KEY_WORDS);

/** One murmur3 block step: keys of one relation differ only in their last words. */
function mixWord(h: number, w: number): number {
  let k = Math.imul(w, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  h ^= Math.imul(k, 0x1b873593);
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

/** murmur3-32 of five words. */
function hashWords(w0: number, w1: number, w2: number, w3: number, w4: number): number {
  let h = mixWord(mixWord(mixWord(mixWord(mixWord(0, w0), w1), w2), w3), w4);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/** The tag of the key `homeSlot` was last called for. */
let homeTag = 0;

/**
 * Where a key starts probing, in a table of `mask + 1` slots; sets homeTag. The group (eight
 * slots, one cache line) comes from the key without the low three bits of its block number
 * (field6, the last four bytes), which pick the slot in it.
 */
function homeSlot(
  w0: number,
  w1: number,
  w2: number,
  w3: number,
  w4: number,
  mask: number,
): number {
  const block = ((w3 & 0xffff) << 16) | w4;
  const group = hashWords(w0, w1, w2, w3 >>> 16, block >>> GROUP_SHIFT);
  const inGroup = block & (GROUP_SLOTS - 1);
  homeTag = group ^ Math.imul(inGroup + 1, 0x9e3779b1);
  return ((group << GROUP_SHIFT) | inGroup) & mask;
}

/** Whether key ids 0..n-1 are already in key order (ingest often inserts keys in order). */
function keysInOrder(records: Uint32Array, n: number): boolean {
  for (let id = 1; id < n; id++) {
    const a = (id - 1) * KEY_STRIDE;
    const b = a + KEY_STRIDE;
    for (let w = 0; w < KEY_WORDS; w++) {
      const x = records[a + w]!;
      const y = records[b + w]!;
      if (x !== y) {
        if (x > y) return false;
        break;
      }
    }
  }
  return true;
}

/** Reused by flushes: the radix sort's histogram. */
const radixCounts = new Uint32Array(65536);

/**
 * Sorts n key tuples (KEY_STRIDE words each, the key words first) in key order; returns the
 * array holding the result (`tuples` or `other`). An LSD radix sort over the 16-bit digits of
 * the words, skipping digits no key varies in (a layer's keys mostly share their relation
 * prefix). The tuples move with their digits, so each pass reads its input front to back; a
 * pass sorting key ids instead, and the reads of each key's record in key order after it, were
 * random accesses costing 150-250 ns each here. A comparison sort of 1.34 M 36-char strings
 * measured about a second.
 */
function sortKeyTuples(tuples: Uint32Array, other: Uint32Array, n: number): Uint32Array {
  // Which 16-bit digits vary: bit 2w for a word's high half, 2w+1 for its low half.
  let varying = 0;
  for (let id = 1; id < n; id++) {
    const b = id * KEY_STRIDE;
    for (let w = 0; w < KEY_WORDS; w++) {
      const x = tuples[b + w]! ^ tuples[w]!;
      if (x >>> 16 !== 0) varying |= 1 << (2 * w);
      if ((x & 0xffff) !== 0) varying |= 1 << (2 * w + 1);
    }
  }
  let from = tuples;
  let to = other;
  const counts = radixCounts;
  // Least significant digit first: the low half of word 4 (word 4 has no high half).
  for (let digit = 2 * KEY_WORDS - 1; digit >= 0; digit--) {
    if ((varying & (1 << digit)) === 0) continue;
    const w = digit >>> 1;
    const shift = digit & 1 ? 0 : 16;
    counts.fill(0);
    for (let i = 0; i < n; i++) counts[(from[i * KEY_STRIDE + w]! >>> shift) & 0xffff]!++;
    let sum = 0;
    for (let d = 0; d < 65536; d++) {
      const c = counts[d]!;
      counts[d] = sum;
      sum += c;
    }
    for (let i = 0; i < n; i++) {
      const a = i * KEY_STRIDE;
      const b = counts[(from[a + w]! >>> shift) & 0xffff]!++ * KEY_STRIDE;
      to[b] = from[a]!;
      to[b + 1] = from[a + 1]!;
      to[b + 2] = from[a + 2]!;
      to[b + 3] = from[a + 3]!;
      to[b + 4] = from[a + 4]!;
      to[b + 5] = from[a + 5]!;
      to[b + 6] = from[a + 6]!;
      to[b + 7] = from[a + 7]!;
    }
    const swap = from;
    from = to;
    to = swap;
  }
  return from;
}

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
  /** Entry records (see ENTRY_DOUBLES), and the same memory as 32-bit words. */
  private entries: Float64Array;
  private entryInts: Int32Array;
  private entryCount = 0;
  /** Key records (KEY_STRIDE words each); `keyInts` is the same memory, signed. */
  private keyRecords: Uint32Array;
  private keyInts: Int32Array;
  private keys = 0;
  /** Open addressing, linear probing, at most half full: key id + 1, or 0 for empty. */
  private slots: Int32Array;
  /** The tag of the key `slotForPut` probed, for `record`. */
  private putTag = 0;
  private keySlots: Int32Array;
  private deleted = false;
  private flushing = false;
  /** The highest LSN put so far (the layer's end is above it). */
  maxLsn: Lsn;
  /** Wall-clock time of the first put, for checkpoint_timeout. */
  readonly createdAtMs = Date.now();

  constructor(options: InMemoryLayerOptions) {
    this.options = options;
    this.lsnStart = options.lsnStart;
    this.maxLsn = options.lsnStart;
    this.file = new EphemeralFile(path.join(options.directory, `ephemeral-${options.sequence}`));
    const a = spareIndexes.take(() => true) ?? newIndexArrays();
    this.entries = a.entries;
    this.entryInts = new Int32Array(a.entries.buffer);
    this.keyRecords = a.keyRecords;
    this.keyInts = new Int32Array(a.keyRecords.buffer);
    this.slots = a.slots;
    this.keySlots = a.keySlots;
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
    return this.keys;
  }

  get valueCount(): number {
    return this.entryCount;
  }

  private growEntries(): void {
    this.entries = grown(this.entries, (n) => new Float64Array(n));
    this.entryInts = new Int32Array(this.entries.buffer);
  }

  /** Doubles the key records and the table (rehashing from the stored words). */
  private growKeys(): void {
    if (this.keys * KEY_STRIDE === this.keyRecords.length) {
      this.keyRecords = grown(this.keyRecords, (n) => new Uint32Array(n));
      this.keyInts = new Int32Array(this.keyRecords.buffer);
      this.keySlots = grown(this.keySlots, (n) => new Int32Array(n));
    }
    if (this.keys * 2 * SLOT_INTS >= this.slots.length) {
      const slots = new Int32Array(this.slots.length * 2);
      const mask = slots.length / SLOT_INTS - 1;
      const r = this.keyRecords;
      for (let id = 0; id < this.keys; id++) {
        const b = id * KEY_STRIDE;
        let s = homeSlot(r[b]!, r[b + 1]!, r[b + 2]!, r[b + 3]!, r[b + 4]!, mask);
        while (slots[s * SLOT_INTS] !== 0) s = (s + 1) & mask;
        slots[s * SLOT_INTS] = id + 1;
        slots[s * SLOT_INTS + 1] = homeTag;
        this.keySlots[id] = s;
      }
      this.slots = slots;
    }
  }

  /**
   * The slot of the key in keyScratch: holding its id + 1, or 0 (absent; where it would go).
   */
  private probe(): number {
    const k = keyScratch;
    const w0 = k[0]!;
    const w1 = k[1]!;
    const w2 = k[2]!;
    const w3 = k[3]!;
    const w4 = k[4]!;
    const slots = this.slots;
    const r = this.keyRecords;
    const mask = slots.length / SLOT_INTS - 1;
    let s = homeSlot(w0, w1, w2, w3, w4, mask);
    const tag = homeTag;
    for (;;) {
      const v = slots[s * SLOT_INTS]!;
      if (v === 0) return s;
      if (slots[s * SLOT_INTS + 1] === tag) {
        const b = (v - 1) * KEY_STRIDE;
        if (r[b + 4] === w4 && r[b + 3] === w3 && r[b + 2] === w2 && r[b + 1] === w1 && r[b] === w0)
          return s;
      }
      s = (s + 1) & mask;
    }
  }

  /** The newest entry of `key`, or -1. */
  private newestEntry(key: Key): number {
    decodeKeyWords(key, keyScratch);
    const id = this.slots[this.probe() * SLOT_INTS]! - 1;
    return id < 0 ? -1 : this.keyInts[id * KEY_STRIDE + KEY_NEWEST]!;
  }

  private checkPut(key: Key, lsn: Lsn, length: number): void {
    assert(this.frozenEnd === null, "put into a frozen in-memory layer");
    assert(!this.deleted, "put into a deleted in-memory layer");
    if (lsn < this.lsnStart) {
      throw new InvalidArgumentError(
        `put at LSN ${formatLsn(lsn)} below the layer start ${formatLsn(this.lsnStart)}`,
        {
          key: formatKey(key),
        },
      );
    }
    if (length > VALUE_SIZE_BYTES_MAX) {
      throw new InvalidArgumentError(`value of ${length} bytes exceeds ${VALUE_SIZE_BYTES_MAX}`, {
        key: formatKey(key),
      });
    }
  }

  /**
   * Finds the key's slot (adding the key is left to `record`, once the value is stored; the key
   * stays in keyScratch). Refuses an LSN below the key's newest version.
   */
  private slotForPut(key: Key, lsn: Lsn): number {
    if (
      (this.keys + 1) * 2 * SLOT_INTS > this.slots.length ||
      this.keys * KEY_STRIDE === this.keyRecords.length
    )
      this.growKeys();
    decodeKeyWords(key, keyScratch);
    const slot = this.probe();
    this.putTag = homeTag;
    const id = this.slots[slot * SLOT_INTS]! - 1;
    if (id >= 0) {
      const newest = this.keyInts[id * KEY_STRIDE + KEY_NEWEST]!;
      const newestLsn = this.entries[newest * ENTRY_DOUBLES]!;
      if (newestLsn > lsn) {
        throw new InvalidArgumentError(
          `put at LSN ${formatLsn(lsn)} below the key's newest version ${formatLsn(newestLsn as Lsn)}`,
          { key: formatKey(key) },
        );
      }
    }
    return slot;
  }

  /** Records a stored value for the key whose slot `slotForPut` returned. */
  private record(
    slot: number,
    lsn: Lsn,
    fileOffset: number,
    length: number,
    willInit: boolean,
  ): void {
    let id = this.slots[slot * SLOT_INTS]! - 1;
    const ki = this.keyInts;
    let newest = -1;
    if (id < 0) {
      id = this.keys++;
      const b = id * KEY_STRIDE;
      const k = keyScratch;
      const r = this.keyRecords;
      r[b] = k[0]!;
      r[b + 1] = k[1]!;
      r[b + 2] = k[2]!;
      r[b + 3] = k[3]!;
      r[b + 4] = k[4]!;
      this.keySlots[id] = slot;
      ki[b + KEY_ENTRIES] = 0;
      this.slots[slot * SLOT_INTS] = id + 1;
      this.slots[slot * SLOT_INTS + 1] = this.putTag;
    } else {
      newest = ki[id * KEY_STRIDE + KEY_NEWEST]!;
    }
    let entry: number;
    if (newest >= 0 && this.entries[newest * ENTRY_DOUBLES] === lsn) {
      entry = newest; // A second value at the same (key, LSN) replaces the first.
    } else {
      if ((this.entryCount + 1) * ENTRY_DOUBLES > this.entries.length) this.growEntries();
      entry = this.entryCount++;
      this.entries[entry * ENTRY_DOUBLES] = lsn;
      const ei = entry * ENTRY_INTS;
      this.entryInts[ei + ENTRY_PREVIOUS] = newest;
      this.entryInts[ei + ENTRY_KEY] = id;
      ki[id * KEY_STRIDE + KEY_NEWEST] = entry;
      ki[id * KEY_STRIDE + KEY_ENTRIES]!++;
    }
    this.entries[entry * ENTRY_DOUBLES + 1] = fileOffset;
    this.entryInts[entry * ENTRY_INTS + ENTRY_LENGTH] = willInit ? length | WILL_INIT_BIT : length;
    if (lsn > this.maxLsn) this.maxLsn = lsn;
  }

  /** Adds a value, encoding it straight into the ephemeral file's buffer. */
  put(key: Key, lsn: Lsn, value: Value): void {
    const length = encodedValueLength(value);
    this.checkPut(key, lsn, length);
    const slot = this.slotForPut(key, lsn);
    const file = this.file;
    const at = file.reserve(length);
    let fileOffset: number;
    if (at >= 0) {
      writeValue(value, file.buffer, at);
      fileOffset = file.bufferFileOffset + at;
    } else {
      fileOffset = file.append(encodeValue(value));
    }
    this.record(slot, lsn, fileOffset, length, valueWillInit(value));
  }

  /** Adds an already encoded value. */
  putEncoded(key: Key, lsn: Lsn, encoded: Buffer, willInit: boolean): void {
    this.checkPut(key, lsn, encoded.length);
    const slot = this.slotForPut(key, lsn);
    const fileOffset = this.file.append(encoded);
    this.record(slot, lsn, fileOffset, encoded.length, willInit);
  }

  /** Visits the versions of `key` with LSN in [lsnFloor, lsnEnd), newest first. */
  visitVersions(key: Key, lsnFloor: Lsn, lsnEnd: Lsn, visitor: InMemoryVersionVisitor): void {
    // Its arrays may belong to another layer by now.
    assert(!this.deleted, "read of a deleted in-memory layer");
    const e = this.entries;
    const ei = this.entryInts;
    let entry = this.newestEntry(key);
    while (entry >= 0 && e[entry * ENTRY_DOUBLES]! >= lsnEnd)
      entry = ei[entry * ENTRY_INTS + ENTRY_PREVIOUS]!;
    while (entry >= 0) {
      const lsn = e[entry * ENTRY_DOUBLES]! as Lsn;
      if (lsn < lsnFloor) return;
      const lengthAndFlag = ei[entry * ENTRY_INTS + ENTRY_LENGTH]!;
      const willInit = lengthAndFlag < 0;
      const value = this.file.read(e[entry * ENTRY_DOUBLES + 1]!, lengthAndFlag & LENGTH_MASK);
      if (!visitor(lsn, value, willInit) || willInit) return;
      entry = ei[entry * ENTRY_INTS + ENTRY_PREVIOUS]!;
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
    assert(!this.deleted && !this.flushing, "in-memory layer deleted or already being written");
    this.flushing = true;
    try {
      const writer = new LayerFileWriter({
        directory: this.options.directory,
        tenantId: this.options.tenantId,
        timelineId: this.options.timelineId,
        kind: "delta",
        lsnRange: name.lsnRange,
      });
      try {
        // A frozen layer's arrays no longer change, and a delete waits for the flush.
        if (this.entryCount === this.keys && keysInOrder(this.keyRecords, this.keys)) {
          await this.writeInPutOrder(writer);
        } else {
          await this.writeSorted(writer);
        }
        const finalPath = finalPathFor(name);
        const summary = await writer.finish(finalPath, name.keyRange);
        return { path: finalPath, summary };
      } catch (error) {
        writer.abort();
        throw error;
      }
    } finally {
      this.flushing = false;
      if (this.deleted) this.release();
    }
  }

  /** Entries in put order, which is (key, LSN) order here (see the caller). */
  private async writeInPutOrder(writer: LayerFileWriter): Promise<void> {
    const window = spareWindows.take(FLUSH_WINDOW_BYTES);
    const pacer = new YieldPacer();
    try {
      const r = this.keyRecords;
      const e = this.entries;
      const ei = this.entryInts;
      let windowStart = 0;
      let windowEnd = 0;
      for (let entry = 0; entry < this.entryCount; entry++) {
        const offset = e[entry * ENTRY_DOUBLES + 1]!;
        const lengthAndFlag = ei[entry * ENTRY_INTS + ENTRY_LENGTH]!;
        const length = lengthAndFlag & LENGTH_MASK;
        let source: Buffer = window;
        let start = offset - windowStart;
        if (offset < windowStart || offset + length > windowEnd) {
          if (length > window.length) {
            source = this.file.read(offset, length);
            start = 0;
          } else {
            windowStart = offset;
            windowEnd = offset + Math.min(window.length, this.file.size - offset);
            this.file.read(offset, windowEnd - windowStart, window);
            start = 0;
          }
        }
        const b = ei[entry * ENTRY_INTS + ENTRY_KEY]! * KEY_STRIDE;
        writer.putWords(
          r[b]!,
          r[b + 1]!,
          r[b + 2]!,
          r[b + 3]!,
          r[b + 4]!,
          e[entry * ENTRY_DOUBLES]! as Lsn,
          source,
          start,
          length,
          lengthAndFlag < 0,
        );
        if (pacer.due(length)) await yieldToEventLoop();
      }
    } finally {
      spareWindows.give(window);
    }
  }

  /**
   * Scatters the values, read in put order, into a buffer in (key, LSN) order, then writes it
   * front to back. The buffer holds, per key in key order, a header (five words, entry count)
   * and per entry, oldest first, a header (LSN as two words, length with the will_init bit) and
   * the value.
   */
  private async writeSorted(writer: LayerFileWriter): Promise<void> {
    const n = this.keys;
    const r = this.keyRecords;
    const e = this.entries;
    const ei = this.entryInts;
    // Each key's bytes (header and entries, in 4-byte units) into its record's cursor word:
    // entries are in put order and key ids in first-put order, so this walks memory in order.
    for (let id = 0; id < n; id++) r[id * KEY_STRIDE + KEY_CURSOR] = SORTED_KEY_HEADER_BYTES / 4;
    let words = n * (SORTED_KEY_HEADER_BYTES / 4);
    for (let entry = 0; entry < this.entryCount; entry++) {
      const ints = entry * ENTRY_INTS;
      const size = (SORTED_ENTRY_HEADER_BYTES + (ei[ints + ENTRY_LENGTH]! & LENGTH_MASK) + 3) >>> 2;
      r[ei[ints + ENTRY_KEY]! * KEY_STRIDE + KEY_CURSOR]! += size;
      words += size;
    }
    await yieldToEventLoop();
    // Tuples: the records with the key id in place of the newest entry (size and count stay).
    const tupleBytes = n * KEY_STRIDE * 4;
    const tupleBuffer = spareTupleBuffers.take(tupleBytes);
    const otherBuffer = spareTupleBuffers.take(tupleBytes);
    const sorted = spareSortedBuffers.take(words * 4);
    const window = spareWindows.take(FLUSH_WINDOW_BYTES);
    const pacer = new YieldPacer();
    try {
      const tuples = new Uint32Array(tupleBuffer.buffer, tupleBuffer.byteOffset, n * KEY_STRIDE);
      tuples.set(r.subarray(0, n * KEY_STRIDE));
      for (let id = 0; id < n; id++) tuples[id * KEY_STRIDE + KEY_NEWEST] = id;
      const other = new Uint32Array(otherBuffer.buffer, otherBuffer.byteOffset, n * KEY_STRIDE);
      const sortedKeys = keysInOrder(r, n) ? tuples : sortKeyTuples(tuples, other, n);
      await yieldToEventLoop();
      const view = new DataView(sorted.buffer, sorted.byteOffset, sorted.length);
      const windowView = new DataView(window.buffer, window.byteOffset, window.length);
      // Key headers in key order; each key's cursor moves to where its first entry goes.
      let at = 0;
      for (let i = 0; i < n; i++) {
        const t = i * KEY_STRIDE;
        view.setUint32(at, sortedKeys[t]!);
        view.setUint32(at + 4, sortedKeys[t + 1]!);
        view.setUint32(at + 8, sortedKeys[t + 2]!);
        view.setUint32(at + 12, sortedKeys[t + 3]!);
        view.setUint32(at + 16, sortedKeys[t + 4]!);
        view.setUint32(at + 20, sortedKeys[t + KEY_ENTRIES]!);
        r[sortedKeys[t + KEY_NEWEST]! * KEY_STRIDE + KEY_CURSOR] =
          (at + SORTED_KEY_HEADER_BYTES) / 4;
        at += sortedKeys[t + KEY_CURSOR]! * 4;
      }
      let windowStart = 0;
      let windowEnd = 0;
      for (let entry = 0; entry < this.entryCount; entry++) {
        const offset = e[entry * ENTRY_DOUBLES + 1]!;
        const lengthAndFlag = ei[entry * ENTRY_INTS + ENTRY_LENGTH]!;
        const length = lengthAndFlag & LENGTH_MASK;
        const lsn = e[entry * ENTRY_DOUBLES]!;
        const c = ei[entry * ENTRY_INTS + ENTRY_KEY]! * KEY_STRIDE + KEY_CURSOR;
        const place = r[c]! * 4;
        r[c] = r[c]! + ((SORTED_ENTRY_HEADER_BYTES + length + 3) >>> 2);
        view.setUint32(place, Math.floor(lsn / 0x1_0000_0000));
        view.setUint32(place + 4, lsn >>> 0);
        view.setInt32(place + 8, lengthAndFlag);
        const to = place + SORTED_ENTRY_HEADER_BYTES;
        if (length > window.length) {
          this.file.read(offset, length, sorted.subarray(to, to + length));
        } else {
          if (offset < windowStart || offset + length > windowEnd) {
            windowStart = offset;
            windowEnd = offset + Math.min(window.length, this.file.size - offset);
            this.file.read(offset, windowEnd - windowStart, window);
          }
          copyBytes(window, windowView, offset - windowStart, length, sorted, view, to);
        }
        if (pacer.due(length)) await yieldToEventLoop();
      }
      at = 0;
      for (let i = 0; i < n; i++) {
        const k0 = view.getUint32(at);
        const k1 = view.getUint32(at + 4);
        const k2 = view.getUint32(at + 8);
        const k3 = view.getUint32(at + 12);
        const k4 = view.getUint32(at + 16);
        const count = view.getUint32(at + 20);
        at += SORTED_KEY_HEADER_BYTES;
        for (let c = 0; c < count; c++) {
          const lsn = view.getUint32(at) * 0x1_0000_0000 + view.getUint32(at + 4);
          const lengthAndFlag = view.getInt32(at + 8);
          const length = lengthAndFlag & LENGTH_MASK;
          at += SORTED_ENTRY_HEADER_BYTES;
          writer.putWords(k0, k1, k2, k3, k4, lsn as Lsn, sorted, at, length, lengthAndFlag < 0);
          at += (length + 3) & ~3;
          if (pacer.due(length)) await yieldToEventLoop();
        }
      }
    } finally {
      spareWindows.give(window);
      spareSortedBuffers.give(sorted);
      spareTupleBuffers.give(otherBuffer);
      spareTupleBuffers.give(tupleBuffer);
    }
  }

  /**
   * Deletes the ephemeral file (after the L0 is in the layer map, or at shutdown). A flush still
   * running keeps reading the file and the arrays: it deletes and hands them on when it ends.
   */
  delete(): void {
    if (this.deleted) return;
    this.deleted = true;
    if (!this.flushing) this.release();
  }

  private release(): void {
    this.file.delete();
    this.releaseArrays();
  }

  /** Hands the index arrays to the next layer, with the table cleared. */
  private releaseArrays(): void {
    const slots = this.slots;
    if (this.keys * 8 * SLOT_INTS < slots.length) {
      for (let id = 0; id < this.keys; id++) slots[this.keySlots[id]! * SLOT_INTS] = 0;
    } else {
      slots.fill(0);
    }
    spareIndexes.give({
      entries: this.entries,
      keyRecords: this.keyRecords,
      slots,
      keySlots: this.keySlots,
    });
    this.entries = new Float64Array(0);
    this.entryInts = new Int32Array(0);
    this.keyRecords = new Uint32Array(0);
    this.keyInts = new Int32Array(0);
    this.slots = new Int32Array(SLOT_INTS);
    this.keySlots = new Int32Array(0);
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
