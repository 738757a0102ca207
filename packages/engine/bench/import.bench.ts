/**
 * Import speed of the real PostgreSQL 15 initdb data directory in shared/data (a zstd tarball,
 * decompressed once to a temp file, never copied into the repo):
 *
 *   - `import/initdb_tarball`: importDatadir from the tar into a fresh timeline, end to end
 *     (inventory of the tar's headers, image layers written and fsynced, the control-file L0
 *     flushed). MB = 10^6 bytes of imported data (relation and SLRU pages, relmaps, pg_control),
 *     not of the tar (which also holds a 16 MB WAL segment that is skipped).
 *
 * The median of several rounds is reported. `--quick` (or BENCH_QUICK=1) runs fewer rounds.
 */
import { writeFileSync } from "node:fs";
import path from "node:path";
import { readInitdbTar } from "../../../test/harness/shared_data.ts";
import { generateTenantId, generateTimelineId } from "../src/ids.ts";
import { importDatadir } from "../src/import/import_datadir.ts";
import { TenantManager } from "../src/tenant/tenant_manager.ts";
import { benchDirectory, benchIo, emit, median, quick } from "./bench_util.ts";

const ROUNDS = quick ? 2 : 7;

using scratch = benchDirectory();
const tarFile = path.join(scratch.path, "initdb.tar");
const tar = readInitdbTar();
writeFileSync(tarFile, tar);

const seconds: number[] = [];
let last: Awaited<ReturnType<typeof importDatadir>> | null = null;
for (let round = 0; round <= ROUNDS; round++) {
  const workdir = path.join(scratch.path, `ps-${round}`);
  const manager = new TenantManager({ workdir, io: benchIo() });
  await manager.load();
  const tenant = (await manager.setLocation(generateTenantId(), {
    mode: "AttachedSingle",
    tenantConf: {},
  }))!;
  const { timeline } = await tenant.createTimeline({ newTimelineId: generateTimelineId() });
  const t0 = process.hrtime.bigint();
  last = await importDatadir(timeline, { tarFile });
  const elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
  if (round > 0) seconds.push(elapsed); // round 0 warms up
  await manager.shutdown({ flush: false });
}
const s = median(seconds);
emit("import/initdb_tarball", last!.bytes / 1e6 / s, "MB/s", {
  seconds: Number(s.toFixed(3)),
  bytes: last!.bytes,
  tar_bytes: tar.length,
  databases: last!.databases,
  relations: last!.relations,
  blocks: last!.blocks,
  image_layers: last!.imageLayers,
  skipped: last!.skipped,
  best_MB_s: Number((last!.bytes / 1e6 / Math.min(...seconds)).toFixed(1)),
});
