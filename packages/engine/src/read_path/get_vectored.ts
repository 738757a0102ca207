/**
 * The read path: GetPage@LSN for up to 32 keys at once.
 *
 * For each key we keep a continuation LSN `end` (exclusive; starts at lsn+1) and walk layers
 * newest-first: the layer map's `search(key, end)` names the layer holding the newest data below
 * `end` and the floor under which that layer has nothing for the key; we collect the key's
 * versions in [floor, end) newest-first and stop at an image or a will_init record, else continue
 * with `end = floor`. Keys that reach the same layer in a round are served by one visit of it.
 * When a timeline has nothing more, inherited keys continue in the ancestor at
 * `min(end, ancestor_lsn + 1)`. Then the collected records are applied oldest-first on the base.
 *
 * An image layer covering a key that it does not hold means the key did not exist at that LSN
 * (image layers hold every key of their range): the walk stops there, as Neon's does.
 */
import { assert } from "../assert.ts";
import { MissingKeyError, type PageserverError, WalRedoError } from "../errors.ts";
import type { TenantId, TimelineId } from "../ids.ts";
import { formatKey, isInherited, type Key } from "../key/key.ts";
import type { LayerMap } from "../layer_map/layer_map.ts";
import {
  ANCESTOR_DEPTH_MAX,
  GET_VECTORED_KEYS_MAX,
  REDO_RECORDS_PER_VALUE_MAX,
} from "../limits.ts";
import { formatLsn, type Lsn } from "../lsn.ts";
import { applyRecords, type RedoRecord } from "../redo/walredo.ts";
import type { InMemoryLayer } from "../storage_layer/inmemory_layer.ts";
import type { PersistentLayer } from "../storage_layer/persistent_layer.ts";
import { decodeValue, type NeonWalRecord, ValueTag } from "../value/value.ts";

/** What the read path needs of a timeline. */
export interface ReadableTimeline {
  readonly tenantId: TenantId;
  readonly timelineId: TimelineId;
  readonly layers: LayerMap<PersistentLayer, InMemoryLayer>;
  readonly ancestor: ReadableTimeline | null;
  readonly ancestorLsn: Lsn;
  /** Makes a layer's file local before it is read (on-demand download); resolves at once if it is. */
  ensureResident?(layer: PersistentLayer): Promise<void> | null;
}

/** Counters a caller may pass in to learn what a read cost. */
export interface ReadStats {
  layersVisited: number;
  valuesRead: number;
  recordsApplied: number;
}

export type GetVectoredResult = Map<Key, Buffer | PageserverError>;

class KeyRead {
  readonly key: Key;
  end: Lsn;
  timeline: ReadableTimeline;
  depth = 0;
  image: Buffer | null = null;
  /** Records newest first, as collected. */
  readonly records: RedoRecord[] = [];
  done = false;
  /** The key does not exist at the LSN (an image layer covering it lacks it). */
  absent = false;

  constructor(key: Key, end: Lsn, timeline: ReadableTimeline) {
    this.key = key;
    this.end = end;
    this.timeline = timeline;
  }

  addValue(lsn: Lsn, encoded: Buffer): void {
    if (encoded[0] === ValueTag.Image) {
      this.image = encoded.subarray(1);
      this.done = true;
      return;
    }
    const value = decodeValue(encoded);
    const record = (value as { record: NeonWalRecord }).record;
    this.records.push({ lsn, record });
    if ((record.type === "Postgres" || record.type === "Test") && record.willInit) this.done = true;
    if (this.records.length > REDO_RECORDS_PER_VALUE_MAX) {
      throw new WalRedoError(`more than ${REDO_RECORDS_PER_VALUE_MAX} records to apply`, {
        key: formatKey(this.key),
      });
    }
  }
}

interface Visit {
  readonly read: KeyRead;
  readonly floor: Lsn;
}

/**
 * A missing key is an expected answer on the hot path (a page PostgreSQL extended but never
 * wrote reads as zeros), not a bug: its message names the key and LSN, and capturing a stack
 * through the read's async frames would cost more than the read itself.
 */
function missing(read: KeyRead, requestLsn: Lsn, why: string): MissingKeyError {
  const stackTraceLimit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return newMissingKeyError(read, requestLsn, why);
  } finally {
    Error.stackTraceLimit = stackTraceLimit;
  }
}

function newMissingKeyError(read: KeyRead, requestLsn: Lsn, why: string): MissingKeyError {
  return new MissingKeyError(
    `could not find data for key ${formatKey(read.key)} at LSN ${formatLsn(requestLsn)}: ${why}`,
    {
      tenantId: read.timeline.tenantId,
      timelineId: read.timeline.timelineId,
      key: formatKey(read.key),
      lsn: formatLsn(requestLsn),
    },
  );
}

