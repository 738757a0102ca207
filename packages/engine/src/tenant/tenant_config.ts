/**
 * Tenant configuration: Neon's knobs (reference §5), their defaults, per-tenant overrides, and
 * validation that names the bad field. Overrides are kept in Neon's JSON shape (snake_case,
 * durations as humantime strings) because that is what the API and the config file speak; the
 * engine reads the resolved form (numbers, milliseconds).
 *
 * Every Neon knob is accepted and echoed back; some (throttling, sharding, gc-compaction) are
 * stored but have no effect here, and say so in `INERT_KNOBS`.
 */
import { z } from "zod";
import { InvalidArgumentError } from "../errors.ts";
import { formatDuration, parseDuration } from "../util/duration.ts";

const MiB = 1024 * 1024;

const durationText = z.string().refine(
  (text) => {
    try {
      parseDuration(text);
      return true;
    } catch {
      return false;
    }
  },
  { message: "expected a duration such as 20s, 10m, 1h or 7days" },
);
const u64 = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const positiveInt = z.number().int().min(1).max(1_000_000);

const evictionPolicy = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("NoEviction") }).strict(),
  z
    .object({
      kind: z.literal("LayerAccessThreshold"),
      period: durationText,
      threshold: durationText,
    })
    .strict(),
  z
    .object({ kind: z.literal("OnlyImitiate"), period: durationText, threshold: durationText })
    .strict(),
]);

const compactionAlgorithm = z.object({ kind: z.enum(["legacy", "tiered"]) }).strict();

/** The knobs; every one optional (an override), `null` meaning "use the default". */
export const tenantConfigSchema = z
  .object({
    checkpoint_distance: u64.min(1),
    checkpoint_timeout: durationText,
    compaction_target_size: u64.min(1),
    compaction_period: durationText,
    compaction_threshold: positiveInt,
    compaction_upper_limit: positiveInt,
    compaction_algorithm: compactionAlgorithm,
    compaction_l0_first: z.boolean(),
    compaction_l0_semaphore: z.boolean(),
    compaction_shard_ancestor: z.boolean(),
    l0_flush_delay_threshold: positiveInt,
    l0_flush_stall_threshold: positiveInt,
    gc_horizon: u64,
    gc_period: durationText,
    image_creation_threshold: positiveInt,
    image_creation_preempt_threshold: positiveInt,
    image_layer_creation_check_threshold: z.number().int().min(0).max(255),
    pitr_interval: durationText,
    walreceiver_connect_timeout: durationText,
    lagging_wal_timeout: durationText,
    max_lsn_wal_lag: u64.min(1),
    eviction_policy: evictionPolicy,
    min_resident_size_override: u64,
    evictions_low_residence_duration_metric_threshold: durationText,
    heatmap_period: durationText,
    lazy_slru_download: z.boolean(),
    timeline_get_throttle: z.record(z.string(), z.unknown()),
    lsn_lease_length: durationText,
    lsn_lease_length_for_ts: durationText,
    timeline_offloading: z.boolean(),
    wal_receiver_protocol_override: z.record(z.string(), z.unknown()),
    rel_size_v2_enabled: z.boolean(),
    gc_compaction_enabled: z.boolean(),
    gc_compaction_verification: z.boolean(),
    gc_compaction_initial_threshold_kb: u64,
    gc_compaction_ratio_percent: u64,
    sampling_ratio: z.record(z.string(), z.unknown()),
    relsize_snapshot_cache_capacity: u64,
    basebackup_cache_enabled: z.boolean(),
  })
  .partial()
  .strict();

export type TenantConfigKnobs = z.infer<typeof tenantConfigSchema>;
export type TenantConfigKnob = keyof TenantConfigKnobs;

/** Stored and reported, but with no effect in this pageserver. */
export const INERT_KNOBS: readonly TenantConfigKnob[] = [
  "compaction_l0_semaphore",
  "compaction_shard_ancestor",
  "timeline_get_throttle",
  "wal_receiver_protocol_override",
  "rel_size_v2_enabled",
  "gc_compaction_enabled",
  "gc_compaction_verification",
  "gc_compaction_initial_threshold_kb",
  "gc_compaction_ratio_percent",
  "sampling_ratio",
  "relsize_snapshot_cache_capacity",
  "basebackup_cache_enabled",
  "heatmap_period",
  "timeline_offloading",
];

/** Neon's defaults (libs/pageserver_api/src/config.rs::tenant_conf_defaults). */
export const TENANT_CONFIG_DEFAULTS = {
  checkpoint_distance: 256 * MiB,
  checkpoint_timeout: "10m",
  compaction_target_size: 128 * MiB,
  compaction_period: "20s",
  compaction_threshold: 10,
  compaction_upper_limit: 10,
  compaction_algorithm: { kind: "legacy" },
  compaction_l0_first: true,
  compaction_l0_semaphore: true,
  compaction_shard_ancestor: true,
  gc_horizon: 64 * MiB,
  gc_period: "1h",
  image_creation_threshold: 3,
  image_creation_preempt_threshold: 3,
  image_layer_creation_check_threshold: 2,
  pitr_interval: "7days",
  walreceiver_connect_timeout: "10s",
  lagging_wal_timeout: "10s",
  max_lsn_wal_lag: 1024 * MiB,
  eviction_policy: { kind: "NoEviction" },
  evictions_low_residence_duration_metric_threshold: "1day",
  heatmap_period: "0s",
  lazy_slru_download: false,
  lsn_lease_length: "10m",
  lsn_lease_length_for_ts: "1m",
  timeline_offloading: true,
  rel_size_v2_enabled: false,
  gc_compaction_enabled: true,
  gc_compaction_verification: true,
  gc_compaction_initial_threshold_kb: 5_242_880,
  gc_compaction_ratio_percent: 100,
  relsize_snapshot_cache_capacity: 1000,
  basebackup_cache_enabled: false,
} as const satisfies TenantConfigKnobs;

