/**
 * A source of WAL for a timeline: the built-in generator now, a PostgreSQL replication connection
 * later. A source starts after a given LSN and yields batches of values in LSN order; the ingest
 * loop feeds them to the timeline.
 */
import type { Lsn } from "../lsn.ts";
import type { IngestValue } from "../timeline/timeline.ts";

export interface WalBatch {
  readonly values: IngestValue[];
  /** LSN of the last record of the batch: last_record_lsn after it. */
  readonly endLsn: Lsn;
  /** Bytes of WAL the batch stands for (for the ingest-rate metrics). */
  readonly walBytes: number;
  /** Records in the batch. */
  readonly records: number;
}

export interface WalSource {
  /** A one-line description for logs and the console. */
  readonly description: string;
  /**
   * Yields batches whose values all have LSN > `afterLsn`, in order, until `signal` aborts or the
   * source ends.
   */
  stream(afterLsn: Lsn, signal: AbortSignal): AsyncIterable<WalBatch>;
}
