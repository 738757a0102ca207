/**
 * Serves pagestream requests of one connection on one timeline (Neon's handle_pagerequests):
 * effective LSN, wait_lsn, the relation-size check (a zero page past the end), and batching —
 * consecutive GetPages that arrived together (up to max_batch_size) become vectored reads, one per
 * distinct effective LSN. Every request gets exactly one response, in order; a failure is an
 * Error response and the stream goes on.
 */
import {
  BLCKSZ,
  DEFAULTTABLESPACE_OID,
  databaseSize,
  decodeBlockCount,
  FSM_FORKNUM,
  formatLsn,
  formatRelTag,
  GET_VECTORED_KEYS_MAX,
  getOptional,
  getSlruSegment,
  InvalidArgumentError,
  type Key,
  LSN_INVALID,
  LSN_MAX,
  type Lsn,
  MissingKeyError,
  NotFoundError,
  PageserverError,
  relationExists,
  relBlockKey,
  relSizeKey,
  type Timeline,
  TimeoutError,
  VISIBILITYMAP_FORKNUM,
} from "@pageserver/engine";
import type { PageserverMetrics, SmgrQueryType } from "../metrics/metrics.ts";
import type { BatchBreakReason, PagestreamMetrics } from "./page_service_metrics.ts";
import {
  encodeDbSizeResponse,
  encodeErrorResponse,
  encodeExistsResponse,
  encodeGetPageResponseHeader,
  encodeGetSlruSegmentResponse,
  encodeNblocksResponse,
  type PagestreamGetPageRequest,
  type PagestreamProtocolVersion,
  type PagestreamRequest,
} from "./pagestream_codec.ts";

const ZERO_PAGE = Buffer.alloc(BLCKSZ);

/**
 * One framed response: a buffer, or, for a GetPage, the 47-byte header and the page itself,
 * written back to back (writev) so that the page is never copied: the read path hands us a
 * buffer of our own (a fresh read, never a view of a cache), so it can go to the socket as is.
 */
export type PagestreamResponseFrame = Buffer | readonly [Buffer, Buffer];
/** Relation sizes kept per connection before the cache starts over. */
const RELATION_SIZES_CACHED_MAX = 10_000;

const SMGR_TYPE: Record<PagestreamRequest["kind"], SmgrQueryType> = {
  Exists: "get_rel_exists",
  Nblocks: "get_rel_size",
  GetPage: "get_page_at_lsn",
  DbSize: "get_db_size",
  GetSlruSegment: "get_slru_segment",
};

export interface PagestreamHandlerOptions {
  readonly timeline: Timeline;
  readonly version: PagestreamProtocolVersion;
  readonly metrics: PageserverMetrics;
  /** This stream's children of the page service's own metrics. */
  readonly streamMetrics: PagestreamMetrics;
  readonly waitLsnTimeoutMs: number;
  readonly maxBatchSize: number;
}

/**
 * Relation sizes at one LSN, cached while the timeline stays there (the idle, common case).
 * `peek` answers from the cache without a promise (the GetPage hot path); `load` reads on a miss.
 */
class RelSizeCache {
  private lsn: Lsn = LSN_INVALID;
  private readonly sizes = new Map<Key, number | null>();

  /** The cached size (null: no such relation), or undefined when not cached at `lsn`. */
  peek(key: Key, lsn: Lsn): number | null | undefined {
    if (lsn !== this.lsn) {
      this.sizes.clear();
      this.lsn = lsn;
      return undefined;
    }
    return this.sizes.get(key);
  }

  async load(timeline: Timeline, key: Key, lsn: Lsn): Promise<number | null> {
    const value = await getOptional(timeline, key, lsn);
    const size = value ? decodeBlockCount(value) : null;
    if (lsn !== this.lsn) {
      this.sizes.clear();
      this.lsn = lsn;
    }
    if (this.sizes.size > RELATION_SIZES_CACHED_MAX) this.sizes.clear();
    this.sizes.set(key, size);
    return size;
  }
}

