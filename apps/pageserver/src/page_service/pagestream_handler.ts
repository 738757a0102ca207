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
import {
  encodeDbSizeResponse,
  encodeErrorResponse,
  encodeExistsResponse,
  encodeGetPageResponse,
  encodeGetSlruSegmentResponse,
  encodeNblocksResponse,
  type PagestreamGetPageRequest,
  type PagestreamProtocolVersion,
  type PagestreamRequest,
} from "./pagestream_codec.ts";

const ZERO_PAGE = Buffer.alloc(BLCKSZ);

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
  readonly waitLsnTimeoutMs: number;
  readonly maxBatchSize: number;
}

/** Relation sizes at one LSN, cached while the timeline stays there (the idle, common case). */
class RelSizeCache {
  private lsn: Lsn = LSN_INVALID;
  private readonly sizes = new Map<Key, number | null>();

  async get(timeline: Timeline, key: Key, lsn: Lsn): Promise<number | null> {
    if (lsn !== this.lsn) {
      this.sizes.clear();
      this.lsn = lsn;
    }
    const cached = this.sizes.get(key);
    if (cached !== undefined) return cached;
    const value = await getOptional(timeline, key, lsn);
    const size = value ? decodeBlockCount(value) : null;
    if (this.sizes.size > 10_000) this.sizes.clear();
    this.sizes.set(key, size);
    return size;
  }
}

export class PagestreamHandler {
  private readonly options: PagestreamHandlerOptions;
  private readonly relSizes = new RelSizeCache();

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

  private async waitFor(lsn: Lsn): Promise<void> {
    if (lsn <= this.timeline.lastRecordLsn) return;
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

  private async relationSize(rel: PagestreamGetPageRequest["rel"], lsn: Lsn): Promise<number> {
    const size = await this.relSizes.get(this.timeline, relSizeKey(rel), lsn);
    if (size !== null) return size;
    // Neon: the FSM and VM of a relation that lacks them have size 0.
    if (rel.forkNum === FSM_FORKNUM || rel.forkNum === VISIBILITYMAP_FORKNUM) return 0;
    throw new NotFoundError(`relation ${formatRelTag(rel)} not found at LSN ${formatLsn(lsn)}`);
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
   * Consecutive GetPages are batched.
   */
  async serve(requests: readonly PagestreamRequest[]): Promise<Buffer[]> {
    const responses: Buffer[] = [];
    let i = 0;
    while (i < requests.length) {
      const request = requests[i]!;
      if (request.kind !== "GetPage") {
        responses.push(await this.serveOne(request));
        i++;
        continue;
      }
      const batch: PagestreamGetPageRequest[] = [];
      const seen = new Set<string>();
      while (i < requests.length && batch.length < this.options.maxBatchSize) {
        const next = requests[i]!;
        if (next.kind !== "GetPage") break;
        const id = `${formatRelTag(next.rel)}#${next.blkno}`;
        if (seen.has(id)) break; // The same page twice: a new batch (it may be at another LSN).
        seen.add(id);
        batch.push(next);
        i++;
      }
      responses.push(...(await this.serveGetPageBatch(batch)));
    }
    return responses;
  }

  private async serveOne(
    request: Exclude<PagestreamRequest, PagestreamGetPageRequest>,
  ): Promise<Buffer> {
    const { version, metrics } = this.options;
    const timeline = this.timeline;
    try {
      const lsn = this.effectiveLsn(request);
      await this.waitFor(lsn);
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

  /** One batch of GetPages: effective LSNs, one wait, vectored reads per distinct LSN. */
  private async serveGetPageBatch(batch: readonly PagestreamGetPageRequest[]): Promise<Buffer[]> {
    const { metrics } = this.options;
    const timeline = this.timeline;
    const responses: Array<Buffer | null> = batch.map(() => null);
    const lsns: Array<Lsn | null> = batch.map((request, index) => {
      try {
        return this.effectiveLsn(request);
      } catch (error) {
        responses[index] = this.errorResponse(request, error);
        return null;
      }
    });
    let highest = LSN_INVALID;
    for (const lsn of lsns) if (lsn !== null && lsn > highest) highest = lsn;
    try {
      await this.waitFor(highest);
    } catch (error) {
      return batch.map((request, index) => responses[index] ?? this.errorResponse(request, error));
    }
    metrics.batchSize.observe(batch.length);
    const started = performance.now();
    const groups = new Map<Lsn, number[]>();
    for (const [index, lsn] of lsns.entries()) {
      if (lsn === null) continue;
      let group = groups.get(lsn);
      if (!group) groups.set(lsn, (group = []));
      group.push(index);
    }
    for (const [lsn, indexes] of groups) {
      for (let at = 0; at < indexes.length; at += GET_VECTORED_KEYS_MAX) {
        await this.readPages(batch, indexes.slice(at, at + GET_VECTORED_KEYS_MAX), lsn, responses);
      }
    }
    const perPage = (performance.now() - started) / 1000 / Math.max(1, batch.length);
    metrics.observeSmgr(
      "get_page_at_lsn",
      timeline.tenantId,
      timeline.timelineId,
      perPage,
      batch.length,
    );
    return responses.map((response) => response!);
  }

  private async readPages(
    batch: readonly PagestreamGetPageRequest[],
    indexes: readonly number[],
    lsn: Lsn,
    responses: Array<Buffer | null>,
  ): Promise<void> {
    const { version, metrics } = this.options;
    const wanted: Array<{ index: number; key: Key }> = [];
    for (const index of indexes) {
      const request = batch[index]!;
      try {
        if (request.rel.relNode === 0) throw new InvalidArgumentError("invalid relnode 0");
        if (request.blkno >= (await this.relationSize(request.rel, lsn))) {
          responses[index] = encodeGetPageResponse(version, request, ZERO_PAGE, { copyData: true });
          continue;
        }
        wanted.push({ index, key: relBlockKey(request.rel, request.blkno) });
      } catch (error) {
        responses[index] = this.errorResponse(request, error);
      }
    }
    if (wanted.length === 0) return;
    const stats = { layersVisited: 0, valuesRead: 0, recordsApplied: 0 };
    const values = await this.timeline.getVectored(
      wanted.map((w) => w.key),
      lsn,
      stats,
    );
    metrics.layersPerRead.observe(stats.layersVisited);
    for (const { index, key } of wanted) {
      const request = batch[index]!;
      const value = values.get(key)!;
      if (value instanceof MissingKeyError) {
        // Below the relation size but never written: PostgreSQL extended with zero pages.
        responses[index] = encodeGetPageResponse(version, request, ZERO_PAGE, { copyData: true });
      } else if (value instanceof Error) {
        responses[index] = this.errorResponse(request, value);
      } else if (value.length !== BLCKSZ) {
        responses[index] = this.errorResponse(
          request,
          new PageserverError(
            "PS_ERR_BAD_PAGE",
            `page ${formatRelTag(request.rel)} blk ${request.blkno} has ${value.length} bytes, not ${BLCKSZ}`,
          ),
        );
      } else {
        responses[index] = encodeGetPageResponse(version, request, value, { copyData: true });
      }
    }
  }
}
