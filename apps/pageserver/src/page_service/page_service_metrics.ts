/**
 * The page service's own Prometheus metrics, with Neon's names and labels (reference §12):
 *
 *     pageserver_smgr_query_started_global_count{smgr_query_type}
 *     pageserver_page_service_batch_break_reason[_global]{…, reason}
 *     pageserver_page_service_pagestream_batch_wait_time_seconds[_global]
 *     pageserver_page_service_pagestream_flush_in_progress_micros[_global]
 *     pageserver_page_service_config_max_batch_size{mode, execution, batching}
 *     pageserver_get_vectored_seconds{task_kind="PageRequestHandler"}
 *     pageserver_compute_commands{command}
 *
 * They are observed per request on the GetPage path, so they do not go through prom-client's
 * labelled children (which hash the label set on every call): each child here is a plain
 * object holding its counts, found once per connection, and updated with a few arithmetic
 * operations. The registry reads them at scrape time through prom-client's metric interface
 * (`get()`), so /metrics shows them beside the others. Children of timelines that no longer
 * exist are dropped at scrape time.
 */
import type { Registry } from "prom-client";

/** Neon's per-timeline smgr buckets. */
const SMGR_BUCKETS_SECONDS = [0.0006, 0.001, 0.003, 0.006, 0.01, 0.03, 0.1, 1, 3];
/** Neon's instance-wide buckets: 1 µs to 1000 s, 41 of them. */
const GLOBAL_BUCKETS_SECONDS = Array.from({ length: 41 }, (_, i) =>
  Number((1e-6 * 10 ** (i / 4.444)).toPrecision(3)),
);
/** Neon's CRITICAL_OP_BUCKETS: 1 µs … 100 s, one per decade. */
const CRITICAL_OP_BUCKETS_SECONDS = [1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 0.1, 1, 10, 100];

export const BATCH_BREAK_REASONS = [
  "batch_full",
  "non_batchable_request",
  "non_uniform_lsn",
  "same_page_at_different_lsn",
  "non_uniform_timeline",
  "executor_steal",
] as const;
export type BatchBreakReason = (typeof BATCH_BREAK_REASONS)[number];

export const COMPUTE_COMMANDS = [
  "PageStreamV3",
  "PageStreamV2",
  "Basebackup",
  "Fullbackup",
  "LeaseLsn",
] as const;
export type ComputeCommand = (typeof COMPUTE_COMMANDS)[number];

type Labels = Record<string, string>;

interface MetricValue {
  labels: Labels;
  value: number;
  metricName?: string;
}

/** A histogram child: bucket counts (not cumulative), sum and count. */
export class HistogramChild {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(
    readonly labels: Labels,
    private readonly bounds: readonly number[],
  ) {
    this.counts = new Float64Array(bounds.length);
  }

  observe(seconds: number): void {
    const bounds = this.bounds;
    let low = 0;
    let high = bounds.length;
    // The first bound ≥ value (Prometheus buckets are `le`); past the last, only +Inf counts it.
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (bounds[mid]! < seconds) low = mid + 1;
      else high = mid;
    }
    if (low < bounds.length) this.counts[low]!++;
    this.sum += seconds;
    this.count++;
  }
}

export class CounterChild {
  value = 0;
  constructor(readonly labels: Labels) {}
}

/** What a child belongs to, so that children of deleted timelines can be dropped. */
type Owner = { tenantId: string; timelineId: string } | null;

/** The parts of prom-client's Metric the registry uses. */
abstract class FastMetric<Child> {
  protected readonly children = new Map<string, { child: Child; owner: Owner }>();
  readonly aggregator = "sum";

  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: "counter" | "histogram" | "gauge",
    private readonly alive: (owner: NonNullable<Owner>) => boolean,
  ) {}

  protected abstract make(labels: Labels): Child;

  child(labels: Labels, owner: Owner = null): Child {
    const id = Object.values(labels).join("\u0000");
    let entry = this.children.get(id);
    if (!entry) {
      entry = { child: this.make(labels), owner };
      this.children.set(id, entry);
    }
    return entry.child;
  }

  protected liveChildren(): Child[] {
    const live: Child[] = [];
    for (const [id, entry] of this.children) {
      if (entry.owner !== null && !this.alive(entry.owner)) this.children.delete(id);
      else live.push(entry.child);
    }
    return live;
  }

  protected abstract values(): MetricValue[];

  async get() {
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      values: this.values(),
      aggregator: this.aggregator,
    };
  }

  reset(): void {
    this.children.clear();
  }
}

