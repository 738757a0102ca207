/**
 * `ingest/generator_e2e/*`: WAL from the built-in generator through the ingest loop into the
 * timeline and out to durable L0 files (checkpoint included): MB/s of WAL and records/s, per
 * workload.
 */
import { generateTenantId, generateTimelineId } from "../src/ids.ts";
import { TenantManager } from "../src/tenant/tenant_manager.ts";
import { WORKLOADS } from "../src/wal_generator/wal_generator.ts";
import { benchDirectory, benchIo, emit, quick } from "./bench_util.ts";

for (const workload of WORKLOADS) {
  using dir = benchDirectory();
  const manager = new TenantManager({ workdir: dir.path, io: benchIo() });
  await manager.load();
  const tenant = (await manager.setLocation(generateTenantId(), {
    mode: "AttachedSingle",
    tenantConf: { checkpoint_distance: 64 * 1024 * 1024, compaction_period: "0s", gc_period: "0s" },
  }))!;
  const timelineId = generateTimelineId();
  const { timeline } = await tenant.createTimeline({ newTimelineId: timelineId });
  const transactions = quick ? 5000 : workload === "pgbench" ? 40_000 : 80_000;
  const started = performance.now();
  const loop = await tenant.attachWalSource(timelineId, {
    kind: "generator",
    params: { workload, size: workload === "pgbench" ? 10 : 100_000, transactions, seed: 1 },
  });
  await loop.finished();
  await timeline.checkpoint();
  const seconds = (performance.now() - started) / 1000;
  emit(`ingest/generator_e2e/${workload}`, loop.progress.walBytes / 1e6 / seconds, "MB/s", {
    records_per_s: Math.round(loop.progress.records / seconds),
    transactions,
    wal_mb: Math.round(loop.progress.walBytes / 1e6),
    l0_layers: timeline.layers.l0Layers().length,
  });
  await manager.shutdown({ flush: false });
}
