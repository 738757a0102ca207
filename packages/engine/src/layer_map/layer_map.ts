/**
 * The layer map: which layers a timeline has, and which one to read next for a key at an LSN.
 *
 * It holds three kinds of layers, newest first:
 *
 *   - the *open* in-memory layer, which ingest appends to (its end LSN is open, LSN_MAX);
 *   - the *frozen* in-memory layers, oldest first, waiting to be flushed to L0 delta files;
 *   - the *historic* layers: delta and image layer files, indexed by `HistoricCoverage`.
 *
 * Design overview. `search` is on the read critical path: the read path calls it once per layer it
 * visits for a key, passing the returned `lsnFloor` as the next `endLsn`. Historic layers are
 * answered by the persistent coverage index (see `historic_coverage.ts`): one version lookup, one
 * key lookup and one root-to-leaf walk. The in-memory layers are few (one open, a short queue of
 * frozen ones) and are checked first with a linear scan. Results are immutable, so the answers
 * that depend only on the layer (an in-memory layer or an image from its own LSN, a delta from its
 * LSN start) are made once per layer and shared; only a delta read down to just above an image
 * gets a new object. A search allocates nothing else.
 *
 * Invariant kept: in-memory layers are newer than every historic layer (the highest historic
 * lsn.end is ≤ the oldest in-memory lsn.start), which is why an in-memory layer below `endLsn`
 * always wins with its own start as the floor. `search` asserts it whenever it consults the
 * in-memory layers, so a flush must insert the new L0 and `removeOldestFrozen` in one synchronous
 * step (no `await` between them), as Neon does under one lock.
 *
 * Updates come in batches (`batchUpdate`), as in Neon's `BatchedUpdates`: the coverage is updated
 * once per batch. The common "a frozen layer was flushed to an L0" batch appends to the persistent
 * index in place (the new layers sort after every existing one and bring no new key boundary);
 * anything else (removals, layers with older LSNs, new boundaries) rebuilds the index from all
 * layers, which takes well under a second for 100,000 layers. `stats` counts both.
 *
 * The historic layers are kept in an array in coverage order (`compareCoverageOrder`), so a
 * coverage index is also a position in that array. Once `historicLayers()` has handed the array
 * out it is never mutated (the next update works on a copy), so a caller iterating it is never
 * disturbed; an append to an array nobody holds pushes in place, as copying 100,000 layers took
 * milliseconds per flush.
 */
import { assert } from "../assert.ts";
import { KEY_MAX, KEY_MIN, type Key } from "../key/key.ts";
import type { KeyRange } from "../key/key_space.ts";
import { LSN_MAX, type Lsn, type LsnRange } from "../lsn.ts";
import {
  formatLayerName,
  isL0Name,
  type LayerName,
  parseLayerFileName,
} from "../storage_layer/layer_name.ts";
import { type CoverageHit, compareCoverageOrder, HistoricCoverage } from "./historic_coverage.ts";
import { getVisibility, type VisibilityResult } from "./visibility.ts";

/** What the layer map needs of a historic layer; the owner passes richer objects. */
export interface HistoricLayerRef {
  readonly name: LayerName;
}

/** What the layer map needs of an in-memory layer. `lsnEnd` is LSN_MAX while the layer is open. */
export interface InMemoryLayerRef {
  readonly lsnStart: Lsn;
  readonly lsnEnd: Lsn;
}

/** The next layer to read for a key, and the lowest LSN to read from it. */
export type SearchResult<L, I> =
  | { readonly layer: L; readonly isInMemory: false; readonly lsnFloor: Lsn }
  | { readonly layer: I; readonly isInMemory: true; readonly lsnFloor: Lsn };

/** A search result for the keys of `keyRange`. */
export type RangeSearchResult<L, I> = SearchResult<L, I> & { readonly keyRange: KeyRange };

/** A batch of historic-layer updates; nothing is visible to searches before `flush`. */
export interface LayerMapBatch<L> {
  insert(layer: L): void;
  remove(layer: L): void;
  flush(): void;
  /** Flushes if not flushed yet, for `using batch = map.batchUpdate()`. */
  [Symbol.dispose](): void;
}

/** How the coverage index was updated: observability for tests, metrics and logs. */
export interface LayerMapStats {
  fullRebuilds: number;
  appends: number;
}

/** A text identity of a layer name, cheaper to build than the formatted file name. */
function layerIdentity(name: LayerName): string {
  const { keyRange, lsnRange } = name;
  return `${name.kind}${keyRange.start}${keyRange.end}${lsnRange.start}-${lsnRange.end}`;
}

/** An assertion naming the layer, its message built only when it fails. */
function assertLayer(condition: boolean, name: LayerName, problem: string): void {
  if (!condition) assert(false, `layer ${formatLayerName(name)} ${problem}`);
}

