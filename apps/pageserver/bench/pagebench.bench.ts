/**
 * `pagebench/*`: GetPage@latest-LSN against a real pageserver process, driven by the real
 * `pagebench get-page-latest-lsn` CLI in a second process (client and server each get a core of
 * this 2-core machine, as in machine-limits.md's cross-process loopback numbers).
 *
 * Setup: a fresh pageserver; one tenant with one timeline fed by the built-in WAL generator as
 * fast as it goes (uniform workload over 131,072 blocks = 1 GiB of relation, two rewrites per
 * block on average so ~86 % of the blocks hold data, the rest read as never-written zero pages),
 * then a checkpoint and a forced compaction (L0 → L1, image layers), as Neon's benchmark settles
 * its timeline. Background compaction and GC are off so nothing moves while we measure. `--quick`: 2,048 blocks and 2 s runs, a smoke check.
 *
 * Runs (each after a short warm-up of the same shape, which JIT-compiles both sides):
 *   - `pagebench/latency_1_client`      1 client, queue depth 1 (Neon: ~4.5k req/s, mean 0.22 ms,
 *                                       p99 0.75 ms)
 *   - `pagebench/throughput_8_clients`  8 clients, queue depth 1 (Neon: ~30k req/s per pageserver)
 *   - `pagebench/throughput_8_clients_qd8` 8 clients, 8 pipelined requests each
 * Each prints requests/s as its value with the latency percentiles (µs) beside it, plus a
 * `…/mean_latency` line whose value is the mean in µs. Setup costs are reported too.
 */
import { spawn } from "node:child_process";
import path from "node:path";
import {
  makeWorkdir,
  REPO_ROOT,
  removeWorkdir,
  startPageserver,
} from "../../../test/harness/pageserver_process.ts";

const quick = process.argv.includes("--quick") || process.env.BENCH_QUICK === "1";
const PAGEBENCH = path.join(REPO_ROOT, "apps/pageserver/src/cli/pagebench.ts");
const BLOCKS = quick ? 1024 : 131_072;
const TRANSACTIONS = BLOCKS * 2;
const RUNTIME = quick ? "1s" : "15s";
const WARMUP = quick ? "0.3s" : "3s";

function emit(bench: string, value: number, unit: string, extra: Record<string, unknown> = {}) {
  process.stdout.write(
    `${JSON.stringify({ bench, value: Number(value.toPrecision(6)), unit, ...extra })}\n`,
  );
}

const randomId = () =>
  [...crypto.getRandomValues(new Uint8Array(16))]
    .map((b) => b.toString(16).padStart(2, "0"))
    .join("");

interface PagebenchOutput {
  total: { request_count: number };
  requests_per_second: number;
  latency_us: Record<string, number>;
  errors: number;
}

function runPagebench(args: string[]): Promise<PagebenchOutput> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", PAGEBENCH, "get-page-latest-lsn", ...args],
      { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"] },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
    });
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
    });
    child.on("exit", (code) => {
      if (code !== 0) reject(new Error(`pagebench exited with ${code}: ${stderr}`));
      else resolve(JSON.parse(stdout) as PagebenchOutput);
    });
  });
}

const workdir = makeWorkdir("pagebench-");
const server = await startPageserver({
  workdir,
  config: { page_cache_size: 16384, max_file_descriptors: 500 },
});
try {
  const tenant = randomId();
  const timeline = randomId();
  const check = (what: string, response: { status: number; body: unknown }) => {
    if (response.status >= 300)
      throw new Error(`${what}: ${response.status} ${JSON.stringify(response.body)}`);
  };
  check(
    "create tenant",
    await server.api("PUT", `/v1/tenant/${tenant}/location_config`, {
      mode: "AttachedSingle",
      tenant_conf: { compaction_period: "0s", gc_period: "0s" },
    }),
  );
  check(
    "create timeline",
    await server.api("POST", `/v1/tenant/${tenant}/timeline`, { new_timeline_id: timeline }),
  );
  const base = `/v1/tenant/${tenant}/timeline/${timeline}`;
  const ingestStarted = performance.now();
  check(
    "attach generator",
    await server.api("PUT", `${base}/wal_source`, {
      kind: "generator",
      params: { workload: "uniform", size: BLOCKS, transactions: TRANSACTIONS, rate: 0, seed: 1 },
    }),
  );
  let progress: { state: string; walBytes: number; error?: string };
  for (;;) {
    progress = (await server.api<typeof progress>("GET", `${base}/wal_source`)).body;
    if (progress.state === "finished") break;
    if (progress.state === "failed" || progress.state === "stopped")
      throw new Error(`ingest ${progress.state}: ${progress.error ?? ""}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  const ingestSeconds = (performance.now() - ingestStarted) / 1000;
  emit("pagebench/setup_ingest", progress.walBytes / 1e6 / ingestSeconds, "MB/s", {
    wal_mb: Math.round(progress.walBytes / 1e6),
    seconds: Number(ingestSeconds.toFixed(1)),
  });
  // Settle the timeline as Neon's benchmark does (checkpoint, then compact): L0s merged into
  // L1 deltas and image layers created, so a read at the latest LSN finds its page in one layer.
  const checkpointStarted = performance.now();
  check("checkpoint", await server.api("PUT", `${base}/checkpoint`));
  check(
    "compact",
    await server.api(
      "PUT",
      `${base}/compact?force_l0_compaction=true&force_image_layer_creation=true`,
    ),
  );
  const detail = (
    await server.api<{ current_logical_size: number; current_physical_size: number }>("GET", base)
  ).body;
  const layers = (await server.api<{ historic_layers: unknown[] }>("GET", `${base}/layer`)).body;
  emit("pagebench/setup_compact", (performance.now() - checkpointStarted) / 1000, "s", {
    logical_size_mib: Math.round(detail.current_logical_size / 2 ** 20),
    physical_size_mib: Math.round(detail.current_physical_size / 2 ** 20),
    layers: layers.historic_layers.length,
  });

  const common = [
    `${tenant}/${timeline}`,
    "--mgmt-api-endpoint",
    server.httpUrl,
    "--page-service-connstring",
    `postgres://postgres@127.0.0.1:${server.pgPort}`,
  ];
  const runs = [
    { name: "latency_1_client", clients: 1, queueDepth: 1 },
    { name: "throughput_8_clients", clients: 8, queueDepth: 1 },
    { name: "throughput_8_clients_qd8", clients: 8, queueDepth: 8 },
  ];
  for (const run of runs) {
    const shape = ["--num-clients", String(run.clients), "--queue-depth", String(run.queueDepth)];
    await runPagebench([...common, ...shape, "--runtime", WARMUP]);
    const result = await runPagebench([...common, ...shape, "--runtime", RUNTIME]);
    const latency = result.latency_us;
    const percentiles = {
      mean_us: latency.mean,
      p50_us: latency.p50,
      p95_us: latency.p95,
      p99_us: latency.p99,
      p99_9_us: latency["p99.9"],
      requests: result.total.request_count,
      clients: run.clients,
      queue_depth: run.queueDepth,
      runtime: RUNTIME,
    };
    emit(`pagebench/${run.name}`, result.requests_per_second, "req/s", percentiles);
    emit(`pagebench/${run.name}/mean_latency`, latency.mean!, "us", { p99_us: latency.p99 });
  }
} finally {
  await server.stop("SIGTERM");
  removeWorkdir(workdir);
}
