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
 * persistent segment tree over the segments holds the coverage:
 *
 *   - Nodes live in one `Int32Array` pool, four slots each: left child, right child, delta tag,
 *     image tag. A tag is a layer rank (its position in coverage order) or -1. Node 0 is the null
 *     node: its children are itself and it has no tags, so a subtree that was never touched costs
 *     nothing and ends a walk early.
 *   - Inserting a layer tags the O(log S) canonical nodes that tile its segment range (S segments)
 *     and copies the nodes on the paths to them (path copying); older versions keep their roots
 *     and so still see the tree as it was. A canonical node that already has a tag keeps the better
 *     of the two, which is enough because a point query takes the best tag along its root-to-leaf
 *     path. Nodes made since the current version started are not shared yet and are changed in
 *     place: layers with the same LSN start (an image layer batch, an L1 batch) cost far fewer nodes.
 *   - Tags compare by (greater lsn.end, then smaller rank): exactly "raise only where strictly
 *     lower", since every layer's tag sits on one node of every path through its key range.
 *   - Versions are a sorted `Float64Array` of LSN starts with their roots; a query finds its version
 *     by binary search (with a one-entry cache: the read path asks many keys at one LSN).
 *   - A point query decodes the key into three 48-bit numbers once (a one-entry cache again: the
 *     read path asks one key at decreasing LSNs) and walks root to leaf, comparing the key with the
 *     boundary at each split: the walk is the key search, no separate binary search is needed.
 *
 * Costs: build O(n log n); about 2·log2(S) nodes of 16 bytes per layer; a point query
 * O(log n + log S) with no allocation; a range query O(pieces · log S).
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

