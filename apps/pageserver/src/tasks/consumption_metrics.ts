/**
 * Consumption metrics (Neon's `consumption_metrics` task): every `metric_collection_interval`,
 * per-tenant and per-timeline usage is collected and POSTed as JSON to
 * `metric_collection_endpoint`, in Neon's event shape and with Neon's metric names:
 *
 *     written_size              timeline  absolute     last_record_lsn (bytes of WAL written)
 *     written_data_bytes_delta  timeline  incremental  written_size since the previous event
 *     timeline_logical_size     timeline  absolute     the timeline's logical size
 *     remote_storage_size       tenant    absolute     bytes of the tenant's layers in remote storage
 *     resident_size             tenant    absolute     bytes of the tenant's layers on local disk
 *
 * (Neon's `synthetic_storage_size` needs the synthetic size model, which we do not compute, and
 * Neon only sends it when non-zero: it is never sent here.)
 *
 * Each POST body is `{"events": [...]}`, at most 1,000 events (Neon's chunk size). An event:
 * `{"type": "absolute", "time": …}` or `{"type": "incremental", "start_time": …, "stop_time": …}`,
 * then `metric`, `idempotency_key` (`<time>-<node_id>-<nonce>`, unique per event, so a receiver
 * can drop a retried duplicate), `value`, `tenant_id`, and `timeline_id` for timeline metrics.
 *
 * # Delivery
 * A chunk that fails (connection error, timeout, 5xx) is retried a few times with backoff within
 * the round; if it still fails its events stay pending and go out again, with their original
 * idempotency keys, at the next round. A 4xx is a rejection, as in Neon: logged and dropped.
 * Pending events are bounded (`PENDING_EVENTS_MAX`; the oldest are dropped with a warning).
 *
 * # Crash consistency
 * The state — the last value generated per metric (the base of the next delta) and the pending
 * events — lives in `<workdir>/consumption_metrics.json`, replaced atomically. It is written
 * after collecting and before uploading, then again after uploading, so a crash can re-send an
 * event (same idempotency key: harmless) but never loses one nor counts a delta twice. Deltas
 * are taken from the last *generated* value, not the last sent one, because pending events will
 * still be delivered; a timeline first seen in this process starts from its disk_consistent_lsn
 * at that moment (Neon starts from the LSN it loaded at).
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { currentLogicalSize } from "@pageserver/api";
import { abortableSleep, type TenantManager, writeFileDurablySync } from "@pageserver/engine";
import type { ProcessLogger } from "../logging.ts";

export const CONSUMPTION_METRICS_FILE = "consumption_metrics.json";
/** Neon's CHUNK_SIZE: events per POST. */
export const EVENTS_PER_CHUNK = 1000;
/** Unsent events kept for later rounds; beyond this the oldest are dropped. */
export const PENDING_EVENTS_MAX = 50_000;
const UPLOAD_ATTEMPTS = 3;
const UPLOAD_BACKOFF_MS = 200;
const UPLOAD_TIMEOUT_MS = 10_000;
const STATE_VERSION = 1;

export type MetricName =
  | "written_size"
  | "written_data_bytes_delta"
  | "timeline_logical_size"
  | "remote_storage_size"
  | "resident_size";

export type ConsumptionEvent = (
  | { type: "absolute"; time: string }
  | { type: "incremental"; start_time: string; stop_time: string }
) & {
  metric: MetricName;
  idempotency_key: string;
  value: number;
  tenant_id: string;
  timeline_id?: string;
};

/** The last value generated for one metric of one tenant or timeline. */
interface LastValue {
  /** For absolute metrics the event time, for incremental ones the stop time. */
  time: string;
  value: number;
}

interface PersistedState {
  version: number;
  last: Record<string, LastValue>;
  pending: ConsumptionEvent[];
}

export interface ConsumptionMetricsOptions {
  readonly endpoint: string;
  readonly intervalMs: number;
  readonly nodeId: number;
  readonly workdir: string;
  readonly tenants: TenantManager;
  readonly log: ProcessLogger;
}