/** Appends to `results` the shared search result of each of `layers`: read it from its LSN start. */
function pushResults<L extends HistoricLayerRef, I>(
  results: SearchResult<L, I>[],
  layers: readonly L[],
): SearchResult<L, I>[] {
  for (const layer of layers) {
    results.push({ layer, isInMemory: false, lsnFloor: layer.name.lsnRange.start });
  }
  return results;
}

function compareLayers(a: HistoricLayerRef, b: HistoricLayerRef): number {
  return compareCoverageOrder(a.name, b.name);
}

export class LayerMap<L extends HistoricLayerRef, I extends InMemoryLayerRef = InMemoryLayerRef> {
  /** Historic layers in coverage order: position = coverage index. Replaced, never mutated. */
  private layers: L[] = [];
  /** Whether `historicLayers()` handed `layers` out since it last changed (see the header). */
  private layersHandedOut = false;
  private readonly layersByIdentity = new Map<string, L>();
  private coverage = HistoricCoverage.build([]);
  /** Never handed out (`l0Layers` copies it), so appends push in place. */
  private l0: L[] = [];
  private open: I | null = null;
  private frozen: readonly I[] = [];
  /** The search results of the open and frozen layers (see `search`). */
  private openResult: SearchResult<L, I> | null = null;
  private frozenResults: readonly SearchResult<L, I>[] = [];
  /**
   * Per historic layer (index as in `layers`), "read it from its LSN start" (see `search`). Made
   * up front, not on first use: the check for a missing one kept `search` from being compiled
   * as one piece.
   */
  private historicResults: SearchResult<L, I>[] = [];
  private batchOpen = false;
  private readonly hit: CoverageHit = { delta: -1, image: -1 };
  readonly stats: LayerMapStats = { fullRebuilds: 0, appends: 0 };

  // --- Historic layers ---

  /** Starts a batch of inserts and removals; only one batch may be open at a time. */
  batchUpdate(): LayerMapBatch<L> {
    assert(!this.batchOpen, "a layer map batch is already open: flush it first");
    this.batchOpen = true;
    // The batch's view of the final state: identity -> layer (present) or null (absent).
    const overlay = new Map<string, L | null>();
    let flushed = false;
    const isPresent = (identity: string): boolean => {
      const pending = overlay.get(identity);
      return pending === undefined ? this.layersByIdentity.has(identity) : pending !== null;
    };
    const flush = (): void => {
      assert(!flushed, "layer map batch flushed twice");
      flushed = true;
      this.batchOpen = false;
      this.applyBatch(overlay);
    };
    return {
      insert: (layer: L) => {
        assert(!flushed, "insert into a flushed batch");
        const identity = layerIdentity(layer.name);
        assertLayer(!isPresent(identity), layer.name, "is already in the layer map");
        overlay.set(identity, layer);
      },
      remove: (layer: L) => {
        assert(!flushed, "remove from a flushed batch");
        const identity = layerIdentity(layer.name);
        assertLayer(isPresent(identity), layer.name, "is not in the layer map");
        if (this.layersByIdentity.has(identity)) overlay.set(identity, null);
        else overlay.delete(identity);
      },
      flush,
      [Symbol.dispose]: () => {
        if (!flushed) flush();
      },
    };
  }

  get historicCount(): number {
    return this.layers.length;
  }

  /** Every historic layer, in coverage order (LSN start first). */
  historicLayers(): Iterable<L> {
    this.layersHandedOut = true;
    return this.layers;
  }

  /** The L0 deltas (whole key space), in coverage order. */
  l0Layers(): L[] {
    return this.l0.slice();
  }

  /** The historic layer with this name (bare, or with a generation suffix, which is ignored). */
  findByName(text: string): L | undefined {
    return this.layersByIdentity.get(layerIdentity(parseLayerFileName(text).name));
  }

  // --- In-memory layers ---

  get openLayer(): I | null {
    return this.open;
  }

  /** The frozen layers, oldest first. */
  get frozenLayers(): readonly I[] {
    return this.frozen;
  }

  /** Installs the open layer (only when there is none) or clears it. */
  setOpenLayer(layer: I | null): void {
    if (layer === null) {
      this.open = null;
      this.openResult = null;
      return;
    }
    assert(this.open === null, "an open layer is already set: freeze it first");
    const newestFrozen = this.frozen[this.frozen.length - 1];
    assert(
      newestFrozen === undefined || newestFrozen.lsnEnd <= layer.lsnStart,
      "the open layer must start at or after the newest frozen layer's end",
    );
    assert(
      this.coverage.lsnEndMax <= layer.lsnStart,
      "the open layer must start at or after every historic layer's end",
    );
    this.open = layer;
    this.openResult = { layer, isInMemory: true, lsnFloor: layer.lsnStart };
  }

