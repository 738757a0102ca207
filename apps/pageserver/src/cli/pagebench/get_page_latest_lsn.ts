/**
 * `pagebench get-page-latest-lsn`: random GetPage@latest-LSN load against a page service, after
 * Neon's pagebench command of the same name (reference §15), with its flags and its JSON output.
 *
 * 1. Targets are `<tenant_id>/<timeline_id>` arguments, or every timeline of every tenant the
 *    management API lists. Each target's keyspace (`GET …/keyspace`) is reduced to relation
 *    blocks (keyspace.ts); `--keyspace-cache FILE` keeps it between runs.
 * 2. `--num-clients` connections per target each open a `pagestream_v3` and keep
 *    `--queue-depth` GetPages in flight (pipelined on the one connection). Each request reads a
 *    block drawn uniformly from the keyspace's relation blocks, at `request_lsn = u64::MAX`
 *    (with probability `--req-latest-probability`, else the keyspace LSN) and
 *    `not_modified_since =` the keyspace LSN. The client checks every v3 echo.
 * 3. The clock starts once every client is connected; each latency is send → response. After
 *    `--runtime` (or on SIGINT) nothing more is sent or counted.
 * 4. With `--per-client-rate R`, request i of a client is due at start + i/R; a request more than
 *    one period late is skipped and counted as missed, as Neon's pagebench does.
 *
 * Output (stdout, JSON): Neon's `{"total": {request_count, latency_mean, latency_percentiles:
 * {p95, p99, p99.9, p99.99}}}` with humantime strings (we add p50), and beside it our numbers:
 * requests_per_second, the same latencies in µs, missed, errors, and the run's parameters.
 * A pagestream Error response is counted; any error makes the exit code 1 (a benchmark of errors
 * measures nothing), with the first message on stderr.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { LSN_MAX, type Lsn, parseTenantId, parseTimelineId } from "@pageserver/engine";
import {
  CliError,
  fetchJson,
  parseCliArgs,
  parseCount,
  parseDurationMs,
  parseNumber,
  UsageError,
} from "../cli_support.ts";
import {
  PageServiceClient,
  type PageServiceConnectOptions,
  type Pagestream,
  parseConnectionString,
} from "../page_service_client.ts";
import {
  type BlockRun,
  BlockSampler,
  type KeyspaceJson,
  type RelationBlocks,
  relationBlocks,
  seededRandom,
} from "./keyspace.ts";
import { formatHumantime, LatencyHistogram } from "./latency_histogram.ts";

const MGMT_API_DEFAULT = "http://localhost:9898";
const PAGE_SERVICE_DEFAULT = "postgres://postgres@localhost:64000";
/** How long in-flight requests may take to drain after the run before we drop the connection. */
const DRAIN_TIMEOUT_MS = 10_000;
const QUEUE_DEPTH_MAX = 1024;
const CLIENTS_MAX = 1024;

export interface GetPageLatestLsnOptions {
  readonly mgmtApiEndpoint: string;
  readonly pageService: PageServiceConnectOptions;
  readonly jwt: string | null;
  readonly numClients: number;
  readonly queueDepth: number;
  /** null: until SIGINT. */
  readonly runtimeMs: number | null;
  readonly perClientRate: number | null;
  readonly reqLatestProbability: number;
  readonly targets: readonly string[];
  readonly limitToFirstNTargets: number | null;
  readonly keyspaceCache: string | null;
  readonly seed: number | null;
}

interface Target {
  readonly tenantId: string;
  readonly timelineId: string;
  readonly blocks: RelationBlocks;
}

export interface ClientResult {
  readonly histogram: LatencyHistogram;
  missed: number;
  errors: number;
  firstError: string | null;
}

function usageValue<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError((error as Error).message);
  }
}