class FastHistogram extends FastMetric<HistogramChild> {
  constructor(
    name: string,
    help: string,
    private readonly bounds: readonly number[],
    alive: (owner: NonNullable<Owner>) => boolean,
  ) {
    super(name, help, "histogram", alive);
  }

  protected make(labels: Labels): HistogramChild {
    return new HistogramChild(labels, this.bounds);
  }

  protected values(): MetricValue[] {
    const out: MetricValue[] = [];
    for (const child of this.liveChildren()) {
      let cumulative = 0;
      for (let i = 0; i < this.bounds.length; i++) {
        cumulative += child.counts[i]!;
        out.push({
          metricName: `${this.name}_bucket`,
          labels: { ...child.labels, le: String(this.bounds[i]) },
          value: cumulative,
        });
      }
      out.push(
        {
          metricName: `${this.name}_bucket`,
          labels: { ...child.labels, le: "+Inf" },
          value: child.count,
        },
        { metricName: `${this.name}_sum`, labels: child.labels, value: child.sum },
        { metricName: `${this.name}_count`, labels: child.labels, value: child.count },
      );
    }
    return out;
  }
}

class FastCounter extends FastMetric<CounterChild> {
  constructor(
    name: string,
    help: string,
    alive: (owner: NonNullable<Owner>) => boolean,
    type: "counter" | "gauge" = "counter",
  ) {
    super(name, help, type, alive);
  }

  protected make(labels: Labels): CounterChild {
    return new CounterChild(labels);
  }

  protected values(): MetricValue[] {
    return this.liveChildren().map((child) => ({ labels: child.labels, value: child.value }));
  }
}

/** The metrics of one pagestream: its timeline's children, looked up once. */
export interface PagestreamMetrics {
  readonly getPageStartedGlobal: CounterChild;
  readonly batchWait: HistogramChild;
  readonly batchWaitGlobal: HistogramChild;
  readonly flushMicros: CounterChild;
  readonly flushMicrosGlobal: CounterChild;
  readonly getVectored: HistogramChild;
  breakBatch(reason: BatchBreakReason): void;
  /** Another request kind started (Exists, Nblocks, DbSize, GetSlruSegment). */
  started(smgrQueryType: string): void;
}

export class PageServiceMetrics {
  private readonly startedGlobal: FastCounter;
  private readonly breakReason: FastCounter;
  private readonly breakReasonGlobal: FastCounter;
  private readonly batchWait: FastHistogram;
  private readonly batchWaitGlobal: FastHistogram;
  private readonly flush: FastCounter;
  private readonly flushGlobal: FastCounter;
  private readonly getVectored: FastHistogram;
  private readonly commands: FastCounter;
  private readonly maxBatchSize: FastCounter;

  private static readonly byRegistry = new WeakMap<Registry, PageServiceMetrics>();

  /** One set per registry (a process has one; tests may build several page services on it). */
  static of(registry: Registry, alive: (tenantId: string, timelineId: string) => boolean) {
    let metrics = PageServiceMetrics.byRegistry.get(registry);
    if (!metrics) {
      metrics = new PageServiceMetrics(registry, alive);
      PageServiceMetrics.byRegistry.set(registry, metrics);
    }
    return metrics;
  }