  /** Moves the open layer to the end of the frozen queue; its end LSN must be set already. */
  freezeOpenLayer(): void {
    const layer = this.open;
    assert(layer !== null, "no open layer to freeze");
    assert(layer.lsnEnd !== LSN_MAX, "a frozen layer needs its end LSN");
    assert(layer.lsnStart < layer.lsnEnd, "a frozen layer needs a non-empty LSN range");
    this.frozen = [...this.frozen, layer];
    this.frozenResults = [...this.frozenResults, this.openResult!];
    this.open = null;
    this.openResult = null;
  }

  /** Drops the oldest frozen layer once it was flushed; asserts `layer` is that one. */
  removeOldestFrozen(layer: I): void {
    assert(this.frozen.length > 0, "no frozen layer to remove");
    assert(this.frozen[0] === layer, "only the oldest frozen layer can be removed");
    this.frozen = this.frozen.slice(1);
    this.frozenResults = this.frozenResults.slice(1);
  }

  // --- Reads ---

  /**
   * The layer to read next for `key` below `endLsn` (exclusive), and the lowest LSN to read from
   * it, with Neon's semantics: the newest in-memory layer that starts below `endLsn` if any; else
   * the top image and the top delta layer at (key, endLsn - 1), the image preferred when it is at
   * least as new as the delta or sits right below `endLsn`; a delta above an image is read down to
   * just above the image.
   */
  search(key: Key, endLsn: Lsn): SearchResult<L, I> | null {
    const inMemory = this.inMemoryBelow(endLsn);
    if (inMemory !== null) return inMemory;
    if (endLsn <= 0) return null;
    const hit = this.hit;
    this.coverage.query(key, (endLsn - 1) as Lsn, hit);
    return this.selectHistoric(hit.delta, hit.image, endLsn);
  }

  /**
   * `search` for every key of `keyRange` at once: the results in key order, each with the keys it
   * serves; keys no layer holds are left out, and neighbouring pieces with the same layer and floor
   * are merged.
   */
  rangeSearch(keyRange: KeyRange, endLsn: Lsn): RangeSearchResult<L, I>[] {
    if (keyRange.start >= keyRange.end) return [];
    const inMemory = this.inMemoryBelow(endLsn);
    if (inMemory !== null) return [{ ...inMemory, keyRange }];
    if (endLsn <= 0) return [];
    const results: RangeSearchResult<L, I>[] = [];
    for (const piece of this.coverage.queryRange(keyRange, (endLsn - 1) as Lsn)) {
      const found = this.selectHistoric(piece.delta, piece.image, endLsn);
      if (found === null) continue;
      const last = results[results.length - 1];
      if (
        last !== undefined &&
        last.layer === found.layer &&
        last.lsnFloor === found.lsnFloor &&
        last.keyRange.end === piece.keyRange.start
      ) {
        results[results.length - 1] = {
          ...last,
          keyRange: { start: last.keyRange.start, end: piece.keyRange.end },
        };
      } else {
        results.push({ ...found, keyRange: piece.keyRange });
      }
    }
    return results;
  }

  /**
   * Neon's `count_deltas`: the height of the tallest stack of reimage-worthy delta layers over any
   * key of `keyRange` within `lsnRange`, counting no higher than `limit`. At each piece of the key
   * range it takes the top delta (by lsn.end) and recurses below that delta's LSN start. An L0
   * counts only where the range it is counted over is the whole key space: L0s are compaction's
   * business, not image creation's.
   */
  countDeltas(keyRange: KeyRange, lsnRange: LsnRange, limit = Number.POSITIVE_INFINITY): number {
    if (lsnRange.start >= lsnRange.end || keyRange.start >= keyRange.end || limit <= 0) return 0;
    let stackedMax = 0;
    for (const piece of this.deltaPieces(keyRange, lsnRange.end - 1)) {
      const delta = piece.delta;
      if (this.coverage.lsnEndOf(delta) <= lsnRange.start) continue;
      const counted = this.isReimageWorthy(this.layers[delta]!.name, keyRange) ? 1 : 0;
      const below = { start: lsnRange.start, end: this.coverage.lsnStartOf(delta) as Lsn };
      const stacked = counted + this.countDeltas(piece.keyRange, below, limit - counted);
      if (stacked > stackedMax) stackedMax = stacked;
      if (stackedMax >= limit) break;
    }
    return stackedMax;
  }

  /** Visibility of every historic layer for reads at `readPoints` (see `visibility.ts`). */
  getVisibility(readPoints: readonly Lsn[]): VisibilityResult<L> {
    return getVisibility(this.layers, readPoints);
  }

  // --- Internals ---