export function parseGetPageLatestLsnArgs(args: string[]): GetPageLatestLsnOptions {
  const { values, positionals } = parseCliArgs(
    args,
    {
      "mgmt-api-endpoint": { type: "string", default: MGMT_API_DEFAULT },
      "page-service-connstring": { type: "string", default: PAGE_SERVICE_DEFAULT },
      "pageserver-jwt": { type: "string" },
      "num-clients": { type: "string", default: "1" },
      "queue-depth": { type: "string", default: "1" },
      runtime: { type: "string" },
      "per-client-rate": { type: "string" },
      "req-latest-probability": { type: "string", default: "1" },
      "limit-to-first-n-targets": { type: "string" },
      "keyspace-cache": { type: "string" },
      seed: { type: "string" },
    },
    { min: 0, max: Number.POSITIVE_INFINITY },
  );
  const numClients = parseCount(values["num-clients"] as string, "--num-clients", 1);
  const queueDepth = parseCount(values["queue-depth"] as string, "--queue-depth", 1);
  if (numClients > CLIENTS_MAX) throw new UsageError(`--num-clients must be ≤ ${CLIENTS_MAX}`);
  if (queueDepth > QUEUE_DEPTH_MAX)
    throw new UsageError(`--queue-depth must be ≤ ${QUEUE_DEPTH_MAX}`);
  const runtime = values.runtime as string | undefined;
  const runtimeMs = runtime === undefined ? null : parseDurationMs(runtime, "--runtime");
  if (runtimeMs !== null && runtimeMs <= 0) throw new UsageError("--runtime must be positive");
  const rate = values["per-client-rate"] as string | undefined;
  const jwt = (values["pageserver-jwt"] as string | undefined) ?? null;
  const pageService = usageValue(() =>
    parseConnectionString(values["page-service-connstring"] as string),
  );
  const mgmtApiEndpoint = (values["mgmt-api-endpoint"] as string).replace(/\/+$/, "");
  usageValue(() => new URL(mgmtApiEndpoint));
  for (const target of positionals) usageValue(() => parseTarget(target));
  const limit = values["limit-to-first-n-targets"] as string | undefined;
  const seed = values.seed as string | undefined;
  return {
    mgmtApiEndpoint,
    pageService: jwt === null ? pageService : { ...pageService, password: jwt },
    jwt,
    numClients,
    queueDepth,
    runtimeMs,
    perClientRate:
      rate === undefined ? null : parseNumber(rate, "--per-client-rate", 0.001, 10_000_000),
    reqLatestProbability: parseNumber(
      values["req-latest-probability"] as string,
      "--req-latest-probability",
      0,
      1,
    ),
    targets: positionals,
    limitToFirstNTargets:
      limit === undefined ? null : parseCount(limit, "--limit-to-first-n-targets", 1),
    keyspaceCache: (values["keyspace-cache"] as string | undefined) ?? null,
    seed: seed === undefined ? null : parseCount(seed, "--seed"),
  };
}

function parseTarget(text: string): { tenantId: string; timelineId: string } {
  const [tenant, timeline, extra] = text.split("/");
  if (tenant === undefined || timeline === undefined || extra !== undefined) {
    throw new UsageError(`target must be <tenant_id>/<timeline_id>, got '${text}'`);
  }
  return { tenantId: parseTenantId(tenant), timelineId: parseTimelineId(timeline) };
}

/** The targets named on the command line, or every timeline of every tenant. */
async function resolveTargets(
  options: GetPageLatestLsnOptions,
  headers: Record<string, string>,
): Promise<Array<{ tenantId: string; timelineId: string }>> {
  let targets: Array<{ tenantId: string; timelineId: string }>;
  if (options.targets.length > 0) {
    targets = options.targets.map(parseTarget);
  } else {
    const api = options.mgmtApiEndpoint;
    const tenants = await fetchJson<Array<{ id: string }>>(`${api}/v1/tenant`, { headers });
    targets = [];
    for (const tenant of tenants.map((t) => t.id).sort()) {
      const timelines = await fetchJson<Array<{ timeline_id: string }>>(
        `${api}/v1/tenant/${tenant}/timeline`,
        { headers },
      );
      for (const timeline of timelines.map((t) => t.timeline_id).sort())
        targets.push({ tenantId: tenant, timelineId: timeline });
    }
    if (targets.length === 0) throw new CliError(`${api} has no timelines to read from`);
  }
  if (options.limitToFirstNTargets !== null)
    targets = targets.slice(0, options.limitToFirstNTargets);
  return targets;
}

type KeyspaceCacheFile = Record<string, KeyspaceJson>;

function readKeyspaceCache(file: string | null): KeyspaceCacheFile {
  if (file === null) return {};
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return {};
    throw new CliError(`cannot read keyspace cache ${file}: ${(error as Error).message}`);
  }
  try {
    return JSON.parse(text) as KeyspaceCacheFile;
  } catch (error) {
    throw new CliError(`keyspace cache ${file} is not JSON: ${(error as Error).message}`);
  }
}

