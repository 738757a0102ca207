/**
 * Historic coverage: for any point (key, LSN) of the historic (on-disk) layers, which delta layer
 * and which image layer are "on top" there. The read path asks this for every GetPage, so it is
 * built for fast, allocation-free point queries.
 *
 * Semantics (Neon's `historic_layer_coverage.rs` and `layer_coverage.rs`). Layers are inserted one
 * by one in *coverage order*: by LSN start, then LSN end, then key start, then key end, then kind
 * (delta before image; the kinds live in separate coverages, so this last tiebreak only makes the
 * order total). A coverage maps each key to (lsn.end, layer); inserting a layer raises it over the
 * layer's key range only where the current lsn.end is strictly lower, so on a tie the earlier
 * inserted layer stays. After each insertion the state is a *version* keyed by the layer's LSN
 * start; `query(key, lsn)` reads the newest version whose LSN start is ≤ lsn. Put differently: at a
 * point (key, lsn), among the layers with `lsn.start <= lsn` whose key range holds the key, the
 * winner is the one with the greatest `lsn.end`, the earliest in coverage order on a tie, separately
 * for deltas and images.
 *
 * Design overview. Neon keeps a persistent red-black map per version. Here the key axis is
 * compressed first: every layer's key start and key end becomes a *boundary*; between two
 * consecutive boundaries lies an elementary *segment*, inside which no layer begins or ends. A
 * persistent segment tree over the segment numbers holds the coverage:
 *
 *   - The tree is 8-ary (three bits of the segment number per level), so a walk is short: the
 *     walk is bound by memory latency, one dependent load per level, and a binary tree would
 *     take three times as many levels. A node is 8 slots of (child, delta tag, image tag) in one
 *     `Int32Array` pool, 96 bytes; a tag is a layer rank (its position in coverage order) or -1
 *     and covers every segment below its slot. Node 0 is the null node (children 0, no tags): an
 *     untouched subtree costs nothing and ends a walk early.
 *   - Inserting a layer tags the slots that tile its segment range exactly (at most 14 per level)
 *     and copies the nodes on the two boundary paths to them (path copying): at most two nodes per
 *     level. Older versions keep their roots and still see the tree as it was. A slot that already
 *     has a tag keeps the better of the two, which is enough because a point query takes the best
 *     tag along its root-to-leaf path. Nodes made since the current version began are not shared
 *     yet and are changed in place: layers with one LSN start (an image batch, an L1 batch) share
 *     their copies, which is why real maps need about 3 nodes per layer.
 *   - Tags compare by (greater lsn.end, then smaller rank): exactly "raise only where strictly
 *     lower", since every layer's tag sits on one slot of every path through its key range.
 *   - Versions are a sorted `Float64Array` of LSN starts with their roots, found by binary search
 *     (with a one-entry cache: the read path asks many keys at one LSN).
 *   - A point query decodes the key's 36 hex digits into three exact 48-bit numbers, finds its
 *     segment by binary search over the boundaries decoded the same way (a one-entry cache again:
 *     the read path asks one key at decreasing LSNs), then walks root to leaf by the segment's
 *     digits. Numbers, not strings: a string comparison costs several times a number comparison,
 *     and the 36 `charCodeAt` of the decode are the single largest cost of a query.
 *
 * Costs: build O(n log n); at most 2 × levels nodes per layer (100,000 layers with distinct LSN
 * starts over 200,000 boundaries: 63 MB); a point query O(log n + log S) with no allocation; a
 * range query O(pieces × levels).
 *
 * Invariant kept: ranks increase in coverage order and every layer is inserted exactly once, so
 * the structure equals Neon's map after the same insertions. Adding a layer that sorts before the
 * last one, or whose key boundaries are not known yet, needs a rebuild (`canAppend` says which).
 */
import { assert } from "../assert.ts";
import type { Key } from "../key/key.ts";
import type { KeyRange } from "../key/key_space.ts";
import type { Lsn } from "../lsn.ts";
import type { LayerName } from "../storage_layer/layer_name.ts";

/** Children per node: 8 (three bits of the segment number per level). */
const FANOUT_BITS = 3;
const FANOUT = 1 << FANOUT_BITS;
/** A node is FANOUT slots of (child, delta tag, image tag). */
const SLOT_SIZE = 3;
const CHILD = 0;
const DELTA_TAG = 1;
const IMAGE_TAG = 2;
const NODE_SIZE = FANOUT * SLOT_SIZE;
const NULL_NODE = 0;
const NO_LAYER = -1;
/** A key is three 48-bit numbers: 12 hex digits each. */
const KEY_PARTS = 3;