  /** The result for the newest in-memory layer that starts below `endLsn`, or null. */
  private inMemoryBelow(endLsn: number): SearchResult<L, I> | null {
    const open = this.open;
    if (open !== null && open.lsnStart < endLsn) return this.checkedInMemory(this.openResult!);
    const frozen = this.frozen;
    for (let i = frozen.length - 1; i >= 0; i--) {
      if (frozen[i]!.lsnStart < endLsn) return this.checkedInMemory(this.frozenResults[i]!);
    }
    return null;
  }

  private checkedInMemory(result: SearchResult<L, I>): SearchResult<L, I> {
    const oldest = this.frozen[0] ?? this.open!;
    assert(
      this.coverage.lsnEndMax <= oldest.lsnStart,
      "in-memory layers must be newer than every historic layer",
    );
    return result;
  }

  /** Neon's `select_layer` for historic layers (indices into `layers`, or -1). */
  private selectHistoric(delta: number, image: number, endLsn: number): SearchResult<L, I> | null {
    const coverage = this.coverage;
    if (image >= 0) {
      const imageLsn = coverage.lsnStartOf(image);
      if (
        delta < 0 ||
        coverage.lsnEndOf(image) >= coverage.lsnEndOf(delta) ||
        imageLsn + 1 === endLsn
      ) {
        return this.historicResults[image]!;
      }
      const deltaStart = coverage.lsnStartOf(delta);
      if (deltaStart > imageLsn) return this.historicResults[delta]!;
      // The delta straddles the image: read it down to just above the image.
      return { layer: this.layers[delta]!, isInMemory: false, lsnFloor: (imageLsn + 1) as Lsn };
    }
    if (delta < 0) return null;
    return this.historicResults[delta]!;
  }

  /** The delta coverage of `keyRange` at `lsn`: pieces with a delta, neighbours merged. */
  private deltaPieces(keyRange: KeyRange, lsn: number): { keyRange: KeyRange; delta: number }[] {
    const pieces: { keyRange: KeyRange; delta: number }[] = [];
    for (const piece of this.coverage.queryRange(keyRange, lsn as Lsn)) {
      const last = pieces[pieces.length - 1];
      if (last !== undefined && last.delta === piece.delta) {
        last.keyRange = { start: last.keyRange.start, end: piece.keyRange.end };
      } else {
        pieces.push({ keyRange: piece.keyRange, delta: piece.delta });
      }
    }
    return pieces.filter((piece) => piece.delta >= 0);
  }

  /** Neon's `is_reimage_worthy`: every non-L0 delta; an L0 only over the whole key space. */
  private isReimageWorthy(name: LayerName, keyRange: KeyRange): boolean {
    if (!isL0Name(name)) return true;
    return keyRange.start === KEY_MIN && keyRange.end === KEY_MAX;
  }

  private applyBatch(overlay: Map<string, L | null>): void {
    const inserted: L[] = [];
    let removedOrReplaced = false;
    for (const [identity, layer] of overlay) {
      if (this.layersByIdentity.has(identity)) removedOrReplaced = true;
      if (layer !== null && !this.layersByIdentity.has(identity)) inserted.push(layer);
    }
    if (overlay.size === 0) return;
    inserted.sort(compareLayers);
    const insertedNames = inserted.map((layer) => layer.name);
    if (!removedOrReplaced && this.coverage.canAppend(insertedNames)) {
      this.appendLayers(inserted, insertedNames);
    } else {
      this.rebuild(overlay);
    }
  }

  private appendLayers(inserted: readonly L[], insertedNames: readonly LayerName[]): void {
    for (const layer of inserted) this.layersByIdentity.set(layerIdentity(layer.name), layer);
    this.coverage.append(insertedNames);
    if (this.layersHandedOut) {
      this.layers = this.layers.slice();
      this.layersHandedOut = false;
    }
    for (const layer of inserted) {
      this.layers.push(layer);
      if (isL0Name(layer.name)) this.l0.push(layer);
    }
    // Existing layers keep their indices, so their shared results stay valid.
    pushResults(this.historicResults, inserted);
    assert(this.coverage.layerCount === this.layers.length, "coverage and layers out of step");
    this.stats.appends++;
  }

  private rebuild(overlay: Map<string, L | null>): void {
    for (const [identity, layer] of overlay) {
      if (layer === null) this.layersByIdentity.delete(identity);
      else this.layersByIdentity.set(identity, layer);
    }
    const layers = [...this.layersByIdentity.values()].sort(compareLayers);
    this.coverage = HistoricCoverage.build(layers.map((layer) => layer.name));
    this.layers = layers;
    this.layersHandedOut = false;
    this.historicResults = pushResults([], layers);
    this.l0 = layers.filter((layer) => isL0Name(layer.name));
    assert(this.coverage.layerCount === layers.length, "coverage and layers out of step");
    this.stats.fullRebuilds++;
  }
}
