/**
 * Ingest rate per timeline, for the console: once a second, the sampler reads every timeline's
 * last_record_lsn and its WAL source's record count into a ring of the last 10 minutes; rates are
 * differences between samples. The sampler starts on first use and stops itself after
 * `IDLE_STOP_MS` without a reader, so a pageserver nobody watches pays nothing.
 *
 * Memory is bounded: `HISTORY_SECONDS` samples per timeline, and timelines that disappear are
 * dropped at the next sample.
 */
import type { TenantManager } from "@pageserver/engine";

export const INGEST_HISTORY_SECONDS = 600;
const SAMPLE_PERIOD_MS = 1000;
const IDLE_STOP_MS = 10 * 60 * 1000;

export interface IngestPoint {
  /** Unix seconds at the end of the interval. */
  readonly second: number;
  /** WAL (LSN distance) per second over the interval. */
  readonly walBytesPerSecond: number;
  readonly recordsPerSecond: number;
  readonly lastRecordLsn: number;
}

interface Sample {
  atMs: number;
  lsn: number;
  records: number;
}

class Ring {
  readonly samples: Sample[] = [];

  push(sample: Sample): void {
    this.samples.push(sample);
    if (this.samples.length > INGEST_HISTORY_SECONDS + 1) this.samples.shift();
  }
}

export class IngestSampler {
  private readonly tenants: TenantManager;
  private readonly rings = new Map<string, Ring>();
  private timer: NodeJS.Timeout | null = null;
  private lastReadMs = 0;

  constructor(tenants: TenantManager) {
    this.tenants = tenants;
  }

  /** Marks a reader: starts sampling (with one sample now) if it was stopped. */
  private touch(nowMs = Date.now()): void {
    this.lastReadMs = nowMs;
    if (this.timer) return;
    this.sample(nowMs);
    this.timer = setInterval(() => {
      if (Date.now() - this.lastReadMs > IDLE_STOP_MS) this.stop();
      else this.sample(Date.now());
    }, SAMPLE_PERIOD_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.rings.clear();
  }

  private sample(nowMs: number): void {
    const seen = new Set<string>();
    for (const tenant of this.tenants.list()) {
      for (const timeline of tenant.timelines()) {
        const id = `${tenant.tenantId}/${timeline.timelineId}`;
        seen.add(id);
        let ring = this.rings.get(id);
        if (!ring) this.rings.set(id, (ring = new Ring()));
        const loop = tenant.ingestLoop(timeline.timelineId);
        ring.push({
          atMs: nowMs,
          lsn: timeline.lastRecordLsn,
          records: loop?.progress.records ?? 0,
        });
      }
    }
    for (const id of this.rings.keys()) if (!seen.has(id)) this.rings.delete(id);
  }

  /** Per-interval rates for the last `seconds` seconds (oldest first). */
  series(tenantId: string, timelineId: string, seconds: number): IngestPoint[] {
    this.touch();
    const samples = this.rings.get(`${tenantId}/${timelineId}`)?.samples ?? [];
    const first = Math.max(1, samples.length - seconds);
    const points: IngestPoint[] = [];
    for (let i = first; i < samples.length; i++) points.push(rate(samples[i - 1]!, samples[i]!));
    return points;
  }

  /** The rate over the last few seconds (smoother than one interval), or zero before two samples. */
  current(tenantId: string, timelineId: string, windowSeconds = 5): IngestPoint {
    this.touch();
    const samples = this.rings.get(`${tenantId}/${timelineId}`)?.samples ?? [];
    const last = samples[samples.length - 1];
    if (!last)
      return {
        second: Math.floor(Date.now() / 1000),
        walBytesPerSecond: 0,
        recordsPerSecond: 0,
        lastRecordLsn: 0,
      };
    const from = samples[Math.max(0, samples.length - 1 - windowSeconds)]!;
    return rate(from, last);
  }
}

function rate(from: Sample, to: Sample): IngestPoint {
  const seconds = Math.max((to.atMs - from.atMs) / 1000, 1e-3);
  return {
    second: Math.floor(to.atMs / 1000),
    walBytesPerSecond: from === to ? 0 : Math.max(0, to.lsn - from.lsn) / seconds,
    recordsPerSecond: from === to ? 0 : Math.max(0, to.records - from.records) / seconds,
    lastRecordLsn: to.lsn,
  };
}

const samplers = new WeakMap<TenantManager, IngestSampler>();

/** The one sampler of a pageserver's tenants (created on first use). */
export function ingestSampler(tenants: TenantManager): IngestSampler {
  let sampler = samplers.get(tenants);
  if (!sampler) samplers.set(tenants, (sampler = new IngestSampler(tenants)));
  return sampler;
}
