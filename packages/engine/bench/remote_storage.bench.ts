/**
 * `remote/*`: remote storage throughput and the cost of an on-demand download.
 *
 * - `remote/upload/<backend>` and `remote/download/<backend>` (MB/s): whole layer-sized objects
 *   through the RemoteStorage interface, one at a time and 8 at a time (the upload queue's
 *   parallelism), for the local-directory backend and for S3 against s3rver. s3rver runs in a
 *   child process so that its work does not share our event loop.
 * - `remote/get_page/resident` and `remote/get_page/on_demand_download/<backend>` (µs): one
 *   GetPage@LSN whose layer is local, against one whose layer was just evicted and must be
 *   downloaded first (the layer size is in the line: the download is of the whole file).
 *
 * `--quick` shrinks objects and iterations to a smoke run.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { createInterface } from "node:readline";
import { TestS3Server } from "../../../test/harness/s3_server.ts";
import { DatadirModification, DatadirState } from "../src/datadir/datadir_modification.ts";
import { generateTenantId, generateTimelineId } from "../src/ids.ts";
import { relBlockKey } from "../src/key/key.ts";
import type { RelTag } from "../src/key/rel_tag.ts";
import type { Lsn } from "../src/lsn.ts";
import { DeletionQueue } from "../src/remote/deletion_queue.ts";
import { LocalFsRemoteStorage } from "../src/remote/local_fs_storage.ts";
import { type RemoteStorage, withRetries } from "../src/remote/remote_storage.ts";
import { S3RemoteStorage } from "../src/remote/s3_storage.ts";
import { TenantManager } from "../src/tenant/tenant_manager.ts";
import { silentLogger } from "../src/util/logger.ts";
import { benchDirectory, benchIo, emit, percentile, quick } from "./bench_util.ts";

async function startS3Child(): Promise<{ storage: S3RemoteStorage; stop(): void }> {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", import.meta.filename, "--s3-server-child"],
    { stdio: ["pipe", "pipe", "inherit"] },
  );
  const lines = createInterface({ input: child.stdout! });
  const port = await new Promise<number>((resolve, reject) => {
    lines.once("line", (line) => resolve((JSON.parse(line) as { port: number }).port));
    child.once("exit", (code) => reject(new Error(`s3rver child exited with ${code}`)));
  });
  const storage = new S3RemoteStorage({
    bucketName: "pageserver",
    bucketRegion: "us-east-1",
    endpoint: `http://127.0.0.1:${port}`,
    prefixInBucket: "bench",
    credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" },
  });
  return {
    storage,
    stop() {
      storage.destroy();
      child.stdin!.end();
    },
  };
}

/** Moves `objects` files of `objectBytes` up and back down, `concurrency` at a time. */
async function throughput(
  backend: string,
  storage: RemoteStorage,
  directory: string,
  objectBytes: number,
  objects: number,
  concurrency: number,
): Promise<void> {
  const source = path.join(directory, `source-${objectBytes}`);
  writeFileSync(source, randomBytes(objectBytes));
  const keys = Array.from({ length: objects }, (_, i) => `throughput/${concurrency}/${i}`);
  const inBatches = async (work: (key: string, i: number) => Promise<unknown>) => {
    const started = performance.now();
    for (let at = 0; at < keys.length; at += concurrency)
      await Promise.all(keys.slice(at, at + concurrency).map((key, j) => work(key, at + j)));
    return (performance.now() - started) / 1000;
  };
  const extra = { concurrency, objects, object_bytes: objectBytes };
  const up = await inBatches((key) => storage.upload(key, { file: source }));
  emit(`remote/upload/${backend}`, (objects * objectBytes) / 1e6 / up, "MB/s", extra);
  const down = await inBatches((key, i) =>
    storage.downloadToFile(key, path.join(directory, `download-${i}`)),
  );
  emit(`remote/download/${backend}`, (objects * objectBytes) / 1e6 / down, "MB/s", extra);
  // s3rver's DeleteObjects sometimes answers 500 when deletes race in one directory: retry.
  await withRetries(() => storage.delete(keys), { attemptsMax: 10 });
}

const REL: RelTag = { spcNode: 1663, dbNode: 5, relNode: 16384, forkNum: 0 };

