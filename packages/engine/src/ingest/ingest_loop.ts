/**
 * The ingest loop: pulls batches from a WAL source into a timeline, starting after
 * last_record_lsn, honouring backpressure (frozen layers piling up), until cancelled. Progress
 * (records, bytes, LSN) is kept for status, metrics and the console.
 */
import { ShuttingDownError } from "../errors.ts";
import { formatLsn, type Lsn } from "../lsn.ts";
import type { Timeline } from "../timeline/timeline.ts";
import type { WalSource } from "./wal_source.ts";

export interface IngestProgress {
  state: "starting" | "streaming" | "stopped" | "failed" | "finished";
  records: number;
  walBytes: number;
  values: number;
  startedAtMs: number;
  lastBatchAtMs: number | null;
  lastLsn: Lsn | null;
  error: string | null;
}

export interface IngestStats {
  recordsReceived: number;
  bytesReceived: number;
  valuesCommitted: number;
}

/** Process-wide counters, read by the metrics. */
export const ingestStats: IngestStats = {
  recordsReceived: 0,
  bytesReceived: 0,
  valuesCommitted: 0,
};

export class IngestLoop {
  readonly source: WalSource;
  readonly timeline: Timeline;
  readonly progress: IngestProgress;
  private readonly abort = new AbortController();
  private running: Promise<void> | null = null;

  constructor(timeline: Timeline, source: WalSource) {
    this.timeline = timeline;
    this.source = source;
    this.progress = {
      state: "starting",
      records: 0,
      walBytes: 0,
      values: 0,
      startedAtMs: Date.now(),
      lastBatchAtMs: null,
      lastLsn: null,
      error: null,
    };
  }

  start(): void {
    if (this.running) return;
    this.running = this.run();
  }

  private async run(): Promise<void> {
    const { timeline } = this;
    const signal = AbortSignal.any([this.abort.signal, timeline.cancel.signal]);
    try {
      this.progress.state = "streaming";
      for await (const batch of this.source.stream(timeline.lastRecordLsn, signal)) {
        if (signal.aborted) break;
        timeline.ingest(batch.values, batch.endLsn);
        this.progress.records += batch.records;
        this.progress.walBytes += batch.walBytes;
        this.progress.values += batch.values.length;
        this.progress.lastBatchAtMs = Date.now();
        this.progress.lastLsn = batch.endLsn;
        ingestStats.recordsReceived += batch.records;
        ingestStats.bytesReceived += batch.walBytes;
        ingestStats.valuesCommitted += batch.values.length;
        if (timeline.frozenLayerCount > 0) await timeline.waitForIngestCapacity(signal);
      }
      this.progress.state = signal.aborted ? "stopped" : "finished";
    } catch (error) {
      if (signal.aborted || error instanceof ShuttingDownError) {
        this.progress.state = "stopped";
        return;
      }
      this.progress.state = "failed";
      this.progress.error = (error as Error).message;
      timeline.log.error(
        {
          err: error,
          last_record_lsn: formatLsn(timeline.lastRecordLsn),
          source: this.source.description,
        },
        "WAL ingest failed",
      );
    }
  }

  /** Stops pulling and waits for the current batch to finish. */
  async stop(): Promise<void> {
    this.abort.abort();
    await this.running;
  }

  /** Resolves when the source ends (or the loop stops). */
  async finished(): Promise<void> {
    await this.running;
  }
}
