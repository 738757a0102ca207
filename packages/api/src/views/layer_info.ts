/**
 * Neon's LayerMapInfo JSON for a timeline (`GET …/layer`).
 */
import { formatLsn, type Timeline } from "@pageserver/engine";

export function layerMapInfo(
  timeline: Timeline,
  isRemote: (fileName: string) => boolean = () => false,
): Record<string, unknown> {
  const inMemory: unknown[] = [];
  for (const frozen of timeline.layers.frozenLayers) {
    inMemory.push({
      kind: "Frozen",
      lsn_start: formatLsn(frozen.lsnStart),
      lsn_end: formatLsn(frozen.lsnEnd),
    });
  }
  const open = timeline.layers.openLayer;
  if (open) inMemory.push({ kind: "Open", lsn_start: formatLsn(open.lsnStart) });
  const historic: unknown[] = [];
  for (const layer of timeline.layers.historicLayers()) {
    const accessStats = {
      access_time: layer.access.lastAccessMs ?? layer.access.residentSinceMs,
      residence_time: layer.access.residentSinceMs,
      visible: layer.visibility === "Visible",
    };
    const common = {
      layer_file_name: layer.nameText,
      layer_file_size: layer.fileSize,
      lsn_start: formatLsn(layer.name.lsnRange.start),
      remote: !layer.resident || isRemote(layer.fileName),
      access_stats: accessStats,
    };
    if (layer.kind === "image") historic.push({ kind: "Image", ...common });
    else
      historic.push({
        kind: "Delta",
        ...common,
        lsn_end: formatLsn(layer.name.lsnRange.end),
        l0: layer.isL0,
      });
  }
  return { in_memory_layers: inMemory, historic_layers: historic };
}
