/**
 * `compaction/l0_to_l1`: MB/s of L0 input merged into L1 deltas (read, k-way merge, write,
 * fsync, swap). Neon measured about 90 MB/s. `read_amp/*`: layers visited per GetPage at the
 * latest LSN with 20 L0s piled up, after L0 → L1 compaction, and after image layers too (Neon's
 * goal: under 30 L0s).
 */

import { createImageLayers } from "../src/compaction/image_layers.ts";
import { compactLevel0 } from "../src/compaction/l0_compaction.ts";
import { DatadirModification, DatadirState } from "../src/datadir/datadir_modification.ts";
import { generateTenantId, generateTimelineId } from "../src/ids.ts";
import type { Key } from "../src/key/key.ts";
import { relBlockKey } from "../src/key/key.ts";
import type { RelTag } from "../src/key/rel_tag.ts";
import type { Lsn } from "../src/lsn.ts";
import { TenantManager } from "../src/tenant/tenant_manager.ts";
import type { Timeline } from "../src/timeline/timeline.ts";
import { benchDirectory, benchIo, emit, quick, rng } from "./bench_util.ts";

const MiB = 1024 * 1024;
const REL: RelTag = { spcNode: 1663, dbNode: 5, relNode: 16384, forkNum: 0 };
const L0_COUNT = 20;
const L0_BYTES = (quick ? 2 : 16) * MiB;
const BLOCKS = quick ? 2000 : 20000;

async function buildTimeline(
  directory: string,
): Promise<{ timeline: Timeline; shutdown: () => Promise<void> }> {
  const manager = new TenantManager({ workdir: directory, io: benchIo() });
  await manager.load();
  const tenant = (await manager.setLocation(generateTenantId(), {
    mode: "AttachedSingle",
    tenantConf: {
      checkpoint_distance: 1024 * MiB,
      compaction_threshold: L0_COUNT,
      compaction_upper_limit: L0_COUNT,
      compaction_target_size: 64 * MiB,
      compaction_period: "0s",
      gc_period: "0s",
    },
  }))!;
  const { timeline } = await tenant.createTimeline({ newTimelineId: generateTimelineId() });
  const random = rng(7);
  const state = new DatadirState();
  const m = new DatadirModification(state);
  let lsn = timeline.lastRecordLsn as number;
  m.at((lsn += 8) as Lsn).putDatabaseCreation(1663, 5, Buffer.alloc(512));
  m.putRelationCreation(REL, BLOCKS);
  timeline.ingest(m.take(), lsn as Lsn);
  const page = Buffer.alloc(8192, 3);
  for (let l0 = 0; l0 < L0_COUNT; l0++) {
    const pages = Math.floor(L0_BYTES / 8200);
    for (let i = 0; i < pages; i += 100) {
      for (let j = 0; j < 100; j++)
        m.at((lsn += 8) as Lsn).putRelationPageImage(REL, Math.floor(random() * BLOCKS), page);
      timeline.ingest(m.take(), lsn as Lsn);
    }
    await timeline.checkpoint();
  }
  return { timeline, shutdown: () => manager.shutdown({ flush: false }) };
}

async function readAmplification(timeline: Timeline): Promise<number> {
  const random = rng(9);
  let visited = 0;
  const reads = 500;
  for (let i = 0; i < reads; i++) {
    const stats = { layersVisited: 0, valuesRead: 0, recordsApplied: 0 };
    await timeline.getVectored(
      [relBlockKey(REL, Math.floor(random() * BLOCKS)) as Key],
      timeline.lastRecordLsn,
      stats,
    );
    visited += stats.layersVisited;
  }
  return visited / reads;
}

using dir = benchDirectory();
const { timeline, shutdown } = await buildTimeline(dir.path);
const l0s = timeline.layers.l0Layers();
const inputBytes = l0s.reduce((sum, l) => sum + l.fileSize, 0);
emit("read_amp/20_l0s", await readAmplification(timeline), "layers/read", { l0s: l0s.length });
const started = performance.now();
const step = await compactLevel0(timeline, true, new AbortController().signal);
const seconds = (performance.now() - started) / 1000;
emit("compaction/l0_to_l1", inputBytes / 1e6 / seconds, "MB/s", {
  neon_mb_s: 90,
  input_mb: Math.round(inputBytes / 1e6),
  layers_in: step?.layersIn,
  layers_out: step?.layersOut,
});
emit("read_amp/after_l0_compaction", await readAmplification(timeline), "layers/read", {
  layers: timeline.layers.historicCount,
});
await createImageLayers(timeline, true, new AbortController().signal);
emit("read_amp/after_image_layers", await readAmplification(timeline), "layers/read", {
  layers: timeline.layers.historicCount,
});
await shutdown();
