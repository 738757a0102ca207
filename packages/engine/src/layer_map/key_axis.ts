/**
 * The key axis of the historic coverage: the sorted, unique layer boundaries (every layer's key
 * start and end), and where a key falls among them. A point search of the layer map asks this once
 * per key, so it is built for fast, allocation-free lookups.
 *
 * Design overview. Reading a key's 36 hex digits (one `charCodeAt` each) is the largest single cost
 * of a lookup, so a key is read once, into six 24-bit numbers, and the rest works on numbers: a
 * string comparison costs several times a number comparison, and a binary search over the
 * boundaries made 13 dependent, unpredictable steps of up to three of them.
 *
 *   - Boundaries are grouped into *runs* by their first 28 digits (field1..field5 of the key: for a
 *     relation block, its relation fork); the members of a run differ only in field6 (for a
 *     relation block, the block number: 32 bits, one exact number).
 *   - A hash table on the 28-digit prefix finds the key's run in one probe or two.
 *   - Within the run, a bucket directory over field6 (`bucket_directory.ts`) finds the last
 *     boundary ≤ the key with two loads and a short scan.
 *   - A key whose prefix has no run (a relation with no layer boundary of its own) lies between two
 *     runs, found by a binary search over the run prefixes.
 *
 * Costs: build O(n) over sorted keys; 8 bytes per boundary, about 12 bytes of directory per
 * boundary and a few dozen bytes per run; a lookup O(1) expected (O(log n) for a key between runs).
 */
import { assert } from "../assert.ts";
import type { Key } from "../key/key.ts";
import { BucketDirectory } from "./bucket_directory.ts";

const CHUNK = 0x100_0000;
const NO_RUN = -1;

/** One hex digit's value (either case): '0'..'9' are 0x30..0x39, letters have bit 6 set. */
function hexDigit(code: number): number {
  return (code & 15) + 9 * (code >> 6);
}

/** The six 24-bit chunks of the last key `readKey` read (digits 0..5, 6..11, …). */
const chunks = new Int32Array(6);

/**
 * Reads a key's 36 digits into `chunks`. Straight-line code of 36 one-digit steps: the optimizer
 * inlines only so much bytecode into one function, and with a helper per chunk it left most chunks
 * as calls (10% of a search); a loop costs more than the calls.
 */
function readKey(key: string): void {
  chunks[0] =
    (hexDigit(key.charCodeAt(0)) << 20) |
    (hexDigit(key.charCodeAt(1)) << 16) |
    (hexDigit(key.charCodeAt(2)) << 12) |
    (hexDigit(key.charCodeAt(3)) << 8) |
    (hexDigit(key.charCodeAt(4)) << 4) |
    hexDigit(key.charCodeAt(5));
  chunks[1] =
    (hexDigit(key.charCodeAt(6)) << 20) |
    (hexDigit(key.charCodeAt(7)) << 16) |
    (hexDigit(key.charCodeAt(8)) << 12) |
    (hexDigit(key.charCodeAt(9)) << 8) |
    (hexDigit(key.charCodeAt(10)) << 4) |
    hexDigit(key.charCodeAt(11));
  chunks[2] =
    (hexDigit(key.charCodeAt(12)) << 20) |
    (hexDigit(key.charCodeAt(13)) << 16) |
    (hexDigit(key.charCodeAt(14)) << 12) |
    (hexDigit(key.charCodeAt(15)) << 8) |
    (hexDigit(key.charCodeAt(16)) << 4) |
    hexDigit(key.charCodeAt(17));
  chunks[3] =
    (hexDigit(key.charCodeAt(18)) << 20) |
    (hexDigit(key.charCodeAt(19)) << 16) |
    (hexDigit(key.charCodeAt(20)) << 12) |
    (hexDigit(key.charCodeAt(21)) << 8) |
    (hexDigit(key.charCodeAt(22)) << 4) |
    hexDigit(key.charCodeAt(23));
  chunks[4] =
    (hexDigit(key.charCodeAt(24)) << 20) |
    (hexDigit(key.charCodeAt(25)) << 16) |
    (hexDigit(key.charCodeAt(26)) << 12) |
    (hexDigit(key.charCodeAt(27)) << 8) |
    (hexDigit(key.charCodeAt(28)) << 4) |
    hexDigit(key.charCodeAt(29));
  chunks[5] =
    (hexDigit(key.charCodeAt(30)) << 20) |
    (hexDigit(key.charCodeAt(31)) << 16) |
    (hexDigit(key.charCodeAt(32)) << 12) |
    (hexDigit(key.charCodeAt(33)) << 8) |
    (hexDigit(key.charCodeAt(34)) << 4) |
    hexDigit(key.charCodeAt(35));
}

/**
 * A 32-bit hash of a run prefix given as its chunks (c4High: digits 24..27). The products are
 * independent, so the hash costs about one multiply's latency more than a single one.
 */
function prefixHash(c0: number, c1: number, c2: number, c3: number, c4High: number): number {
  let hash =
    Math.imul(c0, 0x9e3779b1) ^
    Math.imul(c1, 0x85ebca77) ^
    Math.imul(c2, 0xc2b2ae3d) ^
    Math.imul(c3, 0x27d4eb2f) ^
    Math.imul(c4High, 0x165667b1);
  hash = Math.imul(hash ^ (hash >>> 15), 0x2c1b3c6d);
  return hash ^ (hash >>> 13);
}

