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
 *     `Int32Array` pool, 96 bytes; a tag is a layer index (its position in coverage order) or -1
 *     and covers every segment below its slot. Node 0 is the null node (children 0, no tags): an
 *     untouched subtree costs nothing and ends a walk early.
 *   - Inserting a layer tags the slots that tile its segment range exactly (at most 14 per level)
 *     and copies the nodes on the two boundary paths to them (path copying): at most two nodes per
 *     level. Older versions keep their roots and still see the tree as it was. A slot that already
 *     has a tag keeps the better of the two, which is enough because a point query takes the best
 *     tag along its root-to-leaf path. Nodes made since the current version began are not shared
 *     yet and are changed in place: layers with one LSN start (an image batch, an L1 batch) share
 *     their copies, which is why real maps need about 3 nodes per layer.
 *   - Tags compare by (greater lsn.end, then smaller index): exactly "raise only where strictly
 *     lower", since every layer's tag sits on one slot of every path through its key range.
 *   - Versions are a sorted `Float64Array` of LSN starts with their roots, found through a bucket
 *     directory (`bucket_directory.ts`; a binary search over a thousand versions cost more than
 *     the walk), with a one-entry cache: the read path asks many keys at one LSN.
 *   - A point query finds its segment on the key axis (`key_axis.ts`: the key's digits read once
 *     into numbers, its relation fork hashed, its block found through a bucket directory; a
 *     one-entry cache again, as the read path asks one key at decreasing LSNs), then walks root to
 *     leaf by the segment's digits.
 *
 * Layers are identified by their index in the input, which is in coverage order: the caller (the
 * layer map) keeps its layers sorted that way, so an index is a position in its array and needs no
 * translation on the hot path.
 *
 * Costs: build O(n log n); at most 2 × levels nodes per layer (100,000 layers with distinct LSN
 * starts over 200,000 boundaries: 63 MB); a point query O(levels) expected with no allocation; a
 * range query O(pieces × levels).
 *
 * Invariant kept: indices increase in coverage order and every layer is inserted exactly once, so
 * the structure equals Neon's map after the same insertions. Adding a layer that sorts before the
 * last one, or whose key boundaries are not known yet, needs a rebuild (`canAppend` says which).
 */
import { assert } from "../assert.ts";
import type { Key } from "../key/key.ts";
import type { KeyRange } from "../key/key_space.ts";
import type { Lsn } from "../lsn.ts";
import type { LayerName } from "../storage_layer/layer_name.ts";
import { BucketDirectory } from "./bucket_directory.ts";
import { KeyAxis } from "./key_axis.ts";

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
/** Versions appended past the version directory before it is rebuilt (its last bucket is open). */
const VERSIONS_UNINDEXED_MAX = 16;

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

/** What a point query found: layer indices (positions in coverage order), or -1. */
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

/**
 * The key boundaries of `names`, as a map from boundary to its index in ascending order. Layers
 * share most boundaries, so a set first and a sort of the few unique ones is the cheap order.
 */
function boundariesOf(names: readonly LayerName[]): Map<Key, number> {
  const unique = new Set<Key>();
  for (const { keyRange, lsnRange } of names) {
    assert(keyRange.start < keyRange.end, "a layer needs a non-empty key range");
    assert(lsnRange.start < lsnRange.end, "a layer needs a non-empty LSN range");
    unique.add(keyRange.start);
    unique.add(keyRange.end);
  }
  const sorted = [...unique].sort();
  const indices = new Map<Key, number>();
  for (let i = 0; i < sorted.length; i++) indices.set(sorted[i]!, i);
  return indices;
}

export class HistoricCoverage {
  private readonly axis: KeyAxis;
  private readonly segmentCount: number;
  /** Tree levels: FANOUT ** levels ≥ segmentCount. */
  private readonly levels: number;

  // Layers by index (coverage order).
  private layerCountValue = 0;
  private lsnStarts = new Float64Array(0);
  private lsnEnds = new Float64Array(0);
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
  /** Finds a version by LSN; null while there are none. Versions past its build sit in its last bucket. */
  private versionDirectory: BucketDirectory | null = null;

  // One-entry caches of the hot path: the read path asks one key at many LSNs and many keys at
  // one LSN.
  private cachedKey = "";
  private cachedSegment = -1;
  /** The LSN the cached key was last asked at: the read path asks it again only below. */
  private cachedKeyLsn = -1;
  private cachedLsn = Number.NaN;
  private cachedRoot = NULL_NODE;

  private constructor(axis: KeyAxis) {
    this.axis = axis;
    this.segmentCount = Math.max(0, axis.length - 1);
    let levels = 1;
    while (FANOUT ** levels < this.segmentCount) levels++;
    this.levels = levels;
    for (let slot = 0; slot < FANOUT; slot++) {
      this.nodes[slot * SLOT_SIZE + DELTA_TAG] = NO_LAYER;
      this.nodes[slot * SLOT_SIZE + IMAGE_TAG] = NO_LAYER;
    }
  }

