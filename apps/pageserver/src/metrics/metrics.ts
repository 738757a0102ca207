/**
 * Prometheus metrics with Neon's names (reference §12). Hot-path metrics (smgr latency) are
 * observed through label children cached per timeline; state metrics (LSNs, layer counts and
 * bytes, sizes) are gauges filled at scrape time from the engine, so ingest pays nothing for them.
 */
import { currentLogicalSize, LatencyRecorder } from "@pageserver/api";
import {
  evictionStats,
  ingestStats,
  setWalRedoObserver,
  type Tenant,
  type TenantManager,
  type Timeline,
} from "@pageserver/engine";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

export const SMGR_QUERY_TYPES = [
  "get_rel_exists",
  "get_rel_size",
  "get_page_at_lsn",
  "get_db_size",
  "get_slru_segment",
] as const;
export type SmgrQueryType = (typeof SMGR_QUERY_TYPES)[number];

/** Neon's per-timeline smgr buckets (the compute uses the same). */
export const SMGR_BUCKETS_SECONDS = [0.0006, 0.001, 0.003, 0.006, 0.01, 0.03, 0.1, 1, 3];
/** Neon's global buckets: 1 µs to 1000 s, about 4 per decade (41 of them). */
const GLOBAL_BUCKETS_SECONDS = Array.from({ length: 41 }, (_, i) =>
  Number((1e-6 * 10 ** (i / 4.444)).toPrecision(3)),
);
/** Redo of Neon's own records takes microseconds: 5 µs to 50 ms, in 1-2.5-5 steps. */
const WAL_REDO_BUCKETS_SECONDS = [
  5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2,
];
const STORAGE_OPERATION_BUCKETS_SECONDS = [0.01, 0.1, 1, 10, 100, 1000];

export type StorageOperation =
  | "layer flush"
  | "compact"
  | "create images"
  | "gc"
  | "find gc cutoffs";

export class PageserverMetrics {
  readonly registry = new Registry();
  private readonly smgrQuery: Histogram<
    "smgr_query_type" | "tenant_id" | "shard_id" | "timeline_id"
  >;
  private readonly smgrQueryGlobal: Histogram<"smgr_query_type">;
  private readonly smgrStarted: Counter<
    "smgr_query_type" | "tenant_id" | "shard_id" | "timeline_id"
  >;
  private readonly storageOperations: Histogram<"operation">;
  private readonly storageOperationSum: Counter<
    "operation" | "tenant_id" | "shard_id" | "timeline_id"
  >;
  private readonly storageOperationCount: Counter<
    "operation" | "tenant_id" | "shard_id" | "timeline_id"
  >;
  readonly connectionsStarted: Counter<"pageserver_connection_kind">;
  readonly connectionsFinished: Counter<"pageserver_connection_kind">;
  readonly batchSize: Histogram;
  readonly layersPerRead: Histogram;
  readonly waitLsnSeconds: Histogram;
  private readonly smgrChildren = new Map<string, { observe(v: number): void }>();
  /** The same observations, kept for the console (percentiles and per-second series). */
  readonly latency = new LatencyRecorder();