/**
 * Coverage order: the order layers are inserted in (Neon's `LayerKey` order). Ties on equal
 * lsn.end at one key go to the layer that comes first here.
 */
export function compareCoverageOrder(a: LayerName, b: LayerName): number {
  if (a.lsnRange.start !== b.lsnRange.start) return a.lsnRange.start - b.lsnRange.start;
  if (a.lsnRange.end !== b.lsnRange.end) return a.lsnRange.end - b.lsnRange.end;
  if (a.keyRange.start !== b.keyRange.start) return a.keyRange.start < b.keyRange.start ? -1 : 1;
  if (a.keyRange.end !== b.keyRange.end) return a.keyRange.end < b.keyRange.end ? -1 : 1;
  if (a.kind === b.kind) return 0;
  return a.kind === "delta" ? -1 : 1;
}

/** What a point query found: layer indices (positions in the build/append input), or -1. */
export interface CoverageHit {
  delta: number;
  image: number;
}

/** One piece of a range query: the same delta and image layer (index or -1) over `keyRange`. */
export interface CoveragePiece {
  readonly keyRange: KeyRange;
  readonly delta: number;
  readonly image: number;
}

/** Six hex digits as a 24-bit integer, without allocating (lower or upper case). */
function hexChunk(text: string, offset: number): number {
  let value = 0;
  for (let i = offset; i < offset + 6; i++) {
    const code = text.charCodeAt(i);
    // '0'..'9' are 0x30..0x39, 'a'..'f' 0x61..0x66, 'A'..'F' 0x41..0x46: bit 6 marks a letter.
    value = (value << 4) | ((code & 15) + 9 * (code >> 6));
  }
  return value;
}

/** Twelve hex digits as an exact 48-bit number. */
function keyPart(key: Key, offset: number): number {
  return hexChunk(key, offset) * 0x100_0000 + hexChunk(key, offset + 6);
}

function grownInt32(array: Int32Array<ArrayBuffer>, needed: number): Int32Array<ArrayBuffer> {
  if (needed <= array.length) return array;
  const grown = new Int32Array(Math.max(needed, array.length * 2));
  grown.set(array);
  return grown;
}

function grownFloat64(array: Float64Array<ArrayBuffer>, needed: number): Float64Array<ArrayBuffer> {
  if (needed <= array.length) return array;
  const grown = new Float64Array(Math.max(needed, array.length * 2));
  grown.set(array);
  return grown;
}

export class HistoricCoverage {
  // The key axis: sorted unique boundaries, as strings and as KEY_PARTS numbers each.
  private readonly boundaryKeys: readonly Key[];
  private readonly boundaryNumbers: Float64Array;
  private readonly boundarySlots: Map<Key, number>;
  private readonly segmentCount: number;
  /** Tree levels: FANOUT ** levels ≥ segmentCount. */
  private readonly levels: number;

  // Layers by rank (coverage order), and the mapping to and from input indices.
  private rankCount = 0;
  private rankLsnStart = new Float64Array(0);
  private rankLsnEnd = new Float64Array(0);
  private rankIndex = new Int32Array(0);
  private indexRank = new Int32Array(0);
  private lastName: LayerName | null = null;
  private lsnEndMaxValue = 0;

  // The node pool: NODE_SIZE Int32 slots per node; node 0 is the null node.
  private nodes = new Int32Array(NODE_SIZE * 256);
  private nodeCount = 1;

  // Versions: LSN starts (ascending) and their roots; nodes from versionNodeFloor on are unshared.
  private versionLsn = new Float64Array(64);
  private versionRoot = new Int32Array(64);
  private versionCount = 0;
  private versionNodeFloor = 1;

  // One-entry caches of the hot path: the read path asks one key at many LSNs and many keys at
  // one LSN.
  private cachedKey = "";
  private cachedSegment = -1;
  private cachedLsn = Number.NaN;
  private cachedRoot = NULL_NODE;

