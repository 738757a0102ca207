/**
 * Finding a timeline's index in remote storage: the one with the highest generation at or below
 * ours (Neon's download_index_part: own generation first, then the newest older one). An index
 * of a higher generation belongs to a newer attachment elsewhere and is never ours to read.
 */
import { compareGenerations, type Generation, type TenantId, type TimelineId } from "../ids.ts";
import { type IndexPart, parseIndexPart } from "./index_part.ts";
import {
  parseIndexGeneration,
  parseObjectGeneration,
  tenantPrefix,
  timelinePrefix,
  timelinesPrefix,
} from "./remote_paths.ts";
import {
  type RemoteObject,
  type RemoteStorage,
  type RetryOptions,
  withRetries,
} from "./remote_storage.ts";

/** Index lookups at start-up and attach retry transient errors this many times, then fail. */
const METADATA_ATTEMPTS_MAX = 8;

export interface LatestIndex {
  readonly index: IndexPart | null;
  readonly generation: Generation;
  readonly indexBytes: number;
  /** Every object under the timeline's prefix when it was looked up. */
  readonly objects: readonly RemoteObject[];
}

/** Picks, among object keys under a timeline prefix, the newest index at or below `atMost`. */
export function pickIndexKey(
  keys: readonly string[],
  prefix: string,
  atMost: Generation,
): { key: string; generation: Generation } | null {
  let best: { key: string; generation: Generation } | null = null;
  for (const key of keys) {
    const generation = parseIndexGeneration(key.slice(prefix.length));
    if (generation === undefined) continue;
    if (compareGenerations(generation, atMost) > 0) continue;
    if (!best || compareGenerations(generation, best.generation) > 0) best = { key, generation };
  }
  return best;
}

export async function findLatestIndex(
  storage: RemoteStorage,
  tenantId: TenantId,
  timelineId: TimelineId,
  atMost: Generation,
  options: RetryOptions = {},
): Promise<LatestIndex> {
  const prefix = timelinePrefix(tenantId, timelineId);
  const signal = options.signal;
  const retry: RetryOptions = { attemptsMax: METADATA_ATTEMPTS_MAX, ...options };
  const objects = await withRetries(() => storage.list(prefix, signal), retry);
  const best = pickIndexKey(
    objects.map((o) => o.key),
    prefix,
    atMost,
  );
  if (!best) return { index: null, generation: null, indexBytes: 0, objects };
  const data = await withRetries(() => storage.download(best.key, signal), retry);
  return {
    index: parseIndexPart(data, best.key),
    generation: best.generation,
    indexBytes: data.length,
    objects,
  };
}

export async function downloadLatestIndex(
  storage: RemoteStorage,
  tenantId: TenantId,
  timelineId: TimelineId,
  atMost: Generation,
  signal?: AbortSignal,
): Promise<{ index: IndexPart; generation: Generation } | null> {
  const found = await findLatestIndex(storage, tenantId, timelineId, atMost, { signal });
  return found.index ? { index: found.index, generation: found.generation } : null;
}

/** The timeline ids a tenant has in remote storage. */
export async function listRemoteTimelines(
  storage: RemoteStorage,
  tenantId: TenantId,
  signal?: AbortSignal,
): Promise<TimelineId[]> {
  const prefix = timelinesPrefix(tenantId);
  const objects = await withRetries(() => storage.list(prefix, signal), {
    signal,
    attemptsMax: METADATA_ATTEMPTS_MAX,
  });
  const ids = new Set<string>();
  for (const object of objects) {
    const id = object.key.slice(prefix.length).split("/")[0];
    if (id && /^[0-9a-f]{32}$/.test(id)) ids.add(id);
  }
  return [...ids] as TimelineId[];
}

/**
 * The highest generation any object of the tenant carries (null if none does): a new attachment
 * must take a higher one, or it would overwrite the objects of an earlier attachment.
 */
export async function highestRemoteGeneration(
  storage: RemoteStorage,
  tenantId: TenantId,
  signal?: AbortSignal,
): Promise<number | null> {
  const objects = await withRetries(() => storage.list(tenantPrefix(tenantId), signal), {
    signal,
    attemptsMax: METADATA_ATTEMPTS_MAX,
  });
  let highest: number | null = null;
  for (const object of objects) {
    const generation = parseObjectGeneration(object.key);
    if (generation !== null && (highest === null || generation > highest)) highest = generation;
  }
  return highest;
}
