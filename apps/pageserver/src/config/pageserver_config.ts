/**
 * `pageserver.toml` and `identity.toml`: Neon's keys and defaults (reference §13). Every key is
 * optional; unknown keys only warn; an invalid value stops start-up with a message naming the key.
 * Keys Neon has that do nothing here (broker, control plane, gRPC, TLS, …) are accepted and
 * listed in `INERT_KEYS` so the warning says so instead of calling them unknown.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import {
  InvalidArgumentError,
  type NodeId,
  parseDuration,
  parseTenantConfig,
  TENANT_CONFIG_DEFAULTS,
  type TenantConfigKnobs,
} from "@pageserver/engine";
import { parse as parseToml } from "smol-toml";
import { z } from "zod";

export const PAGESERVER_CONFIG_FILE = "pageserver.toml";
export const IDENTITY_FILE = "identity.toml";

const durationText = z.string().refine(
  (text) => {
    try {
      parseDuration(text);
      return true;
    } catch {
      return false;
    }
  },
  { message: "expected a duration such as 10s, 5 min or 1h" },
);
const address = z.string().regex(/^[^:\s]+:\d{1,5}$/, "expected host:port");
const authType = z.enum(["Trust", "NeonJWT"]);

const remoteStorageSchema = z.union([
  z.object({ local_path: z.string().min(1) }).strict(),
  z
    .object({
      bucket_name: z.string().min(1),
      bucket_region: z.string().min(1),
      prefix_in_bucket: z.string().optional(),
      endpoint: z.string().url().optional(),
      concurrency_limit: z.number().int().min(1).max(10_000).default(100),
      max_keys_per_list_response: z.number().int().min(1).optional(),
      upload_storage_class: z.string().optional(),
      timeout: durationText.default("120s"),
      small_timeout: durationText.default("30s"),
    })
    .strict(),
]);

const diskUsageEvictionSchema = z
  .object({
    max_usage_pct: z.number().min(0).max(100).default(80),
    min_avail_bytes: z.number().int().min(0).default(2_000_000_000),
    period: durationText.default("60s"),
    enabled: z.boolean().default(true),
    eviction_order: z.unknown().optional(),
    /** Our extension for tests and demos: pretend the disk has this capacity (bytes). */
    disk_capacity_bytes: z.number().int().min(1).optional(),
  })
  .strict();

export const pageserverConfigSchema = z
  .object({
    listen_pg_addr: address.default("127.0.0.1:64000"),
    listen_http_addr: address.default("127.0.0.1:9898"),
    pg_auth_type: authType.default("Trust"),
    http_auth_type: authType.default("Trust"),
    auth_validation_public_key_path: z.string().optional(),
    remote_storage: remoteStorageSchema.optional(),
    wait_lsn_timeout: durationText.default("300 s"),
    wal_redo_timeout: durationText.default("60 s"),
    page_cache_size: z.number().int().min(16).max(100_000_000).default(8192),
    max_file_descriptors: z.number().int().min(4).max(1_000_000).default(100),
    concurrent_tenant_warmup: z.number().int().min(1).default(8),
    ingest_batch_size: z.number().int().min(1).default(100),
    max_vectored_read_bytes: z
      .number()
      .int()
      .min(8192)
      .default(130 * 1024),
    max_get_vectored_keys: z.number().int().min(1).max(32).default(32),
    disk_usage_based_eviction: diskUsageEvictionSchema.optional(),
    tenant_config: z.record(z.string(), z.unknown()).default({}),
    log_format: z.enum(["plain", "json", "test"]).default("plain"),
    superuser: z.string().default("cloud_admin"),
    metric_collection_interval: durationText.default("10 min"),
    metric_collection_endpoint: z.string().url().optional(),
    cached_metric_collection_interval: durationText.optional(),
    synthetic_size_calculation_interval: durationText.optional(),
    background_task_maximum_delay: durationText.default("10s"),
    page_service_pipelining: z
      .object({
        mode: z.enum(["serial", "pipelined"]).default("pipelined"),
        max_batch_size: z.number().int().min(1).max(32).default(32),
        execution: z.string().optional(),
        batching: z.string().optional(),
      })
      .strict()
      .default({ mode: "pipelined", max_batch_size: 32 }),
  })
  .passthrough();