  private constructor(boundaryKeys: readonly Key[]) {
    this.boundaryKeys = boundaryKeys;
    this.boundaryNumbers = new Float64Array(boundaryKeys.length * KEY_PARTS);
    this.boundarySlots = new Map();
    for (let slot = 0; slot < boundaryKeys.length; slot++) {
      const key = boundaryKeys[slot]!;
      assert(slot === 0 || boundaryKeys[slot - 1]! < key, "boundaries must be sorted and unique");
      this.boundaryNumbers[slot * KEY_PARTS] = keyPart(key, 0);
      this.boundaryNumbers[slot * KEY_PARTS + 1] = keyPart(key, 12);
      this.boundaryNumbers[slot * KEY_PARTS + 2] = keyPart(key, 24);
      this.boundarySlots.set(key, slot);
    }
    this.segmentCount = Math.max(0, boundaryKeys.length - 1);
    let levels = 1;
    while (FANOUT ** levels < this.segmentCount) levels++;
    this.levels = levels;
    for (let slot = 0; slot < FANOUT; slot++) {
      this.nodes[slot * SLOT_SIZE + DELTA_TAG] = NO_LAYER;
      this.nodes[slot * SLOT_SIZE + IMAGE_TAG] = NO_LAYER;
    }
  }

  /** Builds the coverage of `names` (any order); queries answer with indices into `names`. */
  static build(names: readonly LayerName[]): HistoricCoverage {
    const boundaries = new Set<Key>();
    for (const name of names) {
      assert(name.keyRange.start < name.keyRange.end, "a layer needs a non-empty key range");
      assert(name.lsnRange.start < name.lsnRange.end, "a layer needs a non-empty LSN range");
      boundaries.add(name.keyRange.start);
      boundaries.add(name.keyRange.end);
    }
    const coverage = new HistoricCoverage([...boundaries].sort());
    coverage.insertAll(names);
    // Appends grow the pool again when they need to; a built map holds no slack.
    coverage.nodes = coverage.nodes.slice(0, coverage.nodeCount * NODE_SIZE);
    return coverage;
  }

  get layerCount(): number {
    return this.rankCount;
  }

  /** The highest lsn.end of any layer (0 when empty). */
  get lsnEndMax(): number {
    return this.lsnEndMaxValue;
  }

  /** Bytes held by the node pool, versions and per-layer arrays. */
  get memoryBytes(): number {
    return (
      this.nodes.byteLength +
      this.boundaryNumbers.byteLength +
      this.versionLsn.byteLength +
      this.versionRoot.byteLength +
      this.rankLsnStart.byteLength +
      this.rankLsnEnd.byteLength +
      this.rankIndex.byteLength +
      this.indexRank.byteLength
    );
  }

  /** Nodes in the pool, the null node included (for tests and benchmarks). */
  get nodesUsed(): number {
    return this.nodeCount;
  }

  /**
   * Whether `names` can be added without a rebuild: every one sorts after the last layer already
   * inserted, and every key boundary is already known.
   */
  canAppend(names: readonly LayerName[]): boolean {
    for (const name of names) {
      if (this.lastName !== null && compareCoverageOrder(this.lastName, name) >= 0) return false;
      if (!this.boundarySlots.has(name.keyRange.start)) return false;
      if (!this.boundarySlots.has(name.keyRange.end)) return false;
    }
    return true;
  }

  /** Adds layers; they get the next indices in input order. Asserts `canAppend(names)`. */
  append(names: readonly LayerName[]): void {
    assert(this.canAppend(names), "append needs layers after the last one and known boundaries");
    this.insertAll(names);
  }

  /** Inserts `names` in coverage order; their boundaries are known and they sort after the last. */
  private insertAll(names: readonly LayerName[]): void {
    const firstIndex = this.rankCount;
    const order = names.map((_, position) => position);
    order.sort((a, b) => compareCoverageOrder(names[a]!, names[b]!) || a - b);
    this.reserveLayers(firstIndex + names.length);
    for (const position of order) {
      const name = names[position]!;
      if (this.lastName !== null) {
        assert(compareCoverageOrder(this.lastName, name) < 0, "duplicate layer in coverage");
      }
      this.insertLayer(name, firstIndex + position);
    }
    this.cachedLsn = Number.NaN;
  }

  /** lsn.start of the layer at `index` (typed-array reads: no property loads on layer objects). */
  lsnStartOf(index: number): number {
    return this.rankLsnStart[this.indexRank[index]!]!;
  }

  /** lsn.end of the layer at `index`. */
  lsnEndOf(index: number): number {
    return this.rankLsnEnd[this.indexRank[index]!]!;
  }

  /**
   * The top delta and image layer at (key, lsn), lsn inclusive (the version at `lsn`), written to
   * `hit` as indices or -1. Allocates nothing.
   */
  query(key: Key, lsn: Lsn, hit: CoverageHit): void {
    hit.delta = NO_LAYER;
    hit.image = NO_LAYER;
    const root = this.rootAt(lsn);
    if (root === NULL_NODE) return;
    const segment = key === this.cachedKey ? this.cachedSegment : this.segmentOfKey(key);
    if (segment < 0) return;
    this.walk(root, segment, hit);
  }

