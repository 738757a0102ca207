/**
 * Image layer creation: for each key partition whose stack of deltas since its last image has
 * reached `image_creation_threshold` (or when forced), materialise every key of the partition at
 * one LSN into an image layer. Reads then stop at the image instead of walking the deltas, and GC
 * can drop the deltas below it.
 *
 * The LSN is disk_consistent_lsn: an image must not be newer than the on-disk layers it sits on,
 * or it would be a "future layer" after a restart.
 */
import path from "node:path";
import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import { collectKeyspace } from "../datadir/datadir_reader.ts";
import { MissingKeyError, ShuttingDownError } from "../errors.ts";
import type { Key } from "../key/key.ts";
import { GET_VECTORED_KEYS_MAX } from "../limits.ts";
import type { Lsn } from "../lsn.ts";
import { LayerFileWriter } from "../storage_layer/layer_file_writer.ts";
import type { LayerName } from "../storage_layer/layer_name.ts";
import type { PersistentLayer } from "../storage_layer/persistent_layer.ts";
import type { Timeline } from "../timeline/timeline.ts";
import { failpoint } from "../util/failpoints.ts";
import { encodeValue, imageValue } from "../value/value.ts";
import type { CompactionStep } from "./l0_compaction.ts";
import { type KeyPartition, partitionKeys, partitionKeyspace } from "./partitioning.ts";

/** The newest image LSN over any part of the range, or -1. */
function lastImageLsn(timeline: Timeline, partition: KeyPartition): number {
  let newest = -1;
  for (const layer of timeline.layers.historicLayers()) {
    if (layer.kind !== "image") continue;
    const { keyRange, lsnRange } = layer.name;
    if (
      keyRange.start < partition.hull.end &&
      partition.hull.start < keyRange.end &&
      lsnRange.start > newest
    ) {
      newest = lsnRange.start;
    }
  }
  return newest;
}

function needsImage(timeline: Timeline, partition: KeyPartition, lsn: Lsn): boolean {
  const since = lastImageLsn(timeline, partition);
  if (since >= lsn) return false;
  const threshold = timeline.config.imageCreationThreshold;
  const depth = timeline.layers.countDeltas(
    partition.hull,
    { start: (since + 1) as Lsn, end: (lsn + 1) as Lsn },
    threshold,
  );
  return depth >= threshold;
}

async function writeImageLayer(
  timeline: Timeline,
  partition: KeyPartition,
  lsn: Lsn,
  signal: AbortSignal,
): Promise<PersistentLayer | null> {
  const name: LayerName = {
    kind: "image",
    keyRange: partition.hull,
    lsnRange: { start: lsn, end: (lsn + 1) as Lsn },
  };
  if (timeline.layers.findByName(formatName(timeline, name))) return null;
  const writer = new LayerFileWriter({
    directory: timeline.directory,
    tenantId: timeline.tenantId,
    timelineId: timeline.timelineId,
    kind: "image",
    lsnRange: name.lsnRange,
  });
  try {
    let batch: Key[] = [];
    const flushBatch = async () => {
      const values = await timeline.getVectored(batch, lsn);
      for (const key of batch) {
        const value = values.get(key)!;
        if (value instanceof MissingKeyError) continue; // The key does not exist at this LSN.
        if (value instanceof Error) throw value;
        writer.put(key, lsn, encodeValue(imageValue(value)), true);
      }
      batch = [];
      await yieldToEventLoop();
      if (signal.aborted)
        throw new ShuttingDownError("image layer creation cancelled", timeline.context());
    };
    for (const key of partitionKeys(partition)) {
      batch.push(key);
      if (batch.length === GET_VECTORED_KEYS_MAX) await flushBatch();
    }
    if (batch.length > 0) await flushBatch();
    await failpoint("image-layer-before-finish");
    const layer = timeline.newLayer(name, 0);
    const summary = await writer.finish(
      path.join(timeline.directory, layer.fileName),
      name.keyRange,
    );
    return timeline.newLayer(name, summary.fileSize);
  } catch (error) {
    writer.abort();
    throw error;
  }
}

function formatName(timeline: Timeline, name: LayerName): string {
  return timeline.newLayer(name, 0).nameText;
}

/** Creates the image layers that are due (all of them when forced); returns the step or null. */
export async function createImageLayers(
  timeline: Timeline,
  force: boolean,
  signal: AbortSignal,
): Promise<CompactionStep | null> {
  const lsn = timeline.diskConsistentLsn;
  const keyspace = await collectKeyspace(timeline, lsn);
  const partitions = partitionKeyspace(keyspace, timeline.config.compactionTargetSizeBytes);
  const created: PersistentLayer[] = [];
  for (const partition of partitions) {
    if (!force && !needsImage(timeline, partition, lsn)) continue;
    const layer = await writeImageLayer(timeline, partition, lsn, signal);
    if (layer) {
      timeline.addLayers([layer]);
      created.push(layer);
    }
  }
  if (created.length === 0) return null;
  return {
    kind: "image",
    layersIn: 0,
    layersOut: created.length,
    bytesIn: 0,
    bytesOut: created.reduce((sum, l) => sum + l.fileSize, 0),
  };
}