/** Neon keys accepted without effect here. */
export const INERT_KEYS = new Set([
  "broker_endpoint",
  "control_plane_api",
  "control_plane_api_token",
  "control_plane_emergency_mode",
  "pg_distrib_dir",
  "listen_https_addr",
  "listen_grpc_addr",
  "grpc_auth_type",
  "ssl_key_file",
  "ssl_cert_file",
  "availability_zone",
  "virtual_file_io_engine",
  "virtual_file_io_mode",
  "image_compression",
  "heatmap_upload_concurrency",
  "secondary_download_concurrency",
  "timeline_offloading",
  "no_sync",
  "enable_tls_page_service_api",
  "import_pgdata_upcall_api",
  "walredo_process_kind",
  "get_vectored_concurrent_io",
  "wal_receiver_protocol",
  "validate_wal_contiguity",
  "load_previous_heatmap",
  "generate_unarchival_heatmap",
  "tracing",
  "ondemand_download_behavior_treat_error_as_warn",
]);

export type PageserverConfigFile = z.output<typeof pageserverConfigSchema>;

export interface PageserverConfig {
  readonly workdir: string;
  readonly nodeId: NodeId;
  readonly listenPgAddr: { host: string; port: number };
  readonly listenHttpAddr: { host: string; port: number };
  readonly pgAuthType: "Trust" | "NeonJWT";
  readonly httpAuthType: "Trust" | "NeonJWT";
  readonly authValidationPublicKeyPath: string | null;
  readonly remoteStorage: PageserverConfigFile["remote_storage"] | null;
  readonly waitLsnTimeoutMs: number;
  readonly pageCacheSize: number;
  readonly maxFileDescriptors: number;
  readonly maxBatchSize: number;
  readonly pipelining: boolean;
  readonly diskUsageBasedEviction: z.output<typeof diskUsageEvictionSchema> | null;
  readonly tenantConfigDefaults: TenantConfigKnobs;
  readonly logFormat: "plain" | "json" | "test";
  readonly metricCollectionIntervalMs: number;
  readonly metricCollectionEndpoint: string | null;
  readonly file: PageserverConfigFile;
}

export class ConfigError extends InvalidArgumentError {}

function parseAddress(text: string): { host: string; port: number } {
  const at = text.lastIndexOf(":");
  return { host: text.slice(0, at), port: Number(text.slice(at + 1)) };
}

function readToml(file: string): Record<string, unknown> {
  try {
    return parseToml(readFileSync(file, "utf8")) as Record<string, unknown>;
  } catch (error) {
    throw new ConfigError(`cannot parse ${file}: ${(error as Error).message}`);
  }
}

/** Reads identity.toml: `id = <node id>`, required. */
export function loadIdentity(workdir: string): NodeId {
  const file = path.join(workdir, IDENTITY_FILE);
  if (!existsSync(file))
    throw new ConfigError(`${file} not found: run 'pageserver --init -D ${workdir}' first`);
  const id = readToml(file).id;
  if (typeof id !== "number" || !Number.isInteger(id) || id < 0) {
    throw new ConfigError(`${file}: 'id' must be a non-negative integer node id`);
  }
  return id as NodeId;
}

export interface ConfigWarning {
  readonly key: string;
  readonly message: string;
}

/**
 * Validates a parsed config document. Returns the config and the warnings (unknown keys) to log.
 */
