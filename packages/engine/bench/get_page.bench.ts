/**
 * `get_page/*`: reconstructing one page at the latest LSN when it sits under an image plus 1, 10
 * or 100 delta records (ClearVisibilityMapFlags on a visibility-map page, applied by the in-process
 * redo), with the records spread over that many L0 layers (each visit is a layer-map search and an
 * index lookup) — throughput and p50/p99 latency per reconstruct. `get_page/image_only` is the
 * floor: an image in an image layer.
 */
import { generateTenantId, generateTimelineId } from "../src/ids.ts";
import { relBlockKey } from "../src/key/key.ts";
import type { RelTag } from "../src/key/rel_tag.ts";
import type { Lsn } from "../src/lsn.ts";
import { BOOTSTRAP_INITDB_LSN } from "../src/tenant/tenant.ts";
import { TenantManager } from "../src/tenant/tenant_manager.ts";
import { imageValue, recordValue } from "../src/value/value.ts";
import { benchDirectory, benchIo, emit, percentile, quick } from "./bench_util.ts";

const VM: RelTag = { spcNode: 1663, dbNode: 5, relNode: 16384, forkNum: 2 };
const PAGE = Buffer.alloc(8192, 0xff);
PAGE.writeUInt16LE(24, 12);
PAGE.writeUInt16LE(8192, 14);

async function measure(deltas: number): Promise<void> {
  using dir = benchDirectory();
  const manager = new TenantManager({ workdir: dir.path, io: benchIo() });
  await manager.load();
  const tenant = (await manager.setLocation(generateTenantId(), {
    mode: "AttachedSingle",
    tenantConf: { compaction_period: "0s", gc_period: "0s" },
  }))!;
  const { timeline } = await tenant.createTimeline({ newTimelineId: generateTimelineId() });
  const key = relBlockKey(VM, 0);
  let lsn = BOOTSTRAP_INITDB_LSN as number;
  lsn += 8;
  timeline.ingest([{ key, lsn: lsn as Lsn, value: imageValue(PAGE) }], lsn as Lsn);
  await timeline.checkpoint();
  for (let i = 0; i < deltas; i++) {
    lsn += 8;
    const record = recordValue({
      type: "ClearVisibilityMapFlags",
      newHeapBlkno: i * 4,
      oldHeapBlkno: null,
      flags: 1,
    });
    timeline.ingest([{ key, lsn: lsn as Lsn, value: record }], lsn as Lsn);
    await timeline.checkpoint();
  }
  const iterations = quick ? 2000 : deltas >= 100 ? 5000 : 20000;
  const samples = new Float64Array(iterations);
  const at = lsn as Lsn;
  for (let i = 0; i < 200; i++) await timeline.get(key, at); // warm up: page cache, JIT
  const started = performance.now();
  for (let i = 0; i < iterations; i++) {
    const t = performance.now();
    await timeline.get(key, at);
    samples[i] = performance.now() - t;
  }
  const seconds = (performance.now() - started) / 1000;
  samples.sort();
  const name = deltas === 0 ? "get_page/image_only" : `get_page/image_plus_${deltas}_deltas`;
  emit(name, iterations / seconds, "reconstructs/s", {
    p50_us: Math.round(percentile(samples, 0.5) * 1000 * 10) / 10,
    p99_us: Math.round(percentile(samples, 0.99) * 1000 * 10) / 10,
    layers: timeline.layers.historicCount,
  });
  await manager.shutdown({ flush: false });
}

for (const deltas of [0, 1, 10, 100]) await measure(deltas);