export class KeyAxis {
  /** The boundaries, ascending and unique. */
  readonly keys: readonly Key[];
  /** field6 of each boundary. */
  private readonly field6: Float64Array;
  private readonly runCount: number;
  /** Run r is boundaries [runStart[r], runStart[r + 1]). */
  private readonly runStart: Int32Array;
  /** Run prefixes as three exact numbers: digits 0..11, 12..23, 24..27. */
  private readonly runPrefix: Float64Array;
  /** Open addressing, linear probing: run index or NO_RUN; at most half full. */
  private readonly table: Int32Array;
  private readonly tableMask: number;
  private readonly directory: BucketDirectory;

  /** The axis of `keys`, which must be sorted and unique. */
  constructor(keys: readonly Key[]) {
    this.keys = keys;
    const count = keys.length;
    this.field6 = new Float64Array(count);
    const runStart: number[] = [];
    const runPrefix: number[] = [];
    let last0 = -1;
    let last1 = -1;
    let last2 = -1;
    for (let i = 0; i < count; i++) {
      const key = keys[i]!;
      assert(key.length === 36, "a key is 36 hex digits");
      assert(i === 0 || keys[i - 1]! < key, "boundaries must be sorted and unique");
      readKey(key);
      const prefix0 = chunks[0]! * CHUNK + chunks[1]!;
      const prefix1 = chunks[2]! * CHUNK + chunks[3]!;
      const prefix2 = chunks[4]! >>> 8;
      this.field6[i] = (chunks[4]! & 0xff) * CHUNK + chunks[5]!;
      if (prefix0 !== last0 || prefix1 !== last1 || prefix2 !== last2) {
        runStart.push(i);
        runPrefix.push(prefix0, prefix1, prefix2);
        last0 = prefix0;
        last1 = prefix1;
        last2 = prefix2;
      }
    }
    this.runCount = runStart.length;
    runStart.push(count);
    this.runStart = Int32Array.from(runStart);
    this.runPrefix = Float64Array.from(runPrefix);
    let size = 4;
    while (size < 2 * this.runCount) size *= 2;
    this.table = new Int32Array(size).fill(NO_RUN);
    this.tableMask = size - 1;
    for (let run = 0; run < this.runCount; run++) {
      readKey(keys[this.runStart[run]!]!);
      const hash = prefixHash(chunks[0]!, chunks[1]!, chunks[2]!, chunks[3]!, chunks[4]! >>> 8);
      let at = hash & this.tableMask;
      while (this.table[at] !== NO_RUN) at = (at + 1) & this.tableMask;
      this.table[at] = run;
    }
    this.directory = BucketDirectory.build(this.field6, this.runStart, this.runCount);
  }

  get length(): number {
    return this.keys.length;
  }

  /** Bytes held, the key strings aside. */
  get memoryBytes(): number {
    return (
      this.field6.byteLength +
      this.runStart.byteLength +
      this.runPrefix.byteLength +
      this.table.byteLength +
      this.directory.memoryBytes
    );
  }

  /** The index of the last boundary ≤ key, or -1 when every boundary is above it. */
  floor(key: Key): number {
    assert(key.length === 36, "a key is 36 hex digits");
    readKey(key);
    const c0 = chunks[0]!;
    const c1 = chunks[1]!;
    const c2 = chunks[2]!;
    const c3 = chunks[3]!;
    const c4 = chunks[4]!;
    const c4High = c4 >>> 8;
    const prefix0 = c0 * CHUNK + c1;
    const prefix1 = c2 * CHUNK + c3;
    const table = this.table;
    const prefixes = this.runPrefix;
    let at = prefixHash(c0, c1, c2, c3, c4High) & this.tableMask;
    for (let run = table[at]!; run !== NO_RUN; run = table[at]!) {
      if (
        prefixes[run * 3] === prefix0 &&
        prefixes[run * 3 + 1] === prefix1 &&
        prefixes[run * 3 + 2] === c4High
      ) {
        const field6 = (c4 & 0xff) * CHUNK + chunks[5]!;
        if (field6 < this.directory.runFirstValue(run)) return this.runStart[run]! - 1;
        return this.directory.floor(this.field6, run, field6, this.runStart[run + 1]!);
      }
      at = (at + 1) & this.tableMask;
    }
    return this.runStart[this.runsBefore(prefix0, prefix1, c4High)]! - 1;
  }

  /** The index of boundary `key`, or -1 when it is not a boundary. */
  indexOf(key: Key): number {
    const index = this.floor(key);
    return index >= 0 && this.keys[index] === key ? index : -1;
  }

  /** How many runs have a prefix below (prefix0, prefix1, prefix2), which no run has. */
  private runsBefore(prefix0: number, prefix1: number, prefix2: number): number {
    const prefixes = this.runPrefix;
    let low = 0;
    let high = this.runCount;
    while (low < high) {
      const middle = (low + high) >>> 1;
      const at = middle * 3;
      const below =
        prefixes[at]! < prefix0 ||
        (prefixes[at] === prefix0 &&
          (prefixes[at + 1]! < prefix1 ||
            (prefixes[at + 1] === prefix1 && prefixes[at + 2]! < prefix2)));
      if (below) low = middle + 1;
      else high = middle;
    }
    return low;
  }
}