/**
 * The size key of the relation of the last request: consecutive GetPages mostly name the same
 * relation, and building a key string costs more than comparing four numbers.
 */
class RelSizeKeyMemo {
  private spcNode = -1;
  private dbNode = -1;
  private relNode = -1;
  private forkNum = -1;
  private key = "" as Key;

  of(rel: PagestreamGetPageRequest["rel"]): Key {
    if (
      rel.relNode !== this.relNode ||
      rel.dbNode !== this.dbNode ||
      rel.spcNode !== this.spcNode ||
      rel.forkNum !== this.forkNum
    ) {
      this.spcNode = rel.spcNode;
      this.dbNode = rel.dbNode;
      this.relNode = rel.relNode;
      this.forkNum = rel.forkNum;
      this.key = relSizeKey(rel);
    }
    return this.key;
  }
}

export class PagestreamHandler {
  private readonly options: PagestreamHandlerOptions;
  private readonly relSizes = new RelSizeCache();
  private readonly sizeKeys = new RelSizeKeyMemo();

  constructor(options: PagestreamHandlerOptions) {
    this.options = options;
  }

  get timeline(): Timeline {
    return this.options.timeline;
  }

  /** Neon's effective_request_lsn: checks the request, then the LSN to read at. */
  private effectiveLsn(request: PagestreamRequest): Lsn {
    const { requestLsn, notModifiedSince } = request;
    const timeline = this.timeline;
    if (requestLsn < notModifiedSince) {
      throw new InvalidArgumentError(
        `invalid request with request LSN ${formatLsn(requestLsn)} and not_modified_since ${formatLsn(notModifiedSince)}`,
      );
    }
    if (requestLsn === LSN_INVALID) throw new InvalidArgumentError("invalid LSN(0) in request");
    const cutoff = timeline.latestGcCutoffLsn;
    if (requestLsn !== LSN_MAX && requestLsn < cutoff && !timeline.gc.hasLeaseAt(requestLsn)) {
      throw new InvalidArgumentError(
        `tried to request a page version that was garbage collected. requested at ${formatLsn(requestLsn)} gc cutoff ${formatLsn(cutoff)}`,
      );
    }
    const last = timeline.lastRecordLsn;
    if (notModifiedSince > last) return notModifiedSince;
    return (requestLsn < last ? requestLsn : last) as Lsn;
  }

  /** Waits for `lsn` to arrive; callers skip the call (and its promise) when it is there. */
  private async waitFor(lsn: Lsn): Promise<void> {
    const started = performance.now();
    try {
      await this.timeline.waitLsn(lsn, this.options.waitLsnTimeoutMs);
    } catch (error) {
      if (error instanceof TimeoutError) {
        throw new TimeoutError(
          `Timed out while waiting for WAL record at LSN ${formatLsn(lsn)} to arrive, last_record_lsn ${formatLsn(this.timeline.lastRecordLsn)}`,
        );
      }
      throw error;
    } finally {
      this.options.metrics.waitLsnSeconds.observe((performance.now() - started) / 1000);
    }
  }

  /** The relation's size in blocks; a number without a promise when it is cached. */
  private relationSize(rel: PagestreamGetPageRequest["rel"], lsn: Lsn): number | Promise<number> {
    const key = this.sizeKeys.of(rel);
    const cached = this.relSizes.peek(key, lsn);
    if (cached !== undefined) return this.sizeOrMissing(rel, lsn, cached);
    return this.relSizes
      .load(this.timeline, key, lsn)
      .then((size) => this.sizeOrMissing(rel, lsn, size));
  }

  private sizeOrMissing(
    rel: PagestreamGetPageRequest["rel"],
    lsn: Lsn,
    size: number | null,
  ): number {
    if (size !== null) return size;
    // Neon: the FSM and VM of a relation that lacks them have size 0.
    if (rel.forkNum === FSM_FORKNUM || rel.forkNum === VISIBILITYMAP_FORKNUM) return 0;
    throw new NotFoundError(`relation ${formatRelTag(rel)} not found at LSN ${formatLsn(lsn)}`);
  }