  private constructor(
    registry: Registry,
    aliveTimeline: (tenantId: string, timelineId: string) => boolean,
  ) {
    const alive = (owner: NonNullable<Owner>) => aliveTimeline(owner.tenantId, owner.timelineId);
    this.startedGlobal = new FastCounter(
      "pageserver_smgr_query_started_global_count",
      "Number of smgr queries started, aggregated by query type.",
      alive,
    );
    this.breakReason = new FastCounter(
      "pageserver_page_service_batch_break_reason",
      "Reason for breaking batches of get page requests",
      alive,
    );
    this.breakReasonGlobal = new FastCounter(
      "pageserver_page_service_batch_break_reason_global",
      "Reason for breaking batches of get page requests",
      alive,
    );
    this.batchWait = new FastHistogram(
      "pageserver_page_service_pagestream_batch_wait_time_seconds",
      "Time a request spent waiting in its batch until the batch moved to execution.",
      SMGR_BUCKETS_SECONDS,
      alive,
    );
    this.batchWaitGlobal = new FastHistogram(
      "pageserver_page_service_pagestream_batch_wait_time_seconds_global",
      "Like pageserver_page_service_pagestream_batch_wait_time_seconds, but aggregated to instance level.",
      GLOBAL_BUCKETS_SECONDS,
      alive,
    );
    this.flush = new FastCounter(
      "pageserver_page_service_pagestream_flush_in_progress_micros",
      "Microseconds pagestream responses spent being flushed into the TCP connection.",
      alive,
    );
    this.flushGlobal = new FastCounter(
      "pageserver_page_service_pagestream_flush_in_progress_micros_global",
      "Like pageserver_page_service_pagestream_flush_in_progress_micros, but instance-wide.",
      alive,
    );
    this.getVectored = new FastHistogram(
      "pageserver_get_vectored_seconds",
      "Time spent in get_vectored.",
      CRITICAL_OP_BUCKETS_SECONDS,
      alive,
    );
    this.commands = new FastCounter(
      "pageserver_compute_commands",
      "Number of compute -> pageserver commands processed",
      alive,
    );
    this.maxBatchSize = new FastCounter(
      "pageserver_page_service_config_max_batch_size",
      "Configured maximum batch size for the server-side batching of the page service.",
      alive,
      "gauge",
    );
    for (const metric of [
      this.startedGlobal,
      this.breakReason,
      this.breakReasonGlobal,
      this.batchWait,
      this.batchWaitGlobal,
      this.flush,
      this.flushGlobal,
      this.getVectored,
      this.commands,
      this.maxBatchSize,
    ]) {
      registry.registerMetric(metric as never);
    }
    // Every series exists from the start (a rate over a missing series is no rate at all).
    for (const command of COMPUTE_COMMANDS) this.commands.child({ command });
    for (const reason of BATCH_BREAK_REASONS) this.breakReasonGlobal.child({ reason });
  }

  setMaxBatchSize(pipelined: boolean, maxBatchSize: number): void {
    this.maxBatchSize.reset();
    const labels = pipelined
      ? { mode: "pipelined", execution: "concurrent-futures", batching: "scattered-lsn" }
      : { mode: "serial", execution: "-", batching: "-" };
    this.maxBatchSize.child(labels).value = pipelined ? maxBatchSize : 1;
  }

  command(command: ComputeCommand): void {
    this.commands.child({ command }).value++;
  }

  /** The children of one timeline, for a pagestream to keep. */
  forTimeline(tenantId: string, timelineId: string): PagestreamMetrics {
    const owner = { tenantId, timelineId };
    const labels = { tenant_id: tenantId, shard_id: "0000", timeline_id: timelineId };
    const reasons = new Map<BatchBreakReason, [CounterChild, CounterChild]>();
    for (const reason of BATCH_BREAK_REASONS) {
      reasons.set(reason, [
        this.breakReason.child({ ...labels, reason }, owner),
        this.breakReasonGlobal.child({ reason }),
      ]);
    }
    const startedGlobal = this.startedGlobal;
    return {
      getPageStartedGlobal: startedGlobal.child({ smgr_query_type: "get_page_at_lsn" }),
      batchWait: this.batchWait.child(labels, owner),
      batchWaitGlobal: this.batchWaitGlobal.child({}),
      flushMicros: this.flush.child(labels, owner),
      flushMicrosGlobal: this.flushGlobal.child({}),
      getVectored: this.getVectored.child({ task_kind: "PageRequestHandler" }),
      breakBatch(reason) {
        const [perTimeline, global] = reasons.get(reason)!;
        perTimeline.value++;
        global.value++;
      },
      started(smgrQueryType) {
        startedGlobal.child({ smgr_query_type: smgrQueryType }).value++;
      },
    };
  }
}