  /**
   * The pieces of `range` at `lsn` (inclusive), in key order, covering the whole range; adjacent
   * pieces with the same (delta, image) are merged. Keys no layer covers come with (-1, -1).
   */
  queryRange(range: KeyRange, lsn: Lsn): CoveragePiece[] {
    if (range.start >= range.end) return [];
    const collector = new PieceCollector(range, this.boundaryKeys);
    const root = this.rootAt(lsn);
    const first = this.segmentOf(range.start);
    const end = this.segmentEndOf(range.end);
    if (root !== NULL_NODE && first < end) {
      this.collect(root, 0, 0, first, end, NO_LAYER, NO_LAYER, collector);
    }
    return collector.finish((rank) => (rank === NO_LAYER ? NO_LAYER : this.rankIndex[rank]!));
  }

  private reserveLayers(count: number): void {
    this.rankLsnStart = grownFloat64(this.rankLsnStart, count);
    this.rankLsnEnd = grownFloat64(this.rankLsnEnd, count);
    this.rankIndex = grownInt32(this.rankIndex, count);
    this.indexRank = grownInt32(this.indexRank, count);
  }

  private insertLayer(name: LayerName, index: number): void {
    const rank = this.rankCount++;
    this.rankLsnStart[rank] = name.lsnRange.start;
    this.rankLsnEnd[rank] = name.lsnRange.end;
    this.rankIndex[rank] = index;
    this.indexRank[index] = rank;
    this.lastName = name;
    if (name.lsnRange.end > this.lsnEndMaxValue) this.lsnEndMaxValue = name.lsnRange.end;
    this.startVersionAt(name.lsnRange.start);
    // One insertion copies at most the two boundary paths: two nodes per level.
    this.nodes = grownInt32(this.nodes, (this.nodeCount + 2 * this.levels + 2) * NODE_SIZE);
    const from = this.boundarySlots.get(name.keyRange.start)!;
    const to = this.boundarySlots.get(name.keyRange.end)!;
    assert(from < to, "layer boundaries out of order");
    const tag = name.kind === "delta" ? DELTA_TAG : IMAGE_TAG;
    const last = this.versionCount - 1;
    const root = this.versionRoot[last]!;
    this.versionRoot[last] = this.tagRange(root, 0, 0, from, to, rank, tag);
  }

  /** Opens a new version for `lsnStart` unless the newest one already has that LSN start. */
  private startVersionAt(lsnStart: number): void {
    const last = this.versionCount - 1;
    if (last >= 0 && this.versionLsn[last] === lsnStart) return;
    assert(last < 0 || this.versionLsn[last]! < lsnStart, "layers must come in LSN-start order");
    this.versionLsn = grownFloat64(this.versionLsn, this.versionCount + 1);
    this.versionRoot = grownInt32(this.versionRoot, this.versionCount + 1);
    this.versionLsn[this.versionCount] = lsnStart;
    this.versionRoot[this.versionCount] = last >= 0 ? this.versionRoot[last]! : NULL_NODE;
    this.versionCount++;
    this.versionNodeFloor = this.nodeCount;
  }

  /** Returns the node to write to in place of `node`: itself if unshared, else a copy. */
  private ownNode(node: number): number {
    if (node >= this.versionNodeFloor) return node;
    const copy = this.nodeCount++;
    const nodes = this.nodes;
    const from = node * NODE_SIZE;
    const to = copy * NODE_SIZE;
    // A plain loop: cheaper than a native copyWithin call for 24 slots.
    for (let i = 0; i < NODE_SIZE; i++) nodes[to + i] = nodes[from + i]!;
    return copy;
  }

  /**
   * Tags segments [from, to) below `node` (a node of `level` whose first segment is `low`) with
   * `rank`; returns the node that replaces `node`.
   */
  private tagRange(
    node: number,
    level: number,
    low: number,
    from: number,
    to: number,
    rank: number,
    tag: number,
  ): number {
    const own = this.ownNode(node);
    const shift = FANOUT_BITS * (this.levels - 1 - level);
    const width = 2 ** shift;
    const first = Math.max(0, Math.floor((from - low) / width));
    const last = Math.min(FANOUT - 1, Math.floor((to - 1 - low) / width));
    for (let slot = first; slot <= last; slot++) {
      const slotLow = low + slot * width;
      const at = own * NODE_SIZE + slot * SLOT_SIZE;
      if (from <= slotLow && slotLow + width <= to) {
        this.raiseTag(at + tag, rank);
      } else {
        const child = this.tagRange(
          this.nodes[at + CHILD]!,
          level + 1,
          slotLow,
          from,
          to,
          rank,
          tag,
        );
        this.nodes[at + CHILD] = child;
      }
    }
    return own;
  }