  private getPageResponse(
    request: PagestreamGetPageRequest,
    page: Buffer,
  ): PagestreamResponseFrame {
    return [encodeGetPageResponseHeader(this.options.version, request, { copyData: true }), page];
  }

  private errorResponse(request: PagestreamRequest, error: unknown): Buffer {
    const message =
      error instanceof PageserverError || error instanceof Error
        ? error.message
        : `internal error: ${String(error)}`;
    return encodeErrorResponse(this.options.version, request, message, { copyData: true });
  }

  /**
   * Serves `requests` (in arrival order) and returns the framed responses, in the same order.
   * Consecutive GetPages are batched; a batch ends at `maxBatchSize`, at a request of another
   * kind, or at a page already in it (it may be wanted at another LSN).
   */
  async serve(requests: readonly PagestreamRequest[]): Promise<PagestreamResponseFrame[]> {
    const responses: PagestreamResponseFrame[] = new Array(requests.length);
    const keys: Key[] = [];
    let i = 0;
    while (i < requests.length) {
      const request = requests[i]!;
      if (request.kind !== "GetPage") {
        responses[i] = await this.serveOne(request);
        i++;
        continue;
      }
      const start = i;
      keys.length = 0;
      // Neon's reasons: the batch is full, the next request is not a GetPage or is the same
      // page again, or nothing more has arrived ("executor steal": we take what is there).
      let reason: BatchBreakReason = "executor_steal";
      while (i < requests.length) {
        if (i - start >= this.options.maxBatchSize) {
          reason = "batch_full";
          break;
        }
        const next = requests[i]!;
        if (next.kind !== "GetPage") {
          reason = "non_batchable_request";
          break;
        }
        const key = relBlockKey(next.rel, next.blkno);
        if (keys.includes(key)) {
          reason = "same_page_at_different_lsn"; // Linear: a batch holds at most 32.
          break;
        }
        keys.push(key);
        i++;
      }
      const { streamMetrics } = this.options;
      streamMetrics.breakBatch(reason);
      streamMetrics.getPageStartedGlobal.value += i - start;
      const batch = requests.slice(start, i) as PagestreamGetPageRequest[];
      const done = this.serveGetPageBatch(batch, keys, responses, start);
      if (done !== null) await done;
    }
    return responses;
  }

  private async serveOne(
    request: Exclude<PagestreamRequest, PagestreamGetPageRequest>,
  ): Promise<Buffer> {
    const { version, metrics } = this.options;
    const timeline = this.timeline;
    this.options.streamMetrics.started(SMGR_TYPE[request.kind]);
    try {
      const lsn = this.effectiveLsn(request);
      if (lsn > this.timeline.lastRecordLsn) await this.waitFor(lsn);
      const started = performance.now();
      let response: Buffer;
      switch (request.kind) {
        case "Exists": {
          if (request.rel.relNode === 0) throw new InvalidArgumentError("invalid relnode 0");
          response = encodeExistsResponse(
            version,
            request,
            await relationExists(timeline, request.rel, lsn),
            { copyData: true },
          );
          break;
        }
        case "Nblocks":
          response = encodeNblocksResponse(
            version,
            request,
            await this.relationSize(request.rel, lsn),
            { copyData: true },
          );
          break;
        case "DbSize":
          response = encodeDbSizeResponse(
            version,
            request,
            await databaseSize(timeline, DEFAULTTABLESPACE_OID, request.dbNode, lsn),
            {
              copyData: true,
            },
          );
          break;
        case "GetSlruSegment":
          response = encodeGetSlruSegmentResponse(
            version,
            request,
            await getSlruSegment(timeline, request.slruKind, request.segno, lsn),
            {
              copyData: true,
            },
          );
          break;
      }
      metrics.observeSmgr(
        SMGR_TYPE[request.kind],
        timeline.tenantId,
        timeline.timelineId,
        (performance.now() - started) / 1000,
      );
      return response;
    } catch (error) {
      return this.errorResponse(request, error);
    }
  }