const NODE_SLOTS = 4;
const LEFT = 0;
const RIGHT = 1;
const DELTA_TAG = 2;
const IMAGE_TAG = 3;
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
  private readonly depthMax: number;

  // Layers by rank (coverage order), and the mapping to and from input indices.
  private rankCount = 0;
  private rankLsnStart = new Float64Array(0);
  private rankLsnEnd = new Float64Array(0);
  private rankIndex = new Int32Array(0);
  private indexRank = new Int32Array(0);
  private lastName: LayerName | null = null;
  private lsnEndMaxValue = 0;

  // The node pool: NODE_SLOTS Int32 slots per node; node 0 is the null node.
  private nodes = new Int32Array(NODE_SLOTS * 1024);
  private nodeCount = 1;

  // Versions: LSN starts (ascending) and their roots; nodes from versionNodeFloor on are unshared.
  private versionLsn = new Float64Array(64);
  private versionRoot = new Int32Array(64);
  private versionCount = 0;
  private versionNodeFloor = 1;

  // One-entry caches of the hot path.
  private cachedKey = "";
  private cachedKeyHigh = 0;
  private cachedKeyMiddle = 0;
  private cachedKeyLow = 0;
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
    this.depthMax = Math.ceil(Math.log2(Math.max(2, this.segmentCount))) + 1;
    this.nodes[NULL_NODE * NODE_SLOTS + DELTA_TAG] = NO_LAYER;
    this.nodes[NULL_NODE * NODE_SLOTS + IMAGE_TAG] = NO_LAYER;
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
    coverage.append(names);
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
      this.versionLsn.byteLength +
      this.versionRoot.byteLength +
      this.rankLsnStart.byteLength +
      this.rankLsnEnd.byteLength +
      this.rankIndex.byteLength +
      this.indexRank.byteLength
    );
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
    if (key !== this.cachedKey) this.decodeKey(key);
    const high = this.cachedKeyHigh;
    const middle = this.cachedKeyMiddle;
    const low = this.cachedKeyLow;
    if (!this.isAtOrAfter(0, high, middle, low)) return;
    if (this.isAtOrAfter(this.segmentCount, high, middle, low)) return;
    this.walk(root, high, middle, low, hit);
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
      this.collect(root, 0, this.segmentCount, first, end, NO_LAYER, NO_LAYER, collector);
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
    // One walk copies at most two paths plus the canonical nodes hanging off them.
    const needed = (this.nodeCount + 4 * this.depthMax + 4) * NODE_SLOTS;
    this.nodes = grownInt32(this.nodes, needed);
    const from = this.boundarySlots.get(name.keyRange.start)!;
    const to = this.boundarySlots.get(name.keyRange.end)!;
    assert(from < to, "layer boundaries out of order");
    const tag = name.kind === "delta" ? DELTA_TAG : IMAGE_TAG;
    const last = this.versionCount - 1;
    const root = this.versionRoot[last]!;
    this.versionRoot[last] = this.tagRange(root, 0, this.segmentCount, from, to, rank, tag);
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
    const from = node * NODE_SLOTS;
    const to = copy * NODE_SLOTS;
    nodes[to + LEFT] = nodes[from + LEFT]!;
    nodes[to + RIGHT] = nodes[from + RIGHT]!;
    nodes[to + DELTA_TAG] = nodes[from + DELTA_TAG]!;
    nodes[to + IMAGE_TAG] = nodes[from + IMAGE_TAG]!;
    return copy;
  }

  /** Tags segments [from, to) of the subtree `node` (segments [low, high)) with `rank`. */
  private tagRange(
    node: number,
    low: number,
    high: number,
    from: number,
    to: number,
    rank: number,
    tag: number,
  ): number {
    const own = this.ownNode(node);
    const nodes = this.nodes;
    const slot = own * NODE_SLOTS;
    if (from <= low && high <= to) {
      const current = nodes[slot + tag]!;
      // Strictly higher lsn.end only: on a tie the earlier layer (smaller rank) stays.
      if (current === NO_LAYER || this.rankLsnEnd[rank]! > this.rankLsnEnd[current]!) {
        nodes[slot + tag] = rank;
      }
      return own;
    }
    const middle = (low + high) >>> 1;
    if (from < middle) {
      const left = this.tagRange(nodes[slot + LEFT]!, low, middle, from, to, rank, tag);
      nodes[slot + LEFT] = left;
    }
    if (to > middle) {
      const right = this.tagRange(nodes[slot + RIGHT]!, middle, high, from, to, rank, tag);
      nodes[slot + RIGHT] = right;
    }
    return own;
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

  private decodeKey(key: Key): void {
    assert(key.length === 36, "a key is 36 hex digits");
    this.cachedKeyHigh = keyPart(key, 0);
    this.cachedKeyMiddle = keyPart(key, 12);
    this.cachedKeyLow = keyPart(key, 24);
    this.cachedKey = key;
  }

  /** Whether the decoded key is ≥ the boundary at `slot`. */
  private isAtOrAfter(slot: number, high: number, middle: number, low: number): boolean {
    const numbers = this.boundaryNumbers;
    const at = slot * KEY_PARTS;
    const boundaryHigh = numbers[at]!;
    if (high !== boundaryHigh) return high > boundaryHigh;
    const boundaryMiddle = numbers[at + 1]!;
    if (middle !== boundaryMiddle) return middle > boundaryMiddle;
    return low >= numbers[at + 2]!;
  }

  /** Root-to-leaf walk for one key, keeping the best delta and image tag on the path. */
  private walk(root: number, high: number, middle: number, low: number, hit: CoverageHit): void {
    const nodes = this.nodes;
    const lsnEnds = this.rankLsnEnd;
    let delta = NO_LAYER;
    let deltaEnd = -1;
    let image = NO_LAYER;
    let imageEnd = -1;
    let node = root;
    let segmentLow = 0;
    let segmentHigh = this.segmentCount;
    for (;;) {
      const slot = node * NODE_SLOTS;
      const deltaTag = nodes[slot + DELTA_TAG]!;
      if (deltaTag >= 0) {
        const end = lsnEnds[deltaTag]!;
        if (end > deltaEnd || (end === deltaEnd && deltaTag < delta)) {
          delta = deltaTag;
          deltaEnd = end;
        }
      }
      const imageTag = nodes[slot + IMAGE_TAG]!;
      if (imageTag >= 0) {
        const end = lsnEnds[imageTag]!;
        if (end > imageEnd || (end === imageEnd && imageTag < image)) {
          image = imageTag;
          imageEnd = end;
        }
      }
      if (segmentHigh - segmentLow === 1) break;
      const split = (segmentLow + segmentHigh) >>> 1;
      if (this.isAtOrAfter(split, high, middle, low)) {
        node = nodes[slot + RIGHT]!;
        segmentLow = split;
      } else {
        node = nodes[slot + LEFT]!;
        segmentHigh = split;
      }
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

  /** Emits the pieces of segments [from, to) below `node` (segments [low, high)). */
  private collect(
    node: number,
    low: number,
    high: number,
    from: number,
    to: number,
    delta: number,
    image: number,
    collector: PieceCollector,
  ): void {
    const slot = node * NODE_SLOTS;
    delta = this.betterTag(this.nodes[slot + DELTA_TAG]!, delta);
    image = this.betterTag(this.nodes[slot + IMAGE_TAG]!, image);
    if (node === NULL_NODE || high - low === 1) {
      collector.add(Math.max(low, from), Math.min(high, to), delta, image);
      return;
    }
    const middle = (low + high) >>> 1;
    const left = this.nodes[slot + LEFT]!;
    const right = this.nodes[slot + RIGHT]!;
    if (from < middle) this.collect(left, low, middle, from, to, delta, image, collector);
    if (to > middle) this.collect(right, middle, high, from, to, delta, image, collector);
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
