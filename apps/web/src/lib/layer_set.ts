/**
 * A layer map as the canvas draws it: struct-of-arrays in typed arrays, one slot per layer, so a
 * frame over 26,690 layers is a loop over numbers with no object access and no allocation.
 *
 * Axes. Keys are 18 bytes: their numeric spread is meaningless to the eye (one relation's blocks
 * against the whole key space), so the key axis is the *rank* of a key among the sorted distinct
 * key-range boundaries of the map; a layer spans [rank(keyStart), rank(keyEnd)). LSNs are exact
 * doubles below 2^53 and are kept as they are; the LSN axis maps them linearly (or by rank, see
 * `lsnRanks`).
 *
 * Tiers: L0 (a delta over the whole key space), L1 (any other delta), image, and the in-memory
 * open and frozen layers (whole key space, drawn on top).
 */

export const TIER_L0 = 0;
export const TIER_L1 = 1;
export const TIER_IMAGE = 2;
export const TIER_OPEN = 3;
export const TIER_FROZEN = 4;
export const TIER_NAMES = ["L0", "L1", "image", "open", "frozen"] as const;
export type TierName = (typeof TIER_NAMES)[number];

export const KEY_MIN_HEX = "0".repeat(36);
export const KEY_MAX_HEX = "F".repeat(36);

export interface LayerSet {
  readonly count: number;
  readonly keyStartRank: Uint32Array;
  readonly keyEndRank: Uint32Array;
  readonly lsnStart: Float64Array;
  readonly lsnEnd: Float64Array;
  readonly tier: Uint8Array;
  /** Compaction level, -1 when unknown (files opened without a pageserver). */
  readonly level: Int16Array;
  /** 0 = visible, 1 = covered. */
  readonly covered: Uint8Array;
  /** 0 = resident, 1 = remote only. */
  readonly remote: Uint8Array;
  readonly size: Float64Array;
  /** -1 = no generation. */
  readonly generation: Int32Array;
  readonly names: readonly string[];
  /** Sorted distinct key boundaries (upper-case hex): rank → key. */
  readonly keys: readonly string[];
  readonly lsnMin: number;
  readonly lsnMax: number;
  readonly totalBytes: number;
  readonly countsByTier: readonly number[];
}

/** One layer before it is packed; used for rows from a pageserver. */
export interface LayerInput {
  readonly name: string;
  readonly keyStart: string;
  readonly keyEnd: string;
  readonly lsnStart: number;
  readonly lsnEnd: number;
  readonly tier: number;
  readonly level?: number | null;
  readonly covered?: boolean;
  readonly remote?: boolean;
  readonly size?: number;
  readonly generation?: number | null;
}

/** A builder that packs layers as they come (the name parser feeds it without objects). */
export class LayerSetBuilder {
  private readonly capacity: number;
  private n = 0;
  readonly keyStart: string[];
  readonly keyEnd: string[];
  readonly lsnStart: Float64Array;
  readonly lsnEnd: Float64Array;
  readonly tier: Uint8Array;
  readonly level: Int16Array;
  readonly covered: Uint8Array;
  readonly remote: Uint8Array;
  readonly size: Float64Array;
  readonly generation: Int32Array;
  readonly names: string[];

  constructor(capacity: number) {
    this.capacity = capacity;
    this.keyStart = new Array(capacity);
    this.keyEnd = new Array(capacity);
    this.names = new Array(capacity);
    this.lsnStart = new Float64Array(capacity);
    this.lsnEnd = new Float64Array(capacity);
    this.tier = new Uint8Array(capacity);
    this.level = new Int16Array(capacity).fill(-1);
    this.covered = new Uint8Array(capacity);
    this.remote = new Uint8Array(capacity);
    this.size = new Float64Array(capacity);
    this.generation = new Int32Array(capacity).fill(-1);
  }

  get count(): number {
    return this.n;
  }

  add(layer: LayerInput): void {
    if (this.n >= this.capacity) throw new Error("LayerSetBuilder: capacity exceeded");
    const i = this.n++;
    this.names[i] = layer.name;
    this.keyStart[i] = layer.keyStart.toUpperCase();
    this.keyEnd[i] = layer.keyEnd.toUpperCase();
    this.lsnStart[i] = layer.lsnStart;
    this.lsnEnd[i] = layer.lsnEnd;
    this.tier[i] = layer.tier;
    this.level[i] = layer.level ?? -1;
    this.covered[i] = layer.covered ? 1 : 0;
    this.remote[i] = layer.remote ? 1 : 0;
    this.size[i] = layer.size ?? 0;
    this.generation[i] = layer.generation ?? -1;
  }

  build(): LayerSet {
    const n = this.n;
    const distinct = new Set<string>();
    for (let i = 0; i < n; i++) {
      distinct.add(this.keyStart[i]!);
      distinct.add(this.keyEnd[i]!);
    }
    for (let i = 0; i < n; i++) {
      if (this.tier[i] === TIER_OPEN || this.tier[i] === TIER_FROZEN) {
        distinct.add(KEY_MIN_HEX);
        distinct.add(KEY_MAX_HEX);
        break;
      }
    }
    // Fixed-width upper-case hex: string order is key order.
    const keys = [...distinct].sort();
    const rankOf = new Map<string, number>();
    for (let r = 0; r < keys.length; r++) rankOf.set(keys[r]!, r);
    const keyStartRank = new Uint32Array(n);
    const keyEndRank = new Uint32Array(n);
    let lsnMin = Number.POSITIVE_INFINITY;
    let lsnMax = 0;
    let totalBytes = 0;
    const countsByTier = [0, 0, 0, 0, 0];
    for (let i = 0; i < n; i++) {
      keyStartRank[i] = rankOf.get(this.keyStart[i]!)!;
      keyEndRank[i] = rankOf.get(this.keyEnd[i]!)!;
      if (this.lsnStart[i]! < lsnMin) lsnMin = this.lsnStart[i]!;
      if (this.lsnEnd[i]! > lsnMax) lsnMax = this.lsnEnd[i]!;
      totalBytes += this.size[i]!;
      countsByTier[this.tier[i]!]!++;
    }
    if (n === 0) lsnMin = lsnMax = 0;
    return {
      count: n,
      keyStartRank,
      keyEndRank,
      lsnStart: this.lsnStart.subarray(0, n),
      lsnEnd: this.lsnEnd.subarray(0, n),
      tier: this.tier.subarray(0, n),
      level: this.level.subarray(0, n),
      covered: this.covered.subarray(0, n),
      remote: this.remote.subarray(0, n),
      size: this.size.subarray(0, n),
      generation: this.generation.subarray(0, n),
      names: this.names.slice(0, n),
      keys,
      lsnMin,
      lsnMax,
      totalBytes,
      countsByTier,
    };
  }
}

/** Sorted distinct LSN boundaries of a set: for the "LSN by rank" axis. */
export function lsnRanks(set: LayerSet): Float64Array {
  const values = new Float64Array(set.count * 2);
  values.set(set.lsnStart, 0);
  values.set(set.lsnEnd, set.count);
  values.sort();
  let unique = 0;
  for (let i = 0; i < values.length; i++) {
    if (i === 0 || values[i] !== values[unique - 1]) values[unique++] = values[i]!;
  }
  return values.slice(0, unique);
}