  /**
   * One batch of GetPages: effective LSNs, one wait, vectored reads per distinct LSN. Writes
   * the responses into `out` from `at`; returns null when it finished without waiting (a
   * resident, cached batch at an LSN that has arrived: no promise on the hot path).
   */
  private serveGetPageBatch(
    batch: readonly PagestreamGetPageRequest[],
    keys: readonly Key[],
    out: PagestreamResponseFrame[],
    at: number,
  ): Promise<void> | null {
    const lsns: Array<Lsn | null> = new Array(batch.length);
    let highest = LSN_INVALID;
    let lowest = LSN_MAX;
    for (let index = 0; index < batch.length; index++) {
      const request = batch[index]!;
      try {
        const lsn = this.effectiveLsn(request);
        lsns[index] = lsn;
        if (lsn > highest) highest = lsn;
        if (lsn < lowest) lowest = lsn;
      } catch (error) {
        lsns[index] = null;
        out[at + index] = this.errorResponse(request, error);
      }
    }
    if (highest > this.timeline.lastRecordLsn) {
      return this.waitFor(highest).then(
        async () => {
          await this.readBatch(batch, keys, lsns, highest, lowest, out, at);
        },
        (error) => {
          for (let index = 0; index < batch.length; index++)
            out[at + index] ??= this.errorResponse(batch[index]!, error);
        },
      );
    }
    return this.readBatch(batch, keys, lsns, highest, lowest, out, at);
  }

  private readBatch(
    batch: readonly PagestreamGetPageRequest[],
    keys: readonly Key[],
    lsns: ReadonlyArray<Lsn | null>,
    highest: Lsn,
    lowest: Lsn,
    out: PagestreamResponseFrame[],
    at: number,
  ): Promise<void> | null {
    this.options.metrics.batchSize.observe(batch.length);
    const started = performance.now();
    let pending: Promise<void> | null;
    if (highest === lowest && batch.length <= GET_VECTORED_KEYS_MAX) {
      // The common case (every request at the latest LSN): one read, no grouping.
      const indexes: number[] = [];
      for (let index = 0; index < batch.length; index++)
        if (lsns[index] !== null) indexes.push(index);
      pending =
        indexes.length === 0 ? null : this.readPages(batch, keys, indexes, highest, out, at);
    } else {
      pending = this.readGroups(batch, keys, lsns, out, at);
    }
    if (pending === null) {
      this.observeBatch(started, batch.length);
      return null;
    }
    // An anonymous arrow: tsx keeps function names, and naming a closure costs a
    // defineProperty (~0.3 µs) each time it is created — here once per batch.
    return pending.then(() => this.observeBatch(started, batch.length));
  }

  /** The smgr latency of a batch, per page (Neon observes each request of a batch). */
  private observeBatch(started: number, pages: number): void {
    const perPage = (performance.now() - started) / 1000 / pages;
    const timeline = this.timeline;
    this.options.metrics.observeSmgr(
      "get_page_at_lsn",
      timeline.tenantId,
      timeline.timelineId,
      perPage,
      pages,
    );
  }

  /** Requests at different LSNs: one vectored read per LSN (at most 32 keys each). */
  private async readGroups(
    batch: readonly PagestreamGetPageRequest[],
    keys: readonly Key[],
    lsns: ReadonlyArray<Lsn | null>,
    out: PagestreamResponseFrame[],
    at: number,
  ): Promise<void> {
    const groups = new Map<Lsn, number[]>();
    for (let index = 0; index < batch.length; index++) {
      const lsn = lsns[index];
      if (lsn === null || lsn === undefined) continue;
      let group = groups.get(lsn);
      if (!group) groups.set(lsn, (group = []));
      group.push(index);
    }
    for (const [lsn, indexes] of groups) {
      for (let from = 0; from < indexes.length; from += GET_VECTORED_KEYS_MAX) {
        const read = this.readPages(
          batch,
          keys,
          indexes.slice(from, from + GET_VECTORED_KEYS_MAX),
          lsn,
          out,
          at,
        );
        if (read !== null) await read;
      }
    }
  }