async function loadTargets(
  options: GetPageLatestLsnOptions,
  headers: Record<string, string>,
): Promise<Target[]> {
  const cache = readKeyspaceCache(options.keyspaceCache);
  let cacheChanged = false;
  const targets: Target[] = [];
  for (const { tenantId, timelineId } of await resolveTargets(options, headers)) {
    const id = `${tenantId}/${timelineId}`;
    const url = `${options.mgmtApiEndpoint}/v1/tenant/${tenantId}/timeline/${timelineId}/keyspace`;
    let keyspace = cache[id];
    if (keyspace === undefined) {
      keyspace = await fetchJson<KeyspaceJson>(url, { headers });
      cache[id] = keyspace;
      cacheChanged = true;
    }
    const blocks = relationBlocks(keyspace, options.keyspaceCache ?? url);
    if (blocks.blocks === 0) {
      throw new CliError(
        `timeline ${id} has no relation blocks in its keyspace at ${keyspace.at_lsn}`,
      );
    }
    targets.push({ tenantId, timelineId, blocks });
  }
  if (cacheChanged && options.keyspaceCache !== null)
    writeFileSync(options.keyspaceCache, JSON.stringify(cache));
  return targets;
}

/**
 * One client: a connection with a pagestream on one target, keeping `queueDepth` GetPages in
 * flight until `stop` is set.
 */
class BenchClient {
  readonly result: ClientResult = {
    histogram: new LatencyHistogram(),
    missed: 0,
    errors: 0,
    firstError: null,
  };
  private inFlight = 0;
  private stopped = false;
  private startedAt = 0;
  private sent = 0;
  private timer: NodeJS.Timeout | null = null;
  private readonly pick: { run: BlockRun; block: number };
  private idle: (() => void) | null = null;

  constructor(
    private readonly stream: Pagestream,
    private readonly target: Target,
    private readonly sampler: BlockSampler,
    private readonly random: () => number,
    private readonly options: GetPageLatestLsnOptions,
  ) {
    this.pick = { run: target.blocks.runs[0]!, block: 0 };
  }

  start(startedAt: number): void {
    this.startedAt = startedAt;
    this.fill();
  }

  /** Stops sending and counting; resolves when every in-flight request has settled. */
  stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.idle = resolve;
    });
  }

  /** Sends until the queue is full, or, rate-limited, until the next request is not yet due. */
  private fill(): void {
    const { queueDepth, perClientRate } = this.options;
    while (!this.stopped && this.inFlight < queueDepth) {
      if (perClientRate !== null) {
        const periodMs = 1000 / perClientRate;
        const now = performance.now();
        let dueAt = this.startedAt + this.sent * periodMs;
        // More than one period late: skip it, as a missed request.
        while (now - dueAt > periodMs) {
          this.result.missed++;
          this.sent++;
          dueAt += periodMs;
        }
        if (dueAt > now) {
          if (this.timer === null) {
            this.timer = setTimeout(() => {
              this.timer = null;
              this.fill();
            }, dueAt - now);
          }
          return;
        }
      }
      this.sendOne();
    }
  }

  private sendOne(): void {
    const { blocks } = this.target;
    this.sampler.pick(this.pick);
    const requestLsn: Lsn =
      this.options.reqLatestProbability >= 1 || this.random() < this.options.reqLatestProbability
        ? LSN_MAX
        : blocks.atLsn;
    const sentAt = performance.now();
    this.inFlight++;
    this.sent++;
    this.stream.getPageRequest(this.pick.run.rel, this.pick.block, requestLsn, blocks.atLsn).then(
      (response) => {
        if (response.kind === "Error") this.onError(response.message);
        else if (!this.stopped) this.result.histogram.record((performance.now() - sentAt) * 1000);
        this.settled();
      },
      (error: Error) => {
        this.onError(error.message);
        // The stream is broken: nothing more can be sent on it.
        this.stopped = true;
        this.settled();
      },
    );
  }

  private onError(message: string): void {
    this.result.errors++;
    this.result.firstError ??= `${this.target.tenantId}/${this.target.timelineId}: ${message}`;
  }

  private settled(): void {
    this.inFlight--;
    if (this.stopped) {
      if (this.inFlight === 0) this.idle?.();
      return;
    }
    this.fill();
  }
}

export interface GetPageLatestLsnResult {
  readonly output: Record<string, unknown>;
  readonly errors: number;
  readonly firstError: string | null;
}

