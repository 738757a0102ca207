/**
 * Finding a timeline's index in remote storage: the one with the highest generation at or below
 * ours (Neon's download_index_part: own generation first, then the newest older one).
 */
import { compareGenerations, type Generation, type TenantId, type TimelineId } from "../ids.ts";
import { type IndexPart, parseIndexPart } from "./index_part.ts";
import { parseIndexGeneration, timelinePrefix, timelinesPrefix } from "./remote_paths.ts";
import { type RemoteStorage, withRetries } from "./remote_storage.ts";

export async function downloadLatestIndex(
  storage: RemoteStorage,
  tenantId: TenantId,
  timelineId: TimelineId,
  atMost: Generation,
  signal?: AbortSignal,
): Promise<{ index: IndexPart; generation: Generation } | null> {
  const prefix = timelinePrefix(tenantId, timelineId);
  const objects = await withRetries(() => storage.list(prefix, signal), { signal, attemptsMax: 8 });
  let best: { key: string; generation: Generation } | null = null;
  for (const object of objects) {
    const generation = parseIndexGeneration(object.key.slice(prefix.length));
    if (generation === undefined) continue;
    if (atMost !== null && compareGenerations(generation, atMost) > 0) continue;
    if (!best || compareGenerations(generation, best.generation) > 0)
      best = { key: object.key, generation };
  }
  if (!best) return null;
  const key = best.key;
  const data = await withRetries(() => storage.download(key, signal), { signal, attemptsMax: 8 });
  return { index: parseIndexPart(data, key), generation: best.generation };
}

/** The timeline ids a tenant has in remote storage. */
export async function listRemoteTimelines(
  storage: RemoteStorage,
  tenantId: TenantId,
  signal?: AbortSignal,
): Promise<TimelineId[]> {
  const prefix = timelinesPrefix(tenantId);
  const objects = await withRetries(() => storage.list(prefix, signal), { signal, attemptsMax: 8 });
  const ids = new Set<string>();
  for (const object of objects) {
    const id = object.key.slice(prefix.length).split("/")[0];
    if (id && /^[0-9a-f]{32}$/.test(id)) ids.add(id);
  }
  return [...ids] as TimelineId[];
}