export interface RoundResult {
  readonly collected: number;
  readonly sent: number;
  readonly rejected: number;
  readonly pending: number;
}

function metricKey(metric: MetricName, tenantId: string, timelineId?: string): string {
  return timelineId === undefined ? `${tenantId}/${metric}` : `${tenantId}/${timelineId}/${metric}`;
}

/** chrono's Display of a UTC time, as Neon's idempotency keys begin: `2022-12-28 11:07:19.317 UTC`. */
function keyTime(iso: string): string {
  return `${iso.replace("T", " ").replace("Z", "")} UTC`;
}

export class ConsumptionMetrics {
  private readonly options: ConsumptionMetricsOptions;
  private readonly file: string;
  private last = new Map<string, LastValue>();
  private pending: ConsumptionEvent[] = [];
  private nonce = Math.floor(Math.random() * 0x10000);

  constructor(options: ConsumptionMetricsOptions) {
    this.options = options;
    this.file = path.join(options.workdir, CONSUMPTION_METRICS_FILE);
    this.load();
  }

  /** Events collected but not yet accepted by the endpoint. */
  get pendingEvents(): readonly ConsumptionEvent[] {
    return this.pending;
  }

  private load(): void {
    if (!existsSync(this.file)) return;
    try {
      const state = JSON.parse(readFileSync(this.file, "utf8")) as PersistedState;
      if (state.version !== STATE_VERSION) throw new Error(`unknown version ${state.version}`);
      this.last = new Map(Object.entries(state.last));
      this.pending = state.pending;
    } catch (error) {
      // The file only makes deltas continuous and retries sends; losing it loses no data.
      this.options.log.warn(
        { file: this.file, err: error },
        "ignoring unreadable consumption metrics state",
      );
    }
  }

  private persist(): void {
    const state: PersistedState = {
      version: STATE_VERSION,
      last: Object.fromEntries(this.last),
      pending: this.pending,
    };
    writeFileDurablySync(this.file, JSON.stringify(state));
  }

  private idempotencyKey(time: string): string {
    this.nonce = (this.nonce + 1) & 0xffff;
    return `${keyTime(time)}-${this.options.nodeId}-${this.nonce}`;
  }

  private absolute(
    metric: MetricName,
    value: number,
    time: string,
    tenantId: string,
    timelineId?: string,
  ): ConsumptionEvent {
    const event: ConsumptionEvent = {
      type: "absolute",
      time,
      metric,
      idempotency_key: this.idempotencyKey(time),
      value,
      tenant_id: tenantId,
    };
    if (timelineId !== undefined) event.timeline_id = timelineId;
    this.last.set(metricKey(metric, tenantId, timelineId), { time, value });
    return event;
  }

  /** Collects one round of events (Neon's collect_all_metrics); updates the delta bases. */
  async collect(now = new Date()): Promise<ConsumptionEvent[]> {
    const time = now.toISOString();
    const events: ConsumptionEvent[] = [];
    for (const tenant of this.options.tenants.list()) {
      if (tenant.state.slug !== "Active") continue;
      const tenantId = tenant.tenantId;
      let resident = 0;
      let remote = 0;
      const timelines = tenant.timelines();
      for (const timeline of timelines) {
        if (timeline.state.kind !== "Active") continue;
        const timelineId = timeline.timelineId;
        resident += timeline.residentPhysicalSize();
        remote += timeline.remotePhysicalSize();
        const written = timeline.lastRecordLsn as number;
        const sizeKey = metricKey("written_size", tenantId, timelineId);
        const deltaKey = metricKey("written_data_bytes_delta", tenantId, timelineId);
        const previous = this.last.get(sizeKey) ?? {
          time,
          value: timeline.diskConsistentLsn as number,
        };
        const start = this.last.get(deltaKey)?.time ?? previous.time;
        // A cached value ahead of the timeline (restored state, re-attached tenant): report no
        // growth until it catches up, as Neon does.
        const delta = Math.max(0, written - previous.value);
        events.push({
          type: "incremental",
          start_time: start,
          stop_time: time,
          metric: "written_data_bytes_delta",
          idempotency_key: this.idempotencyKey(time),
          value: delta,
          tenant_id: tenantId,
          timeline_id: timelineId,
        });
        this.last.set(deltaKey, { time, value: delta });
        events.push(
          this.absolute(
            "written_size",
            Math.max(written, previous.value),
            time,
            tenantId,
            timelineId,
          ),
        );
        try {
          const logical = await currentLogicalSize(timeline);
          events.push(this.absolute("timeline_logical_size", logical, time, tenantId, timelineId));
        } catch (error) {
          this.options.log.error(
            { tenant_id: tenantId, timeline_id: timelineId, err: error },
            "cannot compute the logical size for consumption metrics",
          );
        }
      }
      events.push(this.absolute("remote_storage_size", remote, time, tenantId));
      // Neon reports 1 byte for a tenant without timelines, so that it is not taken as absent.
      events.push(
        this.absolute("resident_size", timelines.length === 0 ? 1 : resident, time, tenantId),
      );
    }
    return events;
  }

