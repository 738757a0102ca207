/**
 * Operations that both surfaces offer (the `/v1` HTTP API and the tRPC router), with the checks
 * and messages in one place so the two answer alike.
 */
import {
  ConflictError,
  formatLsn,
  InvalidArgumentError,
  type Lsn,
  type PersistentLayer,
  type TenantManager,
  type Timeline,
  UnavailableError,
} from "@pageserver/engine";

/** Neon refuses a lease below the applied or the planned GC cutoff. */
export function checkLeasable(timeline: Timeline, lsn: Lsn): void {
  const applied = timeline.latestGcCutoffLsn;
  const planned = timeline.gc.plannedCutoff;
  if (lsn < applied)
    throw new InvalidArgumentError(
      `cannot lease LSN ${formatLsn(lsn)}: below the applied GC cutoff ${formatLsn(applied)}`,
    );
  if (planned !== null && lsn < planned)
    throw new InvalidArgumentError(
      `cannot lease LSN ${formatLsn(lsn)}: below the planned GC cutoff ${formatLsn(planned)}`,
    );
}

/** The timeline's layer of that file name (with or without generation suffix), or a 400. */
export function layerByName(tenantId: string, timeline: Timeline, name: string): PersistentLayer {
  const layer = timeline.layers.findByName(name);
  if (!layer)
    throw new InvalidArgumentError(`Layer ${tenantId}/${timeline.timelineId}/${name} not found`);
  return layer;
}

/**
 * Evicts one resident layer on request. Returns false when there is nothing to do (not
 * resident, or it became unevictable meanwhile); refuses when the local file is the only copy.
 */
export async function evictLayerOnRequest(
  tenants: TenantManager,
  timeline: Timeline,
  layer: PersistentLayer,
): Promise<boolean> {
  if (!layer.resident) return false;
  if (!tenants.remote)
    throw new InvalidArgumentError(
      `cannot evict layer ${layer.nameText}: no remote_storage is configured, the local file is its only copy`,
    );
  if (!timeline.remote)
    throw new UnavailableError(
      `cannot evict layer ${layer.nameText}: timeline ${timeline.timelineId} is not connected to remote storage yet`,
    );
  if (!layer.uploaded)
    throw new ConflictError(
      `cannot evict layer ${layer.nameText}: no uploaded index_part.json names it yet`,
    );
  return timeline.evictLayer(layer);
}

/** Downloads one evicted layer. Returns false when it was resident already. */
export async function downloadLayerOnRequest(
  timeline: Timeline,
  layer: PersistentLayer,
): Promise<boolean> {
  if (layer.resident) return false;
  await timeline.ensureResident(layer);
  return true;
}
