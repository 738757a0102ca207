/**
 * Remote storage for cross-process tests, both kinds behind one handle: a local directory shared
 * by the pageservers of a test, or a real S3 API server (s3rver on 127.0.0.1). Each gives the
 * `remote_storage` section for pageserver.toml, the environment the process needs, a client of
 * its own to inspect what the pageservers wrote, and an outage switch. Plus the HTTP helpers the
 * remote tests share (tenants, the generator, page reads, metrics).
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import {
  LocalFsRemoteStorage,
  parseIndexGeneration,
  parseIndexPart,
  type RemoteStorage,
  remoteLayerKey,
  type TenantId,
  type TimelineId,
  timelinePrefix,
} from "@pageserver/engine";
import type { PageserverHandle } from "./pageserver_process.ts";
import { S3_BUCKET, S3_CREDENTIALS, TestS3Server } from "./s3_server.ts";

export type RemoteKind = "local-fs" | "s3";
export const REMOTE_KINDS: readonly RemoteKind[] = ["local-fs", "s3"];

export interface RemoteFixture {
  readonly kind: RemoteKind;
  /** The `remote_storage` table of pageserver.toml. */
  readonly config: Record<string, unknown>;
  /** Environment for the pageserver process (S3 credentials). */
  readonly env: Record<string, string>;
  /** Our own client of the same storage, to check what the pageservers wrote. */
  readonly storage: RemoteStorage;
  outage(): Promise<void>;
  restore(): Promise<void>;
  close(): Promise<void>;
}

export async function openRemote(kind: RemoteKind, directory: string): Promise<RemoteFixture> {
  if (kind === "local-fs") {
    const root = path.join(directory, "remote_storage");
    mkdirSync(root, { recursive: true });
    return {
      kind,
      config: { local_path: root },
      env: {},
      storage: new LocalFsRemoteStorage(root),
      async outage() {
        // A file where the directory was: every call fails, as with a lost mount.
        renameSync(root, `${root}.away`);
        writeFileSync(root, "not a directory");
      },
      async restore() {
        rmSync(root, { force: true });
        renameSync(`${root}.away`, root);
      },
      async close() {},
    };
  }
  const server = await TestS3Server.start();
  const prefix = "pageserver/";
  const storage = server.storage(prefix);
  return {
    kind,
    get config() {
      return {
        bucket_name: S3_BUCKET,
        bucket_region: "us-east-1",
        prefix_in_bucket: prefix,
        endpoint: server.endpoint,
        timeout: "10s",
        small_timeout: "5s",
      };
    },
    env: {
      AWS_ACCESS_KEY_ID: S3_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: S3_CREDENTIALS.secretAccessKey,
    },
    storage,
    outage: () => server.stop(),
    restore: () => server.start(),
    async close() {
      storage.destroy();
      await server.destroy();
    },
  };
}

export const randomId = (): string =>
  [...crypto.getRandomValues(new Uint8Array(16))]
    .map((b) => b.toString(16).padStart(2, "0"))
    .join("");