  /** One round: collect, persist, upload pending and new events in chunks, persist again. */
  async runOnce(signal: AbortSignal, now = new Date()): Promise<RoundResult> {
    const events = await this.collect(now);
    this.pending.push(...events);
    if (this.pending.length > PENDING_EVENTS_MAX) {
      const dropped = this.pending.length - PENDING_EVENTS_MAX;
      this.pending.splice(0, dropped);
      this.options.log.warn({ dropped }, "too many unsent consumption metrics: dropped the oldest");
    }
    this.persist();
    const unsent: ConsumptionEvent[] = [];
    let sent = 0;
    let rejected = 0;
    for (let at = 0; at < this.pending.length; at += EVENTS_PER_CHUNK) {
      const chunk = this.pending.slice(at, at + EVENTS_PER_CHUNK);
      const outcome = signal.aborted ? "failed" : await this.upload(chunk, signal);
      if (outcome === "sent") sent += chunk.length;
      else if (outcome === "rejected") rejected += chunk.length;
      else unsent.push(...chunk);
    }
    this.pending = unsent;
    this.persist();
    const result = { collected: events.length, sent, rejected, pending: unsent.length };
    this.options.log.info(result, "consumption metrics round done");
    return result;
  }

  private async upload(
    chunk: ConsumptionEvent[],
    signal: AbortSignal,
  ): Promise<"sent" | "rejected" | "failed"> {
    const body = JSON.stringify({ events: chunk });
    const { endpoint, log } = this.options;
    for (let attempt = 1; attempt <= UPLOAD_ATTEMPTS && !signal.aborted; attempt++) {
      let status: number;
      try {
        const response = await fetch(endpoint, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body,
          signal: AbortSignal.any([signal, AbortSignal.timeout(UPLOAD_TIMEOUT_MS)]),
        });
        status = response.status;
        await response.body?.cancel();
      } catch (error) {
        const cause = (error as { cause?: { code?: string } }).cause?.code;
        log.warn(
          { endpoint, attempt, err: cause ?? (error as Error).message },
          "consumption metrics upload failed",
        );
        await abortableSleep(UPLOAD_BACKOFF_MS * 2 ** (attempt - 1), signal);
        continue;
      }
      if (status >= 200 && status < 300) return "sent";
      if (status >= 400 && status < 500) {
        log.error({ endpoint, status, events: chunk.length }, "consumption metrics rejected");
        return "rejected";
      }
      log.warn({ endpoint, attempt, status }, "consumption metrics upload failed");
      await abortableSleep(UPLOAD_BACKOFF_MS * 2 ** (attempt - 1), signal);
    }
    return "failed";
  }

  /** Runs a round at once and then every interval until `signal` fires. */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        await this.runOnce(signal);
      } catch (error) {
        this.options.log.error({ err: error }, "consumption metrics round failed");
      }
      await abortableSleep(this.options.intervalMs, signal);
    }
  }
}
