/**
 * GetPage (and other smgr) latency kept for the console: per timeline and query type, a
 * log-scale histogram since start and a ring of per-second histograms for the last 10 minutes, so
 * percentiles and time series are computed without scraping Prometheus. Observing is a few array
 * increments; nothing allocates per request.
 *
 * Buckets: 64, from 1 µs, each 25 % wider than the last (upper bound of bucket i is
 * 1 µs × 1.25^(i+1)), the last one open-ended (about 1.6 s and above).
 */
export const LATENCY_BUCKETS = 64;
const BUCKET_BASE_SECONDS = 1e-6;
const BUCKET_GROWTH = 1.25;
const LOG_GROWTH = Math.log(BUCKET_GROWTH);
export const LATENCY_HISTORY_SECONDS = 600;

export function bucketUpperBoundSeconds(bucket: number): number {
  return BUCKET_BASE_SECONDS * BUCKET_GROWTH ** (bucket + 1);
}

export function bucketOf(seconds: number): number {
  if (seconds <= BUCKET_BASE_SECONDS) return 0;
  const bucket = Math.floor(Math.log(seconds / BUCKET_BASE_SECONDS) / LOG_GROWTH);
  return bucket >= LATENCY_BUCKETS ? LATENCY_BUCKETS - 1 : bucket;
}

/** The q-quantile (0..1) of a bucket histogram, as the bucket's upper bound, in seconds. */
export function quantileSeconds(counts: ArrayLike<number>, q: number): number | null {
  let total = 0;
  for (let i = 0; i < counts.length; i++) total += counts[i]!;
  if (total === 0) return null;
  const rank = Math.ceil(q * total);
  let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    seen += counts[i]!;
    if (seen >= rank) return bucketUpperBoundSeconds(i);
  }
  return bucketUpperBoundSeconds(counts.length - 1);
}

class Series {
  readonly total = new Float64Array(LATENCY_BUCKETS);
  /** Per-second histograms: slot = second % HISTORY. */
  readonly ring = new Uint32Array(LATENCY_HISTORY_SECONDS * LATENCY_BUCKETS);
  readonly ringSecond = new Float64Array(LATENCY_HISTORY_SECONDS).fill(-1);
  count = 0;
  sumSeconds = 0;

  observe(seconds: number, second: number, times: number): void {
    const bucket = bucketOf(seconds);
    this.total[bucket]! += times;
    this.count += times;
    this.sumSeconds += seconds * times;
    const slot = second % LATENCY_HISTORY_SECONDS;
    if (this.ringSecond[slot] !== second) {
      this.ring.fill(0, slot * LATENCY_BUCKETS, (slot + 1) * LATENCY_BUCKETS);
      this.ringSecond[slot] = second;
    }
    this.ring[slot * LATENCY_BUCKETS + bucket]! += times;
  }
}

export interface LatencyPoint {
  /** Unix seconds. */
  readonly second: number;
  readonly count: number;
  readonly p50Seconds: number | null;
  readonly p99Seconds: number | null;
}

export class LatencyRecorder {
  private readonly series = new Map<string, Series>();

  private static id(tenantId: string, timelineId: string, queryType: string): string {
    return `${tenantId}/${timelineId}/${queryType}`;
  }

  observe(
    tenantId: string,
    timelineId: string,
    queryType: string,
    seconds: number,
    times = 1,
    nowMs = Date.now(),
  ): void {
    const id = LatencyRecorder.id(tenantId, timelineId, queryType);
    let series = this.series.get(id);
    if (!series) this.series.set(id, (series = new Series()));
    series.observe(seconds, Math.floor(nowMs / 1000), times);
  }

  forget(tenantId: string, timelineId: string): void {
    for (const id of this.series.keys())
      if (id.startsWith(`${tenantId}/${timelineId}/`)) this.series.delete(id);
  }

  private matching(filter: {
    tenantId?: string;
    timelineId?: string;
    queryType?: string;
  }): Series[] {
    const out: Series[] = [];
    for (const [id, series] of this.series) {
      const [tenantId, timelineId, queryType] = id.split("/");
      if (filter.tenantId && tenantId !== filter.tenantId) continue;
      if (filter.timelineId && timelineId !== filter.timelineId) continue;
      if (filter.queryType && queryType !== filter.queryType) continue;
      out.push(series);
    }
    return out;
  }

  /** The histogram since start (bucket counts), summed over matching series. */
  histogram(filter: { tenantId?: string; timelineId?: string; queryType?: string } = {}): {
    counts: number[];
    count: number;
    meanSeconds: number | null;
    p50Seconds: number | null;
    p99Seconds: number | null;
    upperBoundsSeconds: number[];
  } {
    const counts = new Array<number>(LATENCY_BUCKETS).fill(0);
    let count = 0;
    let sum = 0;
    for (const series of this.matching(filter)) {
      for (let i = 0; i < LATENCY_BUCKETS; i++) counts[i]! += series.total[i]!;
      count += series.count;
      sum += series.sumSeconds;
    }
    return {
      counts,
      count,
      meanSeconds: count === 0 ? null : sum / count,
      p50Seconds: quantileSeconds(counts, 0.5),
      p99Seconds: quantileSeconds(counts, 0.99),
      upperBoundsSeconds: counts.map((_, i) => bucketUpperBoundSeconds(i)),
    };
  }

  /** Per-second points for the last `seconds` seconds (oldest first). */
  timeSeries(
    filter: { tenantId?: string; timelineId?: string; queryType?: string },
    seconds = 120,
    nowMs = Date.now(),
  ): LatencyPoint[] {
    const now = Math.floor(nowMs / 1000);
    const span = Math.min(seconds, LATENCY_HISTORY_SECONDS);
    const matching = this.matching(filter);
    const points: LatencyPoint[] = [];
    const counts = new Array<number>(LATENCY_BUCKETS);
    for (let second = now - span + 1; second <= now; second++) {
      counts.fill(0);
      let count = 0;
      const slot = second % LATENCY_HISTORY_SECONDS;
      for (const series of matching) {
        if (series.ringSecond[slot] !== second) continue;
        for (let i = 0; i < LATENCY_BUCKETS; i++) {
          const n = series.ring[slot * LATENCY_BUCKETS + i]!;
          counts[i]! += n;
          count += n;
        }
      }
      points.push({
        second,
        count,
        p50Seconds: quantileSeconds(counts, 0.5),
        p99Seconds: quantileSeconds(counts, 0.99),
      });
    }
    return points;
  }
}