/** Formats a zod error as one line naming each bad field. */
export function describeZodError(error: z.ZodError, what: string): string {
  const problems = error.issues.map((issue) => {
    if (issue.code === "unrecognized_keys")
      return `unknown field(s) ${issue.keys.map((k) => `'${k}'`).join(", ")}`;
    const field = issue.path.join(".");
    return field ? `field '${field}': ${issue.message}` : issue.message;
  });
  return `invalid ${what}: ${problems.join("; ")}`;
}

/** Validates overrides (an API body or the config file); throws naming the bad field. */
export function parseTenantConfig(input: unknown): TenantConfigKnobs {
  const cleaned =
    input && typeof input === "object" && !Array.isArray(input)
      ? Object.fromEntries(Object.entries(input).filter(([, value]) => value !== null))
      : input;
  const result = tenantConfigSchema.safeParse(cleaned ?? {});
  if (!result.success)
    throw new InvalidArgumentError(describeZodError(result.error, "tenant config"));
  return result.data;
}

/** Applies a PATCH: a null value resets that knob to its default. */
export function patchTenantConfig(
  current: TenantConfigKnobs,
  patch: Record<string, unknown>,
): TenantConfigKnobs {
  const merged: Record<string, unknown> = { ...current };
  for (const [field, value] of Object.entries(patch)) {
    if (value === null) delete merged[field];
    else merged[field] = value;
  }
  return parseTenantConfig(merged);
}

/** The effective config in Neon's JSON shape: defaults overlaid with the overrides. */
export function effectiveTenantConfigJson(
  overrides: TenantConfigKnobs,
  base: TenantConfigKnobs = {},
): Record<string, unknown> {
  return { ...TENANT_CONFIG_DEFAULTS, ...base, ...overrides };
}

export type EvictionPolicy =
  | { kind: "NoEviction" }
  | { kind: "LayerAccessThreshold" | "OnlyImitiate"; periodMs: number; thresholdMs: number };

/** The resolved config the engine reads: numbers, milliseconds. */
export interface TenantConfig {
  readonly checkpointDistanceBytes: number;
  readonly checkpointTimeoutMs: number;
  readonly compactionTargetSizeBytes: number;
  readonly compactionPeriodMs: number;
  readonly compactionThreshold: number;
  readonly compactionUpperLimit: number;
  readonly compactionAlgorithm: "legacy" | "tiered";
  readonly l0FlushDelayThreshold: number | null;
  readonly l0FlushStallThreshold: number | null;
  readonly gcHorizonBytes: number;
  readonly gcPeriodMs: number;
  readonly imageCreationThreshold: number;
  readonly imageLayerCreationCheckThreshold: number;
  readonly pitrIntervalMs: number;
  readonly walreceiverConnectTimeoutMs: number;
  readonly laggingWalTimeoutMs: number;
  readonly maxLsnWalLagBytes: number;
  readonly evictionPolicy: EvictionPolicy;
  readonly minResidentSizeOverrideBytes: number | null;
  readonly evictionsLowResidenceDurationMetricThresholdMs: number;
  readonly lazySlruDownload: boolean;
  readonly lsnLeaseLengthMs: number;
  readonly lsnLeaseLengthForTsMs: number;
}

/**
 * Resolves overrides on top of `base` (the pageserver's `tenant_config` section) on top of
 * Neon's defaults.
 */
export function resolveTenantConfig(
  overrides: TenantConfigKnobs,
  base: TenantConfigKnobs = {},
): TenantConfig {
  overrides = { ...base, ...overrides };
  const c = { ...TENANT_CONFIG_DEFAULTS, ...overrides };
  const policy = c.eviction_policy;
  return {
    checkpointDistanceBytes: c.checkpoint_distance,
    checkpointTimeoutMs: parseDuration(c.checkpoint_timeout),
    compactionTargetSizeBytes: c.compaction_target_size,
    compactionPeriodMs: parseDuration(c.compaction_period),
    compactionThreshold: c.compaction_threshold,
    compactionUpperLimit: c.compaction_upper_limit,
    compactionAlgorithm: c.compaction_algorithm.kind,
    l0FlushDelayThreshold: overrides.l0_flush_delay_threshold ?? null,
    l0FlushStallThreshold: overrides.l0_flush_stall_threshold ?? null,
    gcHorizonBytes: c.gc_horizon,
    gcPeriodMs: parseDuration(c.gc_period),
    imageCreationThreshold: c.image_creation_threshold,
    imageLayerCreationCheckThreshold: c.image_layer_creation_check_threshold,
    pitrIntervalMs: parseDuration(c.pitr_interval),
    walreceiverConnectTimeoutMs: parseDuration(c.walreceiver_connect_timeout),
    laggingWalTimeoutMs: parseDuration(c.lagging_wal_timeout),
    maxLsnWalLagBytes: c.max_lsn_wal_lag,
    evictionPolicy:
      policy.kind === "NoEviction"
        ? { kind: "NoEviction" }
        : {
            kind: policy.kind,
            periodMs: parseDuration(policy.period),
            thresholdMs: parseDuration(policy.threshold),
          },
    minResidentSizeOverrideBytes: overrides.min_resident_size_override ?? null,
    evictionsLowResidenceDurationMetricThresholdMs: parseDuration(
      c.evictions_low_residence_duration_metric_threshold,
    ),
    lazySlruDownload: c.lazy_slru_download,
    lsnLeaseLengthMs: parseDuration(c.lsn_lease_length),
    lsnLeaseLengthForTsMs: parseDuration(c.lsn_lease_length_for_ts),
  };
}

export { formatDuration };
