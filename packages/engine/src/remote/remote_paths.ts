/**
 * Neon's object layout in remote storage (reference §8):
 *
 *     tenants/<tenant_id>[-NNCC]/timelines/<timeline_id>/<layer name>[-<gen:08x>]
 *     tenants/<tenant_id>[-NNCC]/timelines/<timeline_id>/index_part.json[-<gen:08x>]
 *
 * We serve unsharded tenants, so there is no shard suffix.
 */
import {
  asGeneration,
  type Generation,
  generationSuffix,
  type TenantId,
  type TimelineId,
} from "../ids.ts";
import { formatLayerName, type LayerName } from "../storage_layer/layer_name.ts";

export const INDEX_PART_FILE_NAME = "index_part.json";

export function tenantPrefix(tenantId: TenantId): string {
  return `tenants/${tenantId}/`;
}

export function timelinesPrefix(tenantId: TenantId): string {
  return `tenants/${tenantId}/timelines/`;
}

export function timelinePrefix(tenantId: TenantId, timelineId: TimelineId): string {
  return `tenants/${tenantId}/timelines/${timelineId}/`;
}

function withGeneration(name: string, generation: Generation): string {
  return generation === null ? name : `${name}-${generationSuffix(generation)}`;
}

export function remoteLayerKey(
  tenantId: TenantId,
  timelineId: TimelineId,
  name: LayerName,
  generation: Generation,
): string {
  return timelinePrefix(tenantId, timelineId) + withGeneration(formatLayerName(name), generation);
}

export function remoteIndexKey(
  tenantId: TenantId,
  timelineId: TimelineId,
  generation: Generation,
): string {
  return timelinePrefix(tenantId, timelineId) + withGeneration(INDEX_PART_FILE_NAME, generation);
}

/** The generation of an `index_part.json[-xxxxxxxx]` object name, or undefined if it is not one. */
export function parseIndexGeneration(objectName: string): Generation | undefined {
  if (objectName === INDEX_PART_FILE_NAME) return null;
  const match = /^index_part\.json-([0-9a-f]{8})$/.exec(objectName);
  return match ? asGeneration(Number.parseInt(match[1]!, 16)) : undefined;
}

/**
 * The generation suffix of any object key (`…/<name>-xxxxxxxx`), or null when it has none. A
 * layer name without a suffix ends in a 16-digit LSN, so only a final 8-digit token counts.
 */
export function parseObjectGeneration(key: string): number | null {
  const match = /-([0-9a-f]{8})$/.exec(key.slice(key.lastIndexOf("/") + 1));
  return match ? Number.parseInt(match[1]!, 16) : null;
}