/** GetPage latency with the layer resident, and with it evicted before every read. */
async function getPageLatency(
  backend: string,
  storage: RemoteStorage,
  directory: string,
  measureResident: boolean,
): Promise<void> {
  const workdir = path.join(directory, `getpage-${backend}`);
  const deletionQueue = new DeletionQueue(workdir, storage, silentLogger);
  const manager = new TenantManager({
    workdir,
    io: benchIo(),
    remote: { storage, deletionQueue },
  });
  await manager.load();
  const tenant = (await manager.setLocation(generateTenantId(), {
    mode: "AttachedSingle",
    tenantConf: { compaction_period: "0s", gc_period: "0s" },
  }))!;
  const { timeline } = await tenant.createTimeline({ newTimelineId: generateTimelineId() });
  // One L0 of `pages` 8 KiB pages: reading any of them needs exactly that layer.
  const pages = quick ? 256 : 1024;
  const m = new DatadirModification(new DatadirState());
  let lsn = timeline.lastRecordLsn + 8;
  m.at(lsn as Lsn).putDatabaseCreation(REL.spcNode, REL.dbNode, Buffer.from("relmap"));
  m.putRelationCreation(REL, 0);
  for (let block = 0; block < pages; block++) {
    lsn += 8;
    m.at(lsn as Lsn).putRelationPageImage(REL, block, randomBytes(8192));
  }
  timeline.ingest(m.take(), lsn as Lsn);
  await timeline.checkpoint();
  await timeline.remote!.waitForIdle();
  const layer = [...timeline.layers.historicLayers()][0]!;
  const at = lsn as Lsn;
  const key = (i: number) => relBlockKey(REL, i % pages);
  const extra = { layer_bytes: layer.fileSize };
  if (measureResident) {
    const iterations = quick ? 500 : 5000;
    for (let i = 0; i < 200; i++) await timeline.get(key(i), at);
    const samples = new Float64Array(iterations);
    for (let i = 0; i < iterations; i++) {
      const t = performance.now();
      await timeline.get(key(i * 7), at);
      samples[i] = performance.now() - t;
    }
    samples.sort();
    emit("remote/get_page/resident", percentile(samples, 0.5) * 1000, "us", {
      p99_us: Math.round(percentile(samples, 0.99) * 1000),
      ...extra,
    });
  }
  const iterations = quick ? 5 : 30;
  const samples = new Float64Array(iterations);
  for (let i = 0; i < iterations; i++) {
    if (!(await timeline.evictLayer(layer))) throw new Error("the layer could not be evicted");
    const t = performance.now();
    await timeline.get(key(i * 13), at);
    samples[i] = performance.now() - t;
  }
  samples.sort();
  emit(`remote/get_page/on_demand_download/${backend}`, percentile(samples, 0.5) * 1000, "us", {
    p99_us: Math.round(percentile(samples, 0.99) * 1000),
    iterations,
    ...extra,
  });
  await manager.shutdown({ flush: false });
  await deletionQueue.shutdown();
}

async function main(): Promise<void> {
  using dir = benchDirectory();
  const objectBytes = (quick ? 4 : 32) * 1024 * 1024;
  const objects = quick ? 4 : 16;
  const local = new LocalFsRemoteStorage(path.join(dir.path, "remote"));
  const s3 = await startS3Child();
  try {
    for (const [backend, storage] of [
      ["local-fs", local],
      ["s3", s3.storage],
    ] as const) {
      for (const concurrency of [1, 8])
        await throughput(backend, storage, dir.path, objectBytes, objects, concurrency);
    }
    await getPageLatency("local-fs", local, dir.path, true);
    await getPageLatency("s3", s3.storage, dir.path, false);
  } finally {
    s3.stop();
  }
}

// Child mode: serve s3rver until stdin closes, printing the port first.
if (process.argv.includes("--s3-server-child")) {
  const server = await TestS3Server.start();
  process.stdout.write(`${JSON.stringify({ port: server.port })}\n`);
  process.stdin.resume();
  process.stdin.on("end", () => {
    void server.destroy().then(() => process.exit(0));
  });
} else {
  await main();
}
