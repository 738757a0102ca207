/**
 * A timeline's historic layers as the console sees them: sorted in Neon's load order (LSN start,
 * key start, LSN end, key end, kind), each with what is costly to derive computed once — its tier
 * (L0, L1 delta, image), its compaction level (identify_levels), its visibility for the
 * timeline's read points, its key range decoded into PostgreSQL terms.
 *
 * # Caching
 * The layer map replaces its historic-layer array on every change and never mutates it, so the
 * array's identity is the snapshot's version: a snapshot is rebuilt only when the array (or the
 * set of read points: child branch points and leases) changes, at most once per change however
 * many clients page through it. Access statistics and residence change without the array
 * changing (every read; eviction and download) and are therefore read live when a row is served,
 * not cached.
 */
import {
  compareLayerNames,
  describeKey,
  formatKey,
  identifyLevel,
  type LayerName,
  type Lsn,
  type PersistentLayer,
  parseLayerName,
  type Tenant,
  type Timeline,
} from "@pageserver/engine";

export type LayerTier = "L0" | "L1" | "image";

/** One historic layer, as `layerMap.get` and the live subscription send it. */
export interface LayerRow {
  /** The bare Neon layer name (unique within the timeline). */
  readonly name: string;
  /** The local file name (with the generation suffix). */
  readonly fileName: string;
  readonly kind: "delta" | "image";
  readonly tier: LayerTier;
  /** Compaction level from identify_levels (0 = newest), null if no clean cut reaches it. */
  readonly level: number | null;
  readonly keyStart: string;
  readonly keyEnd: string;
  readonly keyStartText: string;
  readonly keyEndText: string;
  readonly lsnStart: number;
  /** Exclusive; an image at x has the range [x, x+1). */
  readonly lsnEnd: number;
  readonly sizeBytes: number;
  readonly generation: number | null;
  /** "evicted": only in remote storage, downloaded on the next read that needs it. */
  readonly residence: "resident" | "evicted";
  readonly visibility: "Visible" | "Covered";
  readonly lastAccessMs: number | null;
  readonly residentSinceMs: number;
  readonly accessCount: number;
}

/** The open and frozen in-memory layers: they span the whole key space. */
export interface InMemoryRow {
  readonly kind: "open" | "frozen";
  readonly lsnStart: number;
  /** Exclusive; for the open layer, last_record_lsn + 1. */
  readonly lsnEnd: number;
  readonly sizeBytes: number;
}

type StaticRow = Omit<LayerRow, "residence" | "lastAccessMs" | "residentSinceMs" | "accessCount">;

export interface LayerSnapshot {
  readonly layers: readonly PersistentLayer[];
  readonly rows: readonly StaticRow[];
  readonly byName: ReadonlyMap<string, number>;
  readonly totalBytes: number;
  readonly builtAtMs: number;
}

interface CacheEntry {
  source: Iterable<PersistentLayer>;
  readPointsKey: string;
  snapshot: LayerSnapshot;
}

const cache = new WeakMap<Timeline, CacheEntry>();

/** A snapshot's layers with live access statistics. */
export function layerRow(snapshot: LayerSnapshot, index: number): LayerRow {
  const layer = snapshot.layers[index]!;
  const access = layer.access;
  return {
    ...snapshot.rows[index]!,
    residence: layer.resident ? "resident" : "evicted",
    lastAccessMs: access.lastAccessMs,
    residentSinceMs: access.residentSinceMs,
    accessCount: access.accessCount,
  };
}

/** Branch points of children and leased LSNs: where reads below the tip can happen. */
function readPoints(tenant: Tenant, timeline: Timeline): Lsn[] {
  const points = tenant.children(timeline.timelineId).map((child) => child.ancestorLsn);
  for (const lease of timeline.gc.validLeases()) points.push(lease.lsn);
  return points.sort((a, b) => a - b);
}