export function resolveConfig(
  workdir: string,
  nodeId: NodeId,
  document: Record<string, unknown>,
): { config: PageserverConfig; warnings: ConfigWarning[] } {
  const parsed = pageserverConfigSchema.safeParse(document);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const key = issue.path.join(".") || "(root)";
    throw new ConfigError(`invalid pageserver config: key '${key}': ${issue.message}`);
  }
  const known = new Set(Object.keys(pageserverConfigSchema.shape));
  const warnings: ConfigWarning[] = [];
  for (const key of Object.keys(document)) {
    if (known.has(key)) continue;
    warnings.push({
      key,
      message: INERT_KEYS.has(key)
        ? `config key '${key}' has no effect in this pageserver`
        : `unknown config key '${key}' ignored`,
    });
  }
  const file = parsed.data;
  let tenantConfigDefaults: TenantConfigKnobs;
  try {
    tenantConfigDefaults = parseTenantConfig(file.tenant_config);
  } catch (error) {
    throw new ConfigError(
      `invalid pageserver config: key 'tenant_config': ${(error as Error).message}`,
    );
  }
  const config: PageserverConfig = {
    workdir,
    nodeId,
    listenPgAddr: parseAddress(file.listen_pg_addr),
    listenHttpAddr: parseAddress(file.listen_http_addr),
    pgAuthType: file.pg_auth_type,
    httpAuthType: file.http_auth_type,
    authValidationPublicKeyPath: file.auth_validation_public_key_path
      ? path.resolve(workdir, file.auth_validation_public_key_path)
      : null,
    remoteStorage: file.remote_storage ?? null,
    waitLsnTimeoutMs: parseDuration(file.wait_lsn_timeout),
    pageCacheSize: file.page_cache_size,
    maxFileDescriptors: file.max_file_descriptors,
    maxBatchSize: file.page_service_pipelining.max_batch_size,
    pipelining: file.page_service_pipelining.mode === "pipelined",
    diskUsageBasedEviction: file.disk_usage_based_eviction ?? null,
    tenantConfigDefaults,
    logFormat: file.log_format,
    metricCollectionIntervalMs: parseDuration(file.metric_collection_interval),
    metricCollectionEndpoint: file.metric_collection_endpoint ?? null,
    file,
  };
  if (
    (config.pgAuthType === "NeonJWT" || config.httpAuthType === "NeonJWT") &&
    !config.authValidationPublicKeyPath
  ) {
    throw new ConfigError(
      "invalid pageserver config: key 'auth_validation_public_key_path' is required when an auth type is NeonJWT",
    );
  }
  return { config, warnings };
}

/** Reads `<workdir>/pageserver.toml` (absent = all defaults) and identity.toml, with overrides. */
export function loadConfig(
  workdir: string,
  overrides: Record<string, unknown> = {},
): { config: PageserverConfig; warnings: ConfigWarning[] } {
  const nodeId = loadIdentity(workdir);
  const file = path.join(workdir, PAGESERVER_CONFIG_FILE);
  const document = existsSync(file) ? readToml(file) : {};
  return resolveConfig(workdir, nodeId, { ...document, ...overrides });
}

/** Parses `-c key=value` overrides (values in TOML syntax). */
export function parseOverride(text: string): Record<string, unknown> {
  try {
    return parseToml(text) as Record<string, unknown>;
  } catch (error) {
    throw new ConfigError(`invalid override '${text}': ${(error as Error).message}`);
  }
}

/** What `pageserver --init` writes: identity and a config with the defaults spelled out. */
export function defaultConfigToml(options: { pgPort?: number; httpPort?: number } = {}): string {
  return [
    "# pageserver.toml: Neon's keys; every key is optional and shown here with its default.",
    `listen_pg_addr = "127.0.0.1:${options.pgPort ?? 64000}"`,
    `listen_http_addr = "127.0.0.1:${options.httpPort ?? 9898}"`,
    'pg_auth_type = "Trust"',
    'http_auth_type = "Trust"',
    "page_cache_size = 8192",
    "max_file_descriptors = 100",
    'wait_lsn_timeout = "300 s"',
    'metric_collection_interval = "10 min"',
    "",
    "# Layers are uploaded here (Neon's neon_local default is a local directory too).",
    "[remote_storage]",
    'local_path = "remote_storage"',
    "",
    "# Defaults for every tenant (Neon's tenant_config); tenants override them.",
    "[tenant_config]",
    `checkpoint_distance = ${TENANT_CONFIG_DEFAULTS.checkpoint_distance}`,
    `gc_period = "${TENANT_CONFIG_DEFAULTS.gc_period}"`,
    `compaction_period = "${TENANT_CONFIG_DEFAULTS.compaction_period}"`,
    "",
  ].join("\n");
}