/** Polls `check` every 50 ms until it holds, or fails after `timeoutMs` naming `what`. */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | null | undefined | false>,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) assert.fail(`timed out waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export async function ok<T>(
  server: PageserverHandle,
  method: string,
  route: string,
  body?: unknown,
): Promise<T> {
  const response = await server.api<T>(method, route, body);
  assert.ok(
    response.status >= 200 && response.status < 300,
    `${method} ${route}: ${response.status} ${JSON.stringify(response.body)}`,
  );
  return response.body;
}

export interface TimelineInfo {
  last_record_lsn: string;
  disk_consistent_lsn: string;
  remote_consistent_lsn: string;
}

export interface HistoricLayer {
  kind: "Delta" | "Image";
  layer_file_name: string;
  layer_file_size: number;
  remote: boolean;
}

/** Generator parameters for a finite, deterministic workload at full speed. */
export function generatorParams(transactions: number, seed = 7, rate = 0): Record<string, unknown> {
  return {
    workload: "uniform",
    size: 300,
    rate,
    transactions,
    seed,
    start_time_ms: 1_700_000_000_000,
  };
}

/** Creates a tenant and a timeline and feeds it the generator; returns the timeline's route. */
export async function createFedTimeline(
  server: PageserverHandle,
  tenantId: string,
  timelineId: string,
  options: {
    tenantConf?: Record<string, unknown>;
    transactions: number;
    seed?: number;
    /** Transactions per second; 0 = as fast as possible. */
    rate?: number;
  },
): Promise<string> {
  await ok(server, "PUT", `/v1/tenant/${tenantId}/location_config`, {
    mode: "AttachedSingle",
    tenant_conf: options.tenantConf ?? {},
  });
  await ok(server, "POST", `/v1/tenant/${tenantId}/timeline`, { new_timeline_id: timelineId });
  const base = `/v1/tenant/${tenantId}/timeline/${timelineId}`;
  await ok(server, "PUT", `${base}/wal_source`, {
    kind: "generator",
    params: generatorParams(options.transactions, options.seed, options.rate),
  });
  return base;
}

/** Waits until the timeline's generator has produced all its transactions. */
export async function waitGeneratorDone(server: PageserverHandle, base: string): Promise<void> {
  await eventually(
    `${base}: the generator finished`,
    async () => {
      const status = await server.api<{ state: string; error?: string }>(
        "GET",
        `${base}/wal_source`,
      );
      assert.notEqual(status.body.state, "failed", JSON.stringify(status.body));
      return status.body.state === "finished";
    },
    120_000,
  );
}

/** Flushes everything and waits until remote storage has it (Neon's wait_until_uploaded). */
export async function checkpointUploaded(server: PageserverHandle, base: string): Promise<void> {
  await ok(server, "PUT", `${base}/checkpoint?compact=false&wait_until_uploaded=true`);
}

export async function historicLayers(
  server: PageserverHandle,
  base: string,
): Promise<HistoricLayer[]> {
  return (await ok<{ historic_layers: HistoricLayer[] }>(server, "GET", `${base}/layer`))
    .historic_layers;
}

/** Some keys of the timeline's keyspace: up to `perRange` from the start of each range. */
export async function sampleKeys(
  server: PageserverHandle,
  base: string,
  perRange: number,
): Promise<string[]> {
  const { keys } = await ok<{ keys: Array<[string, string]> }>(server, "GET", `${base}/keyspace`);
  const out: string[] = [];
  for (const [start, end] of keys) {
    const first = BigInt(`0x${start}`);
    const last = BigInt(`0x${end}`);
    for (let k = first; k < last && k < first + BigInt(perRange); k++)
      out.push(k.toString(16).toUpperCase().padStart(36, "0"));
  }
  return out;
}

/** Reads each key at each LSN through the getpage endpoint: `key@lsn` → status and sha256. */
export async function readPages(
  server: PageserverHandle,
  base: string,
  keys: readonly string[],
  lsns: readonly string[],
): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const lsn of lsns) {
    for (const key of keys) {
      const response = await fetch(`${server.httpUrl}${base}/getpage?key=${key}&lsn=${lsn}`);
      const bytes = Buffer.from(await response.arrayBuffer());
      const digest =
        response.status === 200
          ? createHash("sha256").update(bytes).digest("hex")
          : bytes.toString("utf8");
      out.set(`${key}@${lsn}`, `${response.status} ${digest}`);
    }
  }
  return out;
}

/** Prometheus text: the sum of `name` over the series whose labels include all of `labels`. */
export async function metric(
  server: PageserverHandle,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const text = (await server.api<string>("GET", "/metrics")).body as unknown as string;
  let total = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const labelText = line.includes("{") ? line.slice(line.indexOf("{"), line.indexOf("}")) : "";
    if (!Object.entries(labels).every(([k, v]) => labelText.includes(`${k}="${v}"`))) continue;
    total += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return total;
}

/**
 * Straight from remote storage: every index_part.json of the timeline names only objects that
 * exist, with the size it says. Returns the layer names of the newest index.
 */
export async function checkRemoteIndexes(
  storage: RemoteStorage,
  tenantId: string,
  timelineId: string,
): Promise<Set<string>> {
  const prefix = timelinePrefix(tenantId as TenantId, timelineId as TimelineId);
  const objects = new Map((await storage.list(prefix)).map((o) => [o.key, o.size]));
  let newest: { generation: number; layers: Set<string> } | null = null;
  for (const key of objects.keys()) {
    const generation = parseIndexGeneration(key.slice(prefix.length));
    if (generation === undefined) continue;
    const index = parseIndexPart(await storage.download(key), key);
    for (const layer of index.layers.values()) {
      const layerKey = remoteLayerKey(
        tenantId as TenantId,
        timelineId as TimelineId,
        layer.name,
        layer.generation,
      );
      assert.ok(objects.has(layerKey), `${key} names ${layerKey}, which does not exist`);
      assert.equal(objects.get(layerKey), layer.fileSize, `size of ${layerKey}`);
    }
    const g = generation ?? -1;
    if (!newest || g > newest.generation)
      newest = { generation: g, layers: new Set(index.layers.keys()) };
  }
  assert.ok(newest, `no index_part.json under ${prefix}`);
  return newest.layers;
}