  /**
   * Builds the coverage of `names`, which must be in coverage order (strictly ascending by
   * `compareCoverageOrder`); queries answer with indices into `names`.
   */
  static build(names: readonly LayerName[]): HistoricCoverage {
    const boundaries = boundariesOf(names);
    const coverage = new HistoricCoverage(new KeyAxis([...boundaries.keys()]));
    // A map lookup of a layer name's own key string (its hash cached) beats a key-axis lookup.
    coverage.insertAll(names, (key) => boundaries.get(key)!);
    // Appends grow the pool again when they need to; a built map holds no slack.
    coverage.nodes = coverage.nodes.slice(0, coverage.nodeCount * NODE_SIZE);
    return coverage;
  }

  get layerCount(): number {
    return this.layerCountValue;
  }

  /** The highest lsn.end of any layer (0 when empty). */
  get lsnEndMax(): number {
    return this.lsnEndMaxValue;
  }

  /** Bytes held by the node pool, versions, key axis and per-layer arrays (not the key strings). */
  get memoryBytes(): number {
    return (
      this.nodes.byteLength +
      this.axis.memoryBytes +
      this.versionLsn.byteLength +
      this.versionRoot.byteLength +
      (this.versionDirectory?.memoryBytes ?? 0) +
      this.lsnStarts.byteLength +
      this.lsnEnds.byteLength
    );
  }

  /** Nodes in the pool, the null node included (for tests and benchmarks). */
  get nodesUsed(): number {
    return this.nodeCount;
  }

  /**
   * Whether `names` (in coverage order) can be added without a rebuild: every one sorts after the
   * last layer already inserted, and every key boundary is already known.
   */
  canAppend(names: readonly LayerName[]): boolean {
    let last = this.lastName;
    for (const name of names) {
      if (last !== null && compareCoverageOrder(last, name) >= 0) return false;
      if (this.axis.indexOf(name.keyRange.start) < 0) return false;
      if (this.axis.indexOf(name.keyRange.end) < 0) return false;
      last = name;
    }
    return true;
  }

  /** Adds layers (in coverage order); they get the next indices. Asserts `canAppend(names)`. */
  append(names: readonly LayerName[]): void {
    assert(this.canAppend(names), "append needs layers after the last one and known boundaries");
    this.insertAll(names, (key) => this.axis.indexOf(key));
  }

  /**
   * Inserts `names`, in coverage order, after the last one; their boundaries are known and
   * `boundaryIndex` gives their positions on the key axis.
   */
  private insertAll(names: readonly LayerName[], boundaryIndex: (key: Key) => number): void {
    this.reserveLayers(this.layerCountValue + names.length);
    for (const name of names) {
      if (this.lastName !== null) {
        assert(compareCoverageOrder(this.lastName, name) < 0, "layers out of coverage order");
      }
      this.insertLayer(name, boundaryIndex(name.keyRange.start), boundaryIndex(name.keyRange.end));
    }
    this.indexVersions();
    this.cachedLsn = Number.NaN;
  }

  /** Rebuilds the version directory when versions beyond it have piled up in its last bucket. */
  private indexVersions(): void {
    if (this.versionCount === 0) return;
    const directory = this.versionDirectory;
    if (
      directory !== null &&
      directory.lastBucketSize(0, this.versionCount) <= VERSIONS_UNINDEXED_MAX
    ) {
      return;
    }
    this.versionDirectory = BucketDirectory.build(this.versionLsn, [0, this.versionCount], 1);
  }

  /** lsn.start of the layer at `index`. */
  lsnStartOf(index: number): number {
    return this.lsnStarts[index]!;
  }

  /** lsn.end of the layer at `index`. */
  lsnEndOf(index: number): number {
    return this.lsnEnds[index]!;
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
    // Comparing two keys that differ costs a scan of their long common prefix, so the comparison
    // is made only where the read path would ask again: the same key at a lower LSN.
    const again = lsn < this.cachedKeyLsn && key === this.cachedKey;
    this.cachedKeyLsn = lsn;
    const segment = again ? this.cachedSegment : this.segmentOfKey(key);
    if (segment < 0) return;
    this.walk(root, segment, hit);
  }

  /**
   * The pieces of `range` at `lsn` (inclusive), in key order, covering the whole range; adjacent
   * pieces with the same (delta, image) are merged. Keys no layer covers come with (-1, -1).
   */
  queryRange(range: KeyRange, lsn: Lsn): CoveragePiece[] {
    if (range.start >= range.end) return [];
    const collector = new PieceCollector(range, this.axis.keys);
    const root = this.rootAt(lsn);
    const first = Math.max(0, this.axis.floor(range.start));
    const end = this.segmentEndOf(range.end);
    if (root !== NULL_NODE && first < end) {
      this.collect(root, 0, 0, first, end, NO_LAYER, NO_LAYER, collector);
    }
    return collector.finish();
  }