  /**
   * Reads the pages of `indexes` at `lsn`: the size check (a zero page past the end), then one
   * vectored read of the rest. Sizes come from the cache without a promise when they can.
   */
  private readPages(
    batch: readonly PagestreamGetPageRequest[],
    keys: readonly Key[],
    indexes: readonly number[],
    lsn: Lsn,
    out: PagestreamResponseFrame[],
    at: number,
  ): Promise<void> | null {
    const wanted: number[] = [];
    let sizesPending: Array<Promise<void>> | null = null;
    for (const index of indexes) {
      const request = batch[index]!;
      try {
        if (request.rel.relNode === 0) throw new InvalidArgumentError("invalid relnode 0");
        const size = this.relationSize(request.rel, lsn);
        if (typeof size === "number") {
          if (request.blkno >= size) {
            out[at + index] = this.getPageResponse(request, ZERO_PAGE);
          } else {
            wanted.push(index);
          }
          continue;
        }
        // A size to read first: settle it, then decide (keeps the request order for `wanted`).
        wanted.push(index);
        (sizesPending ??= []).push(
          size.then(
            (blocks) => {
              if (request.blkno >= blocks) {
                out[at + index] = this.getPageResponse(request, ZERO_PAGE);
              }
            },
            (error) => {
              out[at + index] = this.errorResponse(request, error);
            },
          ),
        );
      } catch (error) {
        out[at + index] = this.errorResponse(request, error);
      }
    }
    if (sizesPending !== null) {
      return Promise.all(sizesPending).then(() =>
        this.readValues(
          batch,
          keys,
          wanted.filter((index) => out[at + index] === undefined),
          lsn,
          out,
          at,
        ),
      );
    }
    if (wanted.length === 0) return null;
    return this.readValues(batch, keys, wanted, lsn, out, at);
  }

  private async readValues(
    batch: readonly PagestreamGetPageRequest[],
    keys: readonly Key[],
    wanted: readonly number[],
    lsn: Lsn,
    out: PagestreamResponseFrame[],
    at: number,
  ): Promise<void> {
    if (wanted.length === 0) return;
    const { metrics } = this.options;
    const stats = { layersVisited: 0, valuesRead: 0, recordsApplied: 0 };
    const wantedKeys: Key[] = new Array(wanted.length);
    for (let i = 0; i < wanted.length; i++) wantedKeys[i] = keys[wanted[i]!]!;
    let values: Awaited<ReturnType<Timeline["getVectored"]>>;
    const started = performance.now();
    try {
      values = await this.timeline.getVectored(wantedKeys, lsn, stats);
      this.options.streamMetrics.getVectored.observe((performance.now() - started) / 1000);
    } catch (error) {
      // The read as a whole failed (the timeline is shutting down, a broken layer…): every
      // request of it gets the Error response, the stream goes on.
      for (const index of wanted) out[at + index] = this.errorResponse(batch[index]!, error);
      return;
    }
    metrics.layersPerRead.observe(stats.layersVisited);
    for (let i = 0; i < wanted.length; i++) {
      const index = wanted[i]!;
      const request = batch[index]!;
      const value = values.get(wantedKeys[i]!)!;
      if (value instanceof MissingKeyError) {
        // Below the relation size but never written: PostgreSQL extended with zero pages.
        out[at + index] = this.getPageResponse(request, ZERO_PAGE);
      } else if (value instanceof Error) {
        out[at + index] = this.errorResponse(request, value);
      } else if (value.length !== BLCKSZ) {
        out[at + index] = this.errorResponse(
          request,
          new PageserverError(
            "PS_ERR_BAD_PAGE",
            `page ${formatRelTag(request.rel)} blk ${request.blkno} has ${value.length} bytes, not ${BLCKSZ}`,
          ),
        );
      } else {
        out[at + index] = this.getPageResponse(request, value);
      }
    }
  }
}