  constructor(private readonly tenants: TenantManager) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: "pageserver_process_" });
    const timelineLabels = ["smgr_query_type", "tenant_id", "shard_id", "timeline_id"] as const;
    this.smgrQuery = new Histogram({
      name: "pageserver_smgr_query_seconds",
      help: "Time spent on smgr query handling, aggregated by query type and tenant/timeline.",
      labelNames: timelineLabels,
      buckets: SMGR_BUCKETS_SECONDS,
      registers,
    });
    this.smgrQueryGlobal = new Histogram({
      name: "pageserver_smgr_query_seconds_global",
      help: "Time spent on smgr query handling, aggregated by query type.",
      labelNames: ["smgr_query_type"],
      buckets: GLOBAL_BUCKETS_SECONDS,
      registers,
    });
    this.smgrStarted = new Counter({
      name: "pageserver_smgr_query_started_count",
      help: "Number of smgr queries started.",
      labelNames: timelineLabels,
      registers,
    });
    this.storageOperations = new Histogram({
      name: "pageserver_storage_operations_seconds_global",
      help: "Time taken for storage operations.",
      labelNames: ["operation"],
      buckets: STORAGE_OPERATION_BUCKETS_SECONDS,
      registers,
    });
    const operationLabels = ["operation", "tenant_id", "shard_id", "timeline_id"] as const;
    this.storageOperationSum = new Counter({
      name: "pageserver_storage_operations_seconds_sum",
      help: "Total time spent on storage operations, per timeline.",
      labelNames: operationLabels,
      registers,
    });
    this.storageOperationCount = new Counter({
      name: "pageserver_storage_operations_seconds_count",
      help: "Count of storage operations, per timeline.",
      labelNames: operationLabels,
      registers,
    });
    this.connectionsStarted = new Counter({
      name: "pageserver_live_connections_started",
      help: "Number of network connections started.",
      labelNames: ["pageserver_connection_kind"],
      registers,
    });
    this.connectionsFinished = new Counter({
      name: "pageserver_live_connections_finished",
      help: "Number of network connections finished.",
      labelNames: ["pageserver_connection_kind"],
      registers,
    });
    this.batchSize = new Histogram({
      name: "pageserver_page_service_batch_size",
      help: "GetPage requests merged into one vectored read.",
      buckets: [1, 2, 4, 8, 16, 32],
      registers,
    });
    this.layersPerRead = new Histogram({
      name: "pageserver_layers_per_read",
      help: "Layers visited to serve one vectored read.",
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
      registers,
    });
    this.waitLsnSeconds = new Histogram({
      name: "pageserver_wait_lsn_seconds",
      help: "Time a request waited for its LSN to arrive.",
      buckets: GLOBAL_BUCKETS_SECONDS,
      registers,
    });
    this.registerStateGauges();
    // Redo is an engine-wide function, so the histogram is process-wide (as Neon's).
    const walRedo = new Histogram({
      name: "pageserver_wal_redo_seconds",
      help: "Time spent on WAL redo",
      buckets: WAL_REDO_BUCKETS_SECONDS,
      registers,
    });
    setWalRedoObserver((seconds) => walRedo.observe(seconds));
    this.registerRemoteMetrics();
  }

  /** Observes one smgr query (seconds of execution). */
  observeSmgr(
    type: SmgrQueryType,
    tenantId: string,
    timelineId: string,
    seconds: number,
    count = 1,
  ): void {
    const key = `${type}/${tenantId}/${timelineId}`;
    let child = this.smgrChildren.get(key);
    if (!child) {
      const labels = {
        smgr_query_type: type,
        tenant_id: tenantId,
        shard_id: "0000",
        timeline_id: timelineId,
      };
      const histogram = this.smgrQuery.labels(labels);
      const global = this.smgrQueryGlobal.labels({ smgr_query_type: type });
      const started = this.smgrStarted.labels(labels);
      child = {
        observe(v: number) {
          histogram.observe(v);
          global.observe(v);
          started.inc();
        },
      };
      this.smgrChildren.set(key, child);
    }
    for (let i = 0; i < count; i++) child.observe(seconds);
    this.latency.observe(tenantId, timelineId, type, seconds, count);
  }

  observeStorageOperation(
    operation: StorageOperation,
    tenantId: string,
    timelineId: string,
    seconds: number,
  ): void {
    this.storageOperations.observe({ operation }, seconds);
    const labels = { operation, tenant_id: tenantId, shard_id: "0000", timeline_id: timelineId };
    this.storageOperationSum.inc(labels, seconds);
    this.storageOperationCount.inc(labels);
  }

  /** Drops the label children of a timeline that is gone. */
  forgetTimeline(tenantId: string, timelineId: string): void {
    for (const key of this.smgrChildren.keys())
      if (key.endsWith(`/${tenantId}/${timelineId}`)) this.smgrChildren.delete(key);
  }

  private eachTimeline(
    visit: (tenant: Tenant, timeline: Timeline, labels: Record<string, string>) => void,
  ): void {
    for (const tenant of this.tenants.list()) {
      for (const timeline of tenant.timelines()) {
        visit(tenant, timeline, {
          tenant_id: tenant.tenantId,
          shard_id: "0000",
          timeline_id: timeline.timelineId,
        });
      }
    }
  }

  private timelineGauge(name: string, help: string, value: (timeline: Timeline) => number): void {
    const metrics = this;
    new Gauge({
      name,
      help,
      labelNames: ["tenant_id", "shard_id", "timeline_id"],
      registers: [this.registry],
      collect() {
        this.reset();
        metrics.eachTimeline((_, timeline, labels) => this.set(labels, value(timeline)));
      },
    });
  }

  private registerStateGauges(): void {
    const metrics = this;
    this.timelineGauge(
      "pageserver_last_record_lsn",
      "Last record LSN grouped by timeline",
      (t) => t.lastRecordLsn,
    );
    this.timelineGauge(
      "pageserver_disk_consistent_lsn",
      "Disk consistent LSN grouped by timeline",
      (t) => t.diskConsistentLsn,
    );
    this.timelineGauge(
      "pageserver_resident_physical_size",
      "The size of the layer files present locally",
      (t) => t.residentPhysicalSize(),
    );
    this.timelineGauge(
      "pageserver_remote_physical_size",
      "The size of the layer files named by the uploaded remote index",
      (t) => t.remotePhysicalSize(),
    );
    this.timelineGauge(
      "pageserver_projected_remote_consistent_lsn",
      "disk_consistent_lsn of the newest uploaded index_part.json",
      (t) => t.remote?.remoteConsistentLsn ?? 0,
    );
    this.timelineGauge(
      "pageserver_visible_physical_size",
      "The size of the layer files a read at some read point may visit",
      (t) => {
        let bytes = 0;
        for (const layer of t.layers.historicLayers())
          if (layer.visibility === "Visible") bytes += layer.fileSize;
        return bytes;
      },
    );
    this.timelineGauge(
      "pageserver_valid_lsn_lease_count",
      "The number of LSN leases that have not expired",
      (t) => t.gc.validLeases(Date.now()).length,
    );
    new Gauge({
      name: "pageserver_current_logical_size",
      help: "Current logical size grouped by timeline (bytes of relations and SLRUs at last_record_lsn)",
      labelNames: ["tenant_id", "shard_id", "timeline_id"],
      registers: [this.registry],
      async collect() {
        this.reset();
        const sizes: Array<Promise<void>> = [];
        metrics.eachTimeline((_, timeline, labels) => {
          sizes.push(
            currentLogicalSize(timeline).then(
              (size) => this.set(labels, size),
              // A timeline that cannot answer (broken, shutting down) has no sample this scrape.
              () => {},
            ),
          );
        });
        await Promise.all(sizes);
      },
    });
    this.timelineGauge(
      "pageserver_timeline_ephemeral_bytes",
      "Bytes held in in-memory layers",
      (t) => t.ephemeralBytes(),
    );
    new Gauge({
      name: "pageserver_resident_physical_size_global",
      help: "Total size of the layer files present locally",
      registers: [this.registry],
      collect() {
        let total = 0;
        metrics.eachTimeline((_, timeline) => {
          total += timeline.residentPhysicalSize();
        });
        this.set(total);
      },
    });
    const layerLabels = ["tenant_id", "shard_id", "timeline_id", "level", "kind"] as const;
    const layerStats = (timeline: Timeline) => {
      const stats = { l0: [0, 0], l1Delta: [0, 0], image: [0, 0], frozen: [0, 0] };
      for (const layer of timeline.layers.historicLayers()) {
        const bucket = layer.kind === "image" ? stats.image : layer.isL0 ? stats.l0 : stats.l1Delta;
        bucket[0]!++;
        bucket[1]! += layer.fileSize;
      }
      for (const frozen of timeline.layers.frozenLayers) {
        stats.frozen[0]!++;
        stats.frozen[1]! += frozen.size;
      }
      return stats;
    };
    for (const [name, index] of [
      ["pageserver_layer_count", 0],
      ["pageserver_layer_bytes", 1],
    ] as const) {
      new Gauge({
        name,
        help:
          index === 0
            ? "Number of layers, by level and kind"
            : "Bytes of layers, by level and kind",
        labelNames: layerLabels,
        registers: [this.registry],
        collect() {
          this.reset();
          metrics.eachTimeline((_, timeline, labels) => {
            const stats = layerStats(timeline);
            this.set({ ...labels, level: "l0", kind: "delta" }, stats.l0[index]!);
            this.set({ ...labels, level: "l1", kind: "delta" }, stats.l1Delta[index]!);
            this.set({ ...labels, level: "l1", kind: "image" }, stats.image[index]!);
            this.set({ ...labels, level: "frozen", kind: "delta" }, stats.frozen[index]!);
          });
        },
      });
    }
    const ingestCounter = (name: string, help: string, read: () => number) =>
      new Counter({
        name,
        help,
        registers: [this.registry],
        collect() {
          this.reset();
          this.inc(read());
        },
      });
    ingestCounter(
      "pageserver_wal_ingest_records_received",
      "Number of WAL records received",
      () => ingestStats.recordsReceived,
    );
    ingestCounter(
      "pageserver_wal_ingest_bytes_received",
      "Bytes of WAL received",
      () => ingestStats.bytesReceived,
    );
    ingestCounter(
      "pageserver_wal_ingest_records_committed",
      "Number of WAL records committed",
      () => ingestStats.recordsReceived,
    );
    ingestCounter(
      "pageserver_wal_ingest_values_committed",
      "Number of values committed",
      () => ingestStats.valuesCommitted,
    );
  }

  /** Remote storage, eviction and on-demand download metrics (reference §12). */
  private registerRemoteMetrics(): void {
    const metrics = this;
    const registers = [this.registry];
    const callLabels = ["tenant_id", "shard_id", "timeline_id", "file_kind", "op_kind"] as const;
    const callCounter = (
      name: string,
      help: string,
      field: "callsStarted" | "callsFinished" | "bytesStarted" | "bytesFinished",
    ) =>
      new Counter({
        name,
        help,
        labelNames: callLabels,
        registers,
        collect() {
          this.reset();
          metrics.eachTimeline((_, timeline, labels) => {
            for (const row of timeline.remote?.counters.entries() ?? []) {
              this.inc({ ...labels, file_kind: row.fileKind, op_kind: row.opKind }, row[field]);
            }
          });
        },
      });
    callCounter(
      "pageserver_remote_timeline_client_calls_started",
      "Number of started calls to remote timeline client (scheduled; queue depth = started - finished).",
      "callsStarted",
    );
    callCounter(
      "pageserver_remote_timeline_client_calls_finished",
      "Number of finished calls to remote timeline client.",
      "callsFinished",
    );
    callCounter(
      "pageserver_remote_timeline_client_bytes_started",
      "Bytes of the remote timeline client operations started.",
      "bytesStarted",
    );
    callCounter(
      "pageserver_remote_timeline_client_bytes_finished",
      "Bytes of the remote timeline client operations finished.",
      "bytesFinished",
    );
    const timelineCounter = (
      name: string,
      help: string,
      value: (timeline: Timeline) => number,
      extraLabels: Record<string, string> = {},
    ) =>
      new Counter({
        name,
        help,
        labelNames: ["tenant_id", "shard_id", "timeline_id", ...Object.keys(extraLabels)],
        registers,
        collect() {
          this.reset();
          metrics.eachTimeline((_, timeline, labels) =>
            this.inc({ ...labels, ...extraLabels }, value(timeline)),
          );
        },
      });
    timelineCounter(
      "pageserver_evictions",
      "Number of layers evicted from the pageserver",
      (t) => t.residenceStats.evictions,
    );
    new Counter({
      name: "pageserver_evictions_with_low_residence_duration",
      help: "Layers evicted after less than the tenant's evictions_low_residence_duration_metric_threshold of residence.",
      labelNames: [
        "tenant_id",
        "shard_id",
        "timeline_id",
        "residence_duration_data_source",
        "low_threshold_secs",
      ],
      registers,
      collect() {
        this.reset();
        metrics.eachTimeline((tenant, timeline, labels) =>
          this.inc(
            {
              ...labels,
              residence_duration_data_source: "residence_start",
              low_threshold_secs: String(
                Math.round(tenant.config.evictionsLowResidenceDurationMetricThresholdMs / 1000),
              ),
            },
            timeline.residenceStats.evictionsWithLowResidence,
          ),
        );
      },
    });
    timelineCounter(
      "pageserver_ondemand_download_count",
      "Number of on-demand layer downloads",
      (t) => t.residenceStats.onDemandDownloads,
    );
    timelineCounter(
      "pageserver_ondemand_download_bytes_total",
      "Bytes downloaded on demand",
      (t) => t.residenceStats.onDemandDownloadBytes,
    );
    const globalCounter = (name: string, help: string, read: () => number) =>
      new Counter({
        name,
        help,
        registers,
        collect() {
          this.reset();
          this.inc(read());
        },
      });
    globalCounter(
      "pageserver_disk_usage_based_eviction_collected_layers_total",
      "Layers considered by disk-usage-based eviction",
      () => evictionStats.diskUsageCollectedLayers,
    );
    globalCounter(
      "pageserver_disk_usage_based_eviction_select_layers_total",
      "Layers selected by disk-usage-based eviction",
      () => evictionStats.diskUsageSelectedLayers,
    );
    globalCounter(
      "pageserver_disk_usage_based_eviction_evicted_layers_total",
      "Layers evicted by disk-usage-based eviction",
      () => evictionStats.diskUsageEvictedLayers,
    );
    globalCounter(
      "pageserver_disk_usage_based_eviction_evicted_bytes_total",
      "Bytes evicted by disk-usage-based eviction",
      () => evictionStats.diskUsageEvictedBytes,
    );
    const deletionStats = () => this.tenants.remote?.deletionQueue.stats;
    globalCounter(
      "pageserver_deletion_queue_submitted_total",
      "Object keys submitted for remote deletion",
      () => deletionStats()?.submitted ?? 0,
    );
    globalCounter(
      "pageserver_deletion_queue_executed_total",
      "Object keys deleted from remote storage",
      () => deletionStats()?.executed ?? 0,
    );
    globalCounter(
      "pageserver_deletion_queue_remote_errors_total",
      "Failed remote delete calls (retried)",
      () => deletionStats()?.remoteErrors ?? 0,
    );
    globalCounter(
      "pageserver_deletion_queue_validated_total",
      "Object keys whose generation was found current before deletion",
      () => deletionStats()?.validated ?? 0,
    );
    globalCounter(
      "pageserver_deletion_queue_dropped_total",
      "Object keys not deleted: the tenant was attached elsewhere under a newer generation",
      () => deletionStats()?.dropped ?? 0,
    );
  }

  async render(): Promise<string> {
    return this.registry.metrics();
  }
}