  /** Sets the tag at `position` to `rank` where that raises lsn.end strictly (ties: earlier). */
  private raiseTag(position: number, rank: number): void {
    const current = this.nodes[position]!;
    if (current === NO_LAYER || this.rankLsnEnd[rank]! > this.rankLsnEnd[current]!) {
      this.nodes[position] = rank;
    }
  }

  /** The root of the newest version with LSN start ≤ lsn, or the null node. */
  private rootAt(lsn: number): number {
    if (lsn === this.cachedLsn) return this.cachedRoot;
    const versions = this.versionLsn;
    let low = 0;
    let high = this.versionCount;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (versions[middle]! <= lsn) low = middle + 1;
      else high = middle;
    }
    const root = low === 0 ? NULL_NODE : this.versionRoot[low - 1]!;
    this.cachedLsn = lsn;
    this.cachedRoot = root;
    return root;
  }

  /** The segment holding `key`, or -1 when no layer boundary lies on both sides of it. */
  private segmentOfKey(key: Key): number {
    assert(key.length === 36, "a key is 36 hex digits");
    const high = keyPart(key, 0);
    const middle = keyPart(key, 12);
    const low = keyPart(key, 24);
    const segment = this.searchSegment(high, middle, low);
    this.cachedKey = key;
    this.cachedSegment = segment;
    return segment;
  }

  /** Binary search for the last boundary ≤ the decoded key; -1 when outside every segment. */
  private searchSegment(high: number, middle: number, low: number): number {
    let first = 0;
    let count = this.boundaryKeys.length;
    while (count > 0) {
      const half = count >>> 1;
      if (this.isBoundaryAtOrBefore(first + half, high, middle, low)) {
        first += half + 1;
        count -= half + 1;
      } else {
        count = half;
      }
    }
    return first - 1 < this.segmentCount ? first - 1 : -1;
  }

  /** Whether the boundary at `slot` is ≤ the decoded key (high, middle, low). */
  private isBoundaryAtOrBefore(slot: number, high: number, middle: number, low: number): boolean {
    const numbers = this.boundaryNumbers;
    const at = slot * KEY_PARTS;
    const boundaryHigh = numbers[at]!;
    if (boundaryHigh !== high) return boundaryHigh < high;
    const boundaryMiddle = numbers[at + 1]!;
    if (boundaryMiddle !== middle) return boundaryMiddle < middle;
    return numbers[at + 2]! <= low;
  }

  /** Root-to-leaf walk for one segment, keeping the best delta and image tag on the path. */
  private walk(root: number, segment: number, hit: CoverageHit): void {
    const nodes = this.nodes;
    const lsnEnds = this.rankLsnEnd;
    let delta = NO_LAYER;
    let deltaEnd = -1;
    let image = NO_LAYER;
    let imageEnd = -1;
    let node = root;
    for (let shift = FANOUT_BITS * (this.levels - 1); shift >= 0; shift -= FANOUT_BITS) {
      const at = node * NODE_SIZE + ((segment >>> shift) & (FANOUT - 1)) * SLOT_SIZE;
      const deltaTag = nodes[at + DELTA_TAG]!;
      if (deltaTag >= 0) {
        const end = lsnEnds[deltaTag]!;
        if (end > deltaEnd || (end === deltaEnd && deltaTag < delta)) {
          delta = deltaTag;
          deltaEnd = end;
        }
      }
      const imageTag = nodes[at + IMAGE_TAG]!;
      if (imageTag >= 0) {
        const end = lsnEnds[imageTag]!;
        if (end > imageEnd || (end === imageEnd && imageTag < image)) {
          image = imageTag;
          imageEnd = end;
        }
      }
      node = nodes[at + CHILD]!;
      if (node === NULL_NODE) break;
    }
    hit.delta = delta === NO_LAYER ? NO_LAYER : this.rankIndex[delta]!;
    hit.image = image === NO_LAYER ? NO_LAYER : this.rankIndex[image]!;
  }

  /** The better of two tags: greater lsn.end, then smaller rank. */
  private betterTag(candidate: number, best: number): number {
    if (candidate === NO_LAYER) return best;
    if (best === NO_LAYER) return candidate;
    const candidateEnd = this.rankLsnEnd[candidate]!;
    const bestEnd = this.rankLsnEnd[best]!;
    if (candidateEnd !== bestEnd) return candidateEnd > bestEnd ? candidate : best;
    return candidate < best ? candidate : best;
  }

  /**
   * Emits the pieces of segments [from, to) below `node` (a node of `level` whose first segment
   * is `low`), given the best tags above it.
   */
  private collect(
    node: number,
    level: number,
    low: number,
    from: number,
    to: number,
    delta: number,
    image: number,
    collector: PieceCollector,
  ): void {
    const width = 2 ** (FANOUT_BITS * (this.levels - 1 - level));
    const first = Math.max(0, Math.floor((from - low) / width));
    const last = Math.min(FANOUT - 1, Math.floor((to - 1 - low) / width));
    for (let slot = first; slot <= last; slot++) {
      const slotLow = low + slot * width;
      const at = node * NODE_SIZE + slot * SLOT_SIZE;
      const slotDelta = this.betterTag(this.nodes[at + DELTA_TAG]!, delta);
      const slotImage = this.betterTag(this.nodes[at + IMAGE_TAG]!, image);
      const child = this.nodes[at + CHILD]!;
      if (child === NULL_NODE) {
        const pieceEnd = Math.min(slotLow + width, to);
        collector.add(Math.max(slotLow, from), pieceEnd, slotDelta, slotImage);
      } else {
        this.collect(child, level + 1, slotLow, from, to, slotDelta, slotImage, collector);
      }
    }
  }

  /** The first segment that overlaps keys ≥ key (0 when key is before every boundary). */
  private segmentOf(key: Key): number {
    const slot = this.boundarySlotAtOrBefore(key);
    return slot < 0 ? 0 : slot;
  }

  /** One past the last segment holding keys < key. */
  private segmentEndOf(key: Key): number {
    const keys = this.boundaryKeys;
    let low = 0;
    let high = keys.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (keys[middle]! < key) low = middle + 1;
      else high = middle;
    }
    return Math.min(low, this.segmentCount);
  }

  /** The last boundary slot ≤ key, or -1. */
  private boundarySlotAtOrBefore(key: Key): number {
    const keys = this.boundaryKeys;
    let low = 0;
    let high = keys.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (keys[middle]! <= key) low = middle + 1;
      else high = middle;
    }
    return low - 1;
  }
}