/** Runs the benchmark; resolves with the JSON output. */
export async function runGetPageLatestLsn(
  options: GetPageLatestLsnOptions,
  stopSignal?: AbortSignal,
): Promise<GetPageLatestLsnResult> {
  const headers: Record<string, string> = options.jwt
    ? { authorization: `Bearer ${options.jwt}` }
    : {};
  const targets = await loadTargets(options, headers);
  const random = options.seed === null ? Math.random : seededRandom(options.seed);
  const connections: PageServiceClient[] = [];
  const clients: BenchClient[] = [];
  try {
    for (const target of targets) {
      for (let i = 0; i < options.numClients; i++) {
        const connection = await PageServiceClient.connect(options.pageService);
        connections.push(connection);
        const stream = await connection.pagestream(target.tenantId, target.timelineId, 3);
        // Each client its own sampler and generator: no shared state between clients.
        const clientRandom = options.seed === null ? Math.random : seededRandom(random() * 2 ** 32);
        const sampler = new BlockSampler(target.blocks.runs, clientRandom);
        clients.push(new BenchClient(stream, target, sampler, clientRandom, options));
      }
    }
    const startedAt = performance.now();
    const cpuAtStart = process.cpuUsage();
    for (const client of clients) client.start(startedAt);
    await waitForEnd(options.runtimeMs, stopSignal);
    const elapsedMs = performance.now() - startedAt;
    const cpu = process.cpuUsage(cpuAtStart);
    await Promise.race([
      Promise.all(clients.map((client) => client.stop())),
      new Promise((resolve) => setTimeout(resolve, DRAIN_TIMEOUT_MS).unref()),
    ]);
    return summarize(options, targets, clients, elapsedMs, (cpu.user + cpu.system) / 1000);
  } finally {
    for (const connection of connections) connection.destroy();
  }
}

function waitForEnd(runtimeMs: number | null, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = runtimeMs === null ? null : setTimeout(resolve, runtimeMs);
    signal?.addEventListener(
      "abort",
      () => {
        if (timer) clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}

function round(value: number, digits = 1): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

function summarize(
  options: GetPageLatestLsnOptions,
  targets: readonly Target[],
  clients: readonly BenchClient[],
  elapsedMs: number,
  clientCpuMs: number,
): GetPageLatestLsnResult {
  const total = new LatencyHistogram();
  let missed = 0;
  let errors = 0;
  let firstError: string | null = null;
  for (const client of clients) {
    total.merge(client.result.histogram);
    missed += client.result.missed;
    errors += client.result.errors;
    firstError ??= client.result.firstError;
  }
  const quantiles: Array<[string, number]> = [
    ["p50", 0.5],
    ["p95", 0.95],
    ["p99", 0.99],
    ["p99.9", 0.999],
    ["p99.99", 0.9999],
  ];
  const latencyUs: Record<string, number> = { mean: round(total.meanUs()) };
  const percentiles: Record<string, string> = {};
  for (const [name, q] of quantiles) {
    const us = total.percentileUs(q);
    latencyUs[name] = round(us);
    percentiles[name] = formatHumantime(us);
  }
  latencyUs.min = round(total.minimumUs());
  latencyUs.max = round(total.maximumUs());
  return {
    output: {
      total: {
        request_count: total.count,
        latency_mean: formatHumantime(total.meanUs()),
        latency_percentiles: percentiles,
      },
      requests_per_second: round(total.count / (elapsedMs / 1000)),
      runtime: formatHumantime(elapsedMs * 1000),
      latency_us: latencyUs,
      missed,
      errors,
      targets: targets.length,
      num_clients: options.numClients,
      queue_depth: options.queueDepth,
      relation_blocks: targets.reduce((sum, target) => sum + target.blocks.blocks, 0),
      // Whether the load generator itself was the limit: its CPU per answered request.
      client_cpu_us_per_request: total.count === 0 ? 0 : round((clientCpuMs * 1000) / total.count),
    },
    errors,
    firstError,
  };
}

export async function getPageLatestLsnCommand(args: string[]): Promise<void> {
  const options = parseGetPageLatestLsnArgs(args);
  const stop = new AbortController();
  const onSigint = () => stop.abort();
  process.once("SIGINT", onSigint);
  let result: GetPageLatestLsnResult;
  try {
    result = await runGetPageLatestLsn(options, stop.signal);
  } finally {
    process.off("SIGINT", onSigint);
  }
  process.stdout.write(`${JSON.stringify(result.output, null, 2)}\n`);
  if (result.errors > 0) {
    throw new CliError(
      `${result.errors} request(s) failed; the first: ${result.firstError ?? "(no message)"}`,
    );
  }
}