  private reserveLayers(count: number): void {
    this.lsnStarts = grownFloat64(this.lsnStarts, count);
    this.lsnEnds = grownFloat64(this.lsnEnds, count);
  }

  private insertLayer(name: LayerName, from: number, to: number): void {
    const index = this.layerCountValue++;
    this.lsnStarts[index] = name.lsnRange.start;
    this.lsnEnds[index] = name.lsnRange.end;
    this.lastName = name;
    if (name.lsnRange.end > this.lsnEndMaxValue) this.lsnEndMaxValue = name.lsnRange.end;
    this.startVersionAt(name.lsnRange.start);
    // One insertion copies at most the two boundary paths: two nodes per level.
    this.nodes = grownInt32(this.nodes, (this.nodeCount + 2 * this.levels + 2) * NODE_SIZE);
    assert(from >= 0 && to >= 0, "layer boundaries must be on the key axis");
    assert(from < to, "layer boundaries out of order");
    const tag = name.kind === "delta" ? DELTA_TAG : IMAGE_TAG;
    const last = this.versionCount - 1;
    const root = this.versionRoot[last]!;
    this.versionRoot[last] = this.tagRange(root, 0, 0, from, to, index, tag);
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
   * layer `index`; returns the node that replaces `node`.
   */
  private tagRange(
    node: number,
    level: number,
    low: number,
    from: number,
    to: number,
    index: number,
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
        this.raiseTag(at + tag, index);
      } else {
        const child = this.tagRange(
          this.nodes[at + CHILD]!,
          level + 1,
          slotLow,
          from,
          to,
          index,
          tag,
        );
        this.nodes[at + CHILD] = child;
      }
    }
    return own;
  }

  /** Sets the tag at `position` to `index` where that raises lsn.end strictly (ties: earlier). */
  private raiseTag(position: number, index: number): void {
    const current = this.nodes[position]!;
    if (current === NO_LAYER || this.lsnEnds[index]! > this.lsnEnds[current]!) {
      this.nodes[position] = index;
    }
  }

  /** The root of the newest version with LSN start ≤ lsn, or the null node. */
  private rootAt(lsn: number): number {
    if (lsn === this.cachedLsn) return this.cachedRoot;
    const directory = this.versionDirectory;
    let root = NULL_NODE;
    if (directory !== null && lsn >= this.versionLsn[0]!) {
      root = this.versionRoot[directory.floor(this.versionLsn, 0, lsn, this.versionCount)]!;
    }
    this.cachedLsn = lsn;
    this.cachedRoot = root;
    return root;
  }

  /** The segment holding `key`, or -1 when no layer boundary lies on both sides of it. */
  private segmentOfKey(key: Key): number {
    const boundary = this.axis.floor(key);
    const segment = boundary < this.segmentCount ? boundary : -1;
    this.cachedKey = key;
    this.cachedSegment = segment;
    return segment;
  }

  /** Root-to-leaf walk for one segment, keeping the best delta and image tag on the path. */
  private walk(root: number, segment: number, hit: CoverageHit): void {
    const nodes = this.nodes;
    const lsnEnds = this.lsnEnds;
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
    hit.delta = delta;
    hit.image = image;
  }

  /** The better of two tags: greater lsn.end, then smaller index. */
  private betterTag(candidate: number, best: number): number {
    if (candidate === NO_LAYER) return best;
    if (best === NO_LAYER) return candidate;
    const candidateEnd = this.lsnEnds[candidate]!;
    const bestEnd = this.lsnEnds[best]!;
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

  /** One past the last segment holding keys < key. */
  private segmentEndOf(key: Key): number {
    const boundary = this.axis.floor(key);
    // Boundaries below key: those up to `boundary`, less key itself when it is one.
    const below = boundary >= 0 && this.axis.keys[boundary] === key ? boundary : boundary + 1;
    return Math.min(below, this.segmentCount);
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

  finish(): CoveragePiece[] {
    const last = this.boundaryKeys[this.boundaryKeys.length - 1];
    if (last !== undefined && last < this.range.end) {
      this.push(last > this.range.start ? last : this.range.start, NO_LAYER, NO_LAYER);
    }
    const pieces: CoveragePiece[] = [];
    for (let i = 0; i < this.starts.length; i++) {
      const end = i + 1 < this.starts.length ? this.starts[i + 1]! : this.range.end;
      pieces.push({
        keyRange: { start: this.starts[i]!, end },
        delta: this.deltas[i]!,
        image: this.images[i]!,
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