/**
 * Gathers range-query pieces in segment space, merging neighbours with equal tags, then turns them
 * into key ranges clipped to the query range (with uncovered pieces before the first and after the
 * last boundary).
 */
class PieceCollector {
  private readonly range: KeyRange;
  private readonly boundaryKeys: readonly Key[];
  private readonly starts: Key[] = [];
  private readonly deltas: number[] = [];
  private readonly images: number[] = [];

  constructor(range: KeyRange, boundaryKeys: readonly Key[]) {
    this.range = range;
    this.boundaryKeys = boundaryKeys;
    const first = boundaryKeys[0];
    if (first === undefined || range.start < first) this.push(range.start, NO_LAYER, NO_LAYER);
  }

  /** Segments [from, to) have the tags (delta, image). */
  add(from: number, to: number, delta: number, image: number): void {
    assert(from < to, "empty piece");
    const key = this.boundaryKeys[from]!;
    this.push(key > this.range.start ? key : this.range.start, delta, image);
  }

  finish(toIndex: (rank: number) => number): CoveragePiece[] {
    const last = this.boundaryKeys[this.boundaryKeys.length - 1];
    if (last !== undefined && last < this.range.end) {
      this.push(last > this.range.start ? last : this.range.start, NO_LAYER, NO_LAYER);
    }
    const pieces: CoveragePiece[] = [];
    for (let i = 0; i < this.starts.length; i++) {
      const end = i + 1 < this.starts.length ? this.starts[i + 1]! : this.range.end;
      pieces.push({
        keyRange: { start: this.starts[i]!, end },
        delta: toIndex(this.deltas[i]!),
        image: toIndex(this.images[i]!),
      });
    }
    return pieces;
  }

  private push(start: Key, delta: number, image: number): void {
    const last = this.starts.length - 1;
    if (last >= 0 && this.deltas[last] === delta && this.images[last] === image) return;
    this.starts.push(start);
    this.deltas.push(delta);
    this.images.push(image);
  }
}