/** Level of each layer, walking identify_levels down from disk_consistent_lsn + 1. */
function assignLevels(
  timeline: Timeline,
  layers: readonly PersistentLayer[],
): Map<PersistentLayer, number> {
  const levels = new Map<PersistentLayer, number>();
  const config = timeline.config;
  const fanout = Math.max(config.compactionThreshold, 2);
  let end = (timeline.diskConsistentLsn + 1) as Lsn;
  let height = config.checkpointDistanceBytes;
  const shapes = layers.map((layer) => ({
    layer,
    kind: layer.kind,
    keyRange: layer.name.keyRange,
    lsnRange: layer.name.lsnRange,
    fileSize: layer.fileSize,
  }));
  for (let number = 0; number < 64; number++) {
    let level: ReturnType<typeof identifyLevel<(typeof shapes)[number]>>;
    try {
      level = identifyLevel(shapes, end, height * 1.75);
    } catch {
      break; // A delta crosses `end`: no clean cut below here.
    }
    if (!level) break;
    for (const shape of level.layers) if (!levels.has(shape.layer)) levels.set(shape.layer, number);
    end = level.lsnRange.start;
    height = Math.min(height * fanout, Number.MAX_SAFE_INTEGER);
  }
  return levels;
}

function staticRow(
  layer: PersistentLayer,
  level: number | null,
  visibility: "Visible" | "Covered",
): StaticRow {
  const { keyRange, lsnRange } = layer.name;
  return {
    name: layer.nameText,
    fileName: layer.fileName,
    kind: layer.kind,
    tier: layer.kind === "image" ? "image" : layer.isL0 ? "L0" : "L1",
    level,
    keyStart: formatKey(keyRange.start),
    keyEnd: formatKey(keyRange.end),
    keyStartText: describeKey(keyRange.start).text,
    keyEndText: describeKey(keyRange.end).text,
    lsnStart: lsnRange.start,
    lsnEnd: lsnRange.end,
    sizeBytes: layer.fileSize,
    generation: layer.generation,
    visibility,
  };
}

function buildSnapshot(timeline: Timeline, points: readonly Lsn[]): LayerSnapshot {
  const layers = [...timeline.layers.historicLayers()];
  const visibility = new Map<PersistentLayer, "Visible" | "Covered">();
  const visibilityResult = timeline.layers.getVisibility([...points, timeline.lastRecordLsn]);
  for (const entry of visibilityResult.entries) visibility.set(entry.layer, entry.visibility);
  const levels = assignLevels(timeline, layers);
  layers.sort((a, b) => compareLayerNames(a.name, b.name));
  const rows: StaticRow[] = new Array(layers.length);
  const byName = new Map<string, number>();
  let totalBytes = 0;
  for (let i = 0; i < layers.length; i++) {
    const layer = layers[i]!;
    rows[i] = staticRow(layer, levels.get(layer) ?? null, visibility.get(layer) ?? "Visible");
    byName.set(layer.nameText, i);
    totalBytes += layer.fileSize;
  }
  return { layers, rows, byName, totalBytes, builtAtMs: Date.now() };
}

/** The current snapshot of a timeline's historic layers (rebuilt only when they changed). */
export function layerSnapshot(tenant: Tenant, timeline: Timeline): LayerSnapshot {
  const source = timeline.layers.historicLayers();
  const points = readPoints(tenant, timeline);
  const readPointsKey = points.join(",");
  const cached = cache.get(timeline);
  if (cached && cached.source === source && cached.readPointsKey === readPointsKey)
    return cached.snapshot;
  const snapshot = buildSnapshot(timeline, points);
  cache.set(timeline, { source, readPointsKey, snapshot });
  return snapshot;
}

/** The index of the first row strictly after the layer named `cursor` in snapshot order. */
export function rowIndexAfter(snapshot: LayerSnapshot, cursor: string): number {
  const exact = snapshot.byName.get(cursor);
  if (exact !== undefined) return exact + 1;
  const name: LayerName = parseLayerName(cursor);
  let low = 0;
  let high = snapshot.layers.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (compareLayerNames(snapshot.layers[middle]!.name, name) <= 0) low = middle + 1;
    else high = middle;
  }
  return low;
}

export function inMemoryRows(timeline: Timeline): InMemoryRow[] {
  const rows: InMemoryRow[] = timeline.layers.frozenLayers.map((layer) => ({
    kind: "frozen",
    lsnStart: layer.lsnStart,
    lsnEnd: layer.lsnEnd,
    sizeBytes: layer.size,
  }));
  const open = timeline.layers.openLayer;
  if (open) {
    rows.push({
      kind: "open",
      lsnStart: open.lsnStart,
      lsnEnd: Math.max(open.lsnStart + 1, timeline.lastRecordLsn + 1),
      sizeBytes: open.size,
    });
  }
  return rows;
}