/** The value of a key whose walk is over, or why there is none. */
function finish(
  read: KeyRead,
  requestLsn: Lsn,
  stats: ReadStats | undefined,
): Buffer | PageserverError {
  if (read.absent && read.records.length === 0)
    return missing(read, requestLsn, "not in the covering image layer");
  if (read.records.length === 0) {
    return read.image ?? missing(read, requestLsn, "no layer holds it");
  }
  const oldest = read.records[read.records.length - 1]!.record;
  const oldestInits = (oldest.type === "Postgres" || oldest.type === "Test") && oldest.willInit;
  if (read.image === null && !oldestInits) {
    return missing(read, requestLsn, `found ${read.records.length} records but no base image`);
  }
  read.records.reverse();
  if (stats) stats.recordsApplied += read.records.length;
  try {
    return applyRecords(read.key, requestLsn, read.image, read.records);
  } catch (error) {
    return error as PageserverError;
  }
}

/** Reads one historic layer's versions for the keys sent to it. */
function visitPersistent(
  layer: PersistentLayer,
  visits: Visit[],
  stats: ReadStats | undefined,
): void {
  const reader = layer.reader();
  const found: number[] = [];
  for (const { read, floor } of visits) {
    found.length = 0;
    reader.visitVersions(read.key, floor, read.end, (lsn, offset, length) => {
      found.push(lsn, offset, length);
      return true;
    });
    if (found.length === 0 && layer.kind === "image") read.absent = true;
    for (let i = 0; i < found.length; i += 3) {
      read.addValue(found[i]! as Lsn, reader.readBlob(found[i + 1]!, found[i + 2]!));
    }
    if (stats) stats.valuesRead += found.length / 3;
    read.end = floor;
  }
}

function visitInMemory(layer: InMemoryLayer, visits: Visit[], stats: ReadStats | undefined): void {
  for (const { read, floor } of visits) {
    layer.visitVersions(read.key, floor, read.end, (lsn, value) => {
      read.addValue(lsn, value);
      if (stats) stats.valuesRead++;
      return true;
    });
    read.end = floor;
  }
}

/** Moves a key whose timeline has nothing more to its ancestor, or ends its walk. */
function fallThrough(read: KeyRead): boolean {
  const { ancestor, ancestorLsn } = read.timeline;
  if (ancestor === null || !isInherited(read.key)) return false;
  read.depth++;
  assert(read.depth <= ANCESTOR_DEPTH_MAX, "ancestor chain too deep");
  if (read.end > ancestorLsn + 1) read.end = (ancestorLsn + 1) as Lsn;
  read.timeline = ancestor;
  return true;
}

/** One round: route every pending key to the layer that holds its newest data below `end`. */
function route(pending: KeyRead[]): Map<PersistentLayer | InMemoryLayer, Visit[]> {
  const byLayer = new Map<PersistentLayer | InMemoryLayer, Visit[]>();
  for (const read of pending) {
    let found = read.timeline.layers.search(read.key, read.end);
    while (found === null && fallThrough(read))
      found = read.timeline.layers.search(read.key, read.end);
    if (found === null) {
      read.done = true;
      continue;
    }
    assert(found.lsnFloor < read.end, "layer map returned a floor at or above the search LSN");
    let visits = byLayer.get(found.layer);
    if (!visits) {
      visits = [];
      byLayer.set(found.layer, visits);
    }
    visits.push({ read, floor: found.lsnFloor });
  }
  return byLayer;
}

/**
 * Reconstructs `keys` (at most 32, distinct) at `lsn` (inclusive). Each key maps to its value or
 * to the error that prevented it (MissingKeyError, WalRedoError, CorruptionError...).
 */
export async function getVectored(
  timeline: ReadableTimeline,
  keys: readonly Key[],
  lsn: Lsn,
  stats?: ReadStats,
): Promise<GetVectoredResult> {
  assert(
    keys.length <= GET_VECTORED_KEYS_MAX,
    `at most ${GET_VECTORED_KEYS_MAX} keys per vectored read`,
  );
  const reads = keys.map((key) => new KeyRead(key, (lsn + 1) as Lsn, timeline));
  const failed = new Map<Key, PageserverError>();
  let pending = reads;
  while (pending.length > 0) {
    for (const [layer, visits] of route(pending)) {
      if (stats) stats.layersVisited++;
      try {
        if ("reader" in layer) {
          // Loop: an eviction may slip in between a download and this continuation.
          const owner = visits[0]!.read.timeline;
          while (!layer.resident) {
            const download = owner.ensureResident?.(layer);
            if (!download) break;
            await download;
          }
          layer.recordAccess();
          visitPersistent(layer, visits, stats);
        } else {
          visitInMemory(layer, visits, stats);
        }
      } catch (error) {
        for (const { read } of visits) {
          read.done = true;
          failed.set(read.key, error as PageserverError);
        }
      }
    }
    pending = pending.filter((read) => !read.done && !read.absent);
  }
  const result: GetVectoredResult = new Map();
  for (const read of reads) result.set(read.key, failed.get(read.key) ?? finish(read, lsn, stats));
  return result;
}

/** Reconstructs one key; throws its error. */
export async function getValue(
  timeline: ReadableTimeline,
  key: Key,
  lsn: Lsn,
  stats?: ReadStats,
): Promise<Buffer> {
  const value = (await getVectored(timeline, [key], lsn, stats)).get(key)!;
  if (value instanceof Error) throw value;
  return value;
}
