/**
 * The built-in WAL generator: deterministic workloads encoded as the values PostgreSQL's WAL would
 * produce, replayable from any LSN. Transaction `t` is a pure function of (seed, workload, t), and
 * every transaction of a workload has the same shape, so its LSNs are `base + t × stride + offset`:
 * after a restart the generator resumes exactly after disk_consistent_lsn and produces the same
 * data.
 *
 * Workloads (all data is PostgreSQL-shaped: database 1663/5, relations with sizes, VM and CLOG):
 * - `uniform`: one table of `size` blocks; each transaction rewrites one block chosen uniformly
 *   (a full page image), clears its visibility-map bits (a ClearVisibilityMapFlags record) and
 *   commits (a ClogSetCommitted record carrying the commit timestamp).
 * - `hot-cold`: the same, with 90 % of writes going to the first 10 % of the blocks.
 * - `pgbench`: pgbench's four tables at scale `size`: each transaction updates an account, a
 *   teller and a branch, appends to history, clears the account page's VM bits and commits.
 *
 * Reads of VM and CLOG pages exercise redo (records on a base image); heap pages are images.
 */
import { setTimeout as sleep, setImmediate as yieldToEventLoop } from "node:timers/promises";
import { z } from "zod";
import { DatadirModification, DatadirState } from "../datadir/datadir_modification.ts";
import { InvalidArgumentError } from "../errors.ts";
import type { WalBatch, WalSource } from "../ingest/wal_source.ts";
import { relSizeKey } from "../key/key.ts";
import {
  DEFAULTTABLESPACE_OID,
  MAIN_FORKNUM,
  type RelTag,
  SlruKind,
  VISIBILITYMAP_FORKNUM,
} from "../key/rel_tag.ts";
import { alignLsn, LSN_ALIGNMENT, type Lsn } from "../lsn.ts";
import {
  BLCKSZ,
  clogLocation,
  HEAPBLOCKS_PER_PAGE,
  heapBlockToMapBlock,
  pageSetLsn,
  SIZE_OF_PAGE_HEADER,
} from "../redo/pg_constants.ts";
import type { IngestValue } from "../timeline/timeline.ts";
import { encodedValueLength, type NeonWalRecord, type Value } from "../value/value.ts";

export const WORKLOADS = ["uniform", "hot-cold", "pgbench"] as const;
export type WorkloadKind = (typeof WORKLOADS)[number];

export const generatorParamsSchema = z
  .object({
    seed: z.number().int().min(0).max(0xffff_ffff).default(1),
    workload: z.enum(WORKLOADS).default("uniform"),
    /** uniform/hot-cold: blocks in the table; pgbench: the scale factor. */
    size: z.number().int().min(1).max(10_000_000).default(10_000),
    /** Transactions per second; 0 = as fast as possible. */
    rate: z.number().min(0).max(1_000_000).default(0),
    /** Stop after this many transactions (counted from transaction 0); null = run forever. */
    transactions: z.number().int().min(1).nullable().default(null),
    /** Commit timestamp of transaction 0 (ms since the Unix epoch). */
    start_time_ms: z
      .number()
      .int()
      .min(0)
      .default(() => Date.now()),
  })
  .strict();

export type GeneratorParams = z.output<typeof generatorParamsSchema>;

const DB_NODE = 5;
const FIRST_XID = 1000;
/** Per-record WAL overhead we account for (XLogRecord header and block reference). */
const RECORD_HEADER_BYTES = 48;
/** A record's LSN footprint: header plus value, 8-aligned. */
function recordStride(value: Value): number {
  return alignLsn((RECORD_HEADER_BYTES + encodedValueLength(value)) as Lsn);
}

function rel(relNode: number, forkNum = MAIN_FORKNUM): RelTag {
  return { spcNode: DEFAULTTABLESPACE_OID, dbNode: DB_NODE, relNode, forkNum };
}

/** Deterministic per-transaction randomness (SplitMix-style hash of seed and t). */
function random(seed: number, t: number, stream: number): number {
  let x =
    (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^
      Math.imul(t + 1, 0xc2b2ae35) ^
      Math.imul(stream + 7, 0x27d4eb2f)) >>>
    0;
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d) >>> 0;
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b) >>> 0;
  return ((x ^ (x >>> 16)) >>> 0) / 4294967296;
}

/** A page as PostgreSQL would have it: header with pd_lsn, lower/upper, and a body pattern. */
export function generatedPage(lsn: Lsn, block: number, t: number): Buffer {
  const page = Buffer.allocUnsafe(BLCKSZ);
  page.fill((t * 31 + block) & 0xff, SIZE_OF_PAGE_HEADER);
  pageSetLsn(page, lsn);
  page.writeUInt16LE(0, 8); // pd_checksum
  page.writeUInt16LE(0, 10); // pd_flags
  page.writeUInt16LE(SIZE_OF_PAGE_HEADER + 4, 12); // pd_lower
  page.writeUInt16LE(BLCKSZ - 64, 14); // pd_upper
  page.writeUInt16LE(BLCKSZ, 16); // pd_special
  page.writeUInt16LE(BLCKSZ | 4, 18); // pd_pagesize_version
  page.writeUInt32LE(0, 20);
  page.writeUInt32LE(t >>> 0, SIZE_OF_PAGE_HEADER);
  page.writeUInt32LE(block >>> 0, SIZE_OF_PAGE_HEADER + 4);
  return page;
}

/** A visibility-map page with every bit set (as after VACUUM). */
function allVisibleMapPage(lsn: Lsn): Buffer {
  const page = Buffer.alloc(BLCKSZ);
  page.fill(0xff, SIZE_OF_PAGE_HEADER);
  pageSetLsn(page, lsn);
  page.writeUInt16LE(SIZE_OF_PAGE_HEADER, 12);
  page.writeUInt16LE(BLCKSZ, 14);
  page.writeUInt16LE(BLCKSZ, 16);
  page.writeUInt16LE(BLCKSZ | 4, 18);
  return page;
}

interface Table {
  readonly rel: RelTag;
  readonly initialBlocks: number;
  /** Heap blocks the visibility map must cover; 0 = no visibility map. */
  readonly mappedBlocks: number;
}

interface Write {
  readonly table: Table;
  readonly block: number;
}

/** The relations and per-transaction writes of a workload. */
interface WorkloadShape {
  readonly tables: readonly Table[];
  writes(params: GeneratorParams, t: number): Write[];
}

function uniformShape(hotCold: boolean, blocks: number): WorkloadShape {
  const table: Table = { rel: rel(16384), initialBlocks: 0, mappedBlocks: blocks };
  return {
    tables: [table],
    writes(params, t) {
      const blocks = params.size;
      let block: number;
      if (hotCold) {
        const hotBlocks = Math.max(1, Math.floor(blocks / 10));
        block =
          random(params.seed, t, 1) < 0.9
            ? Math.floor(random(params.seed, t, 2) * hotBlocks)
            : hotBlocks + Math.floor(random(params.seed, t, 2) * Math.max(1, blocks - hotBlocks));
        block = Math.min(block, blocks - 1);
      } else {
        block = Math.floor(random(params.seed, t, 1) * blocks);
      }
      return [{ table, block }];
    },
  };
}

const ACCOUNTS_PER_PAGE = 61;
const HISTORY_PER_PAGE = 80;

function pgbenchShape(scale: number): WorkloadShape {
  const accountBlocks = Math.ceil((100_000 * scale) / ACCOUNTS_PER_PAGE);
  const branches: Table = { rel: rel(16384), initialBlocks: 1, mappedBlocks: 0 };
  const tellers: Table = {
    rel: rel(16387),
    initialBlocks: Math.ceil((10 * scale) / 100),
    mappedBlocks: 0,
  };
  const accounts: Table = {
    rel: rel(16390),
    initialBlocks: accountBlocks,
    mappedBlocks: accountBlocks,
  };
  const history: Table = { rel: rel(16393), initialBlocks: 0, mappedBlocks: 0 };
  return {
    tables: [branches, tellers, accounts, history],
    writes(params, t) {
      const aid = Math.floor(random(params.seed, t, 1) * 100_000 * scale);
      const tid = Math.floor(random(params.seed, t, 2) * 10 * scale);
      const bid = Math.floor(random(params.seed, t, 3) * scale);
      return [
        { table: accounts, block: Math.floor(aid / ACCOUNTS_PER_PAGE) },
        { table: tellers, block: Math.floor(tid / 100) },
        { table: branches, block: Math.floor(bid / 150) },
        { table: history, block: Math.floor(t / HISTORY_PER_PAGE) },
      ];
    },
  };
}

function shapeOf(params: GeneratorParams): WorkloadShape {
  switch (params.workload) {
    case "uniform":
      return uniformShape(false, params.size);
    case "hot-cold":
      return uniformShape(true, params.size);
    case "pgbench":
      return pgbenchShape(params.size);
  }
}

/** PostgreSQL's commit timestamps count microseconds since 2000-01-01. */
const POSTGRES_EPOCH_MS = Date.UTC(2000, 0, 1);

export function toPostgresTimestamp(ms: number): number {
  return (ms - POSTGRES_EPOCH_MS) * 1000;
}

export function fromPostgresTimestamp(us: number): number {
  return us / 1000 + POSTGRES_EPOCH_MS;
}

export class WalGenerator implements WalSource {
  readonly params: GeneratorParams;
  readonly baseLsn: Lsn;
  private readonly shape: WorkloadShape;
  /** LSN footprint of one transaction. */
  readonly strideBytes: number;
  private readonly recordsPerTransaction: number;
  /** Records per yielded batch when running flat out (Neon's ingest_batch_size is 100). */
  batchRecords = 100;

  constructor(params: GeneratorParams, baseLsn: Lsn) {
    this.params = params;
    this.baseLsn = baseLsn;
    this.shape = shapeOf(params);
    const sample = this.transactionRecords(0);
    this.recordsPerTransaction = sample.length;
    this.strideBytes = sample.reduce((sum, r) => sum + r.stride, 0);
  }

  static fromJson(json: unknown, baseLsn: Lsn): WalGenerator {
    const parsed = generatorParamsSchema.safeParse(json ?? {});
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const field = issue.path.join(".");
      throw new InvalidArgumentError(
        `invalid generator parameters: ${issue.code === "unrecognized_keys" ? `unknown field(s) ${issue.keys.join(", ")}` : `field '${field}': ${issue.message}`}`,
      );
    }
    return new WalGenerator(parsed.data, baseLsn);
  }

  get description(): string {
    const p = this.params;
    return `generator ${p.workload} size=${p.size} seed=${p.seed} rate=${p.rate === 0 ? "max" : `${p.rate}/s`}`;
  }

  /** The records of transaction t (without LSNs): what they write and their LSN footprint. */
  private transactionRecords(
    t: number,
  ): Array<{ stride: number; apply: (m: DatadirModification, lsn: Lsn) => void }> {
    const { params } = this;
    const records: Array<{ stride: number; apply: (m: DatadirModification, lsn: Lsn) => void }> =
      [];
    for (const write of this.shape.writes(params, t)) {
      const heapStride = recordStride({ kind: "image", image: Buffer.alloc(BLCKSZ) });
      records.push({
        stride: heapStride,
        apply: (m, lsn) =>
          m
            .at(lsn)
            .putRelationPageImage(write.table.rel, write.block, generatedPage(lsn, write.block, t)),
      });
      if (write.table.mappedBlocks > 0) {
        const record: NeonWalRecord = {
          type: "ClearVisibilityMapFlags",
          newHeapBlkno: write.block,
          oldHeapBlkno: null,
          flags: 3,
        };
        records.push({
          stride: recordStride({ kind: "record", record }),
          apply: (m, lsn) =>
            m
              .at(lsn)
              .putRelationWalRecord(
                { ...write.table.rel, forkNum: VISIBILITYMAP_FORKNUM },
                heapBlockToMapBlock(write.block),
                record,
              ),
        });
      }
    }
    const xid = FIRST_XID + t;
    const commit: NeonWalRecord = {
      type: "ClogSetCommitted",
      xids: [xid],
      timestamp: toPostgresTimestamp(this.commitTimeMs(t)),
    };
    records.push({
      stride: recordStride({ kind: "record", record: commit }),
      apply: (m, lsn) => {
        const { segno, block } = clogLocation(xid);
        // The first xid of a CLOG page zeroes it first (PostgreSQL's CLOG ZEROPAGE), just
        // below the commit so the two values of that page have distinct LSNs.
        if ((m.slruSegmentSize(SlruKind.Clog, segno) ?? 0) <= block) {
          m.at((lsn - LSN_ALIGNMENT) as Lsn);
          m.putSlruPageImage(SlruKind.Clog, segno, block, Buffer.alloc(BLCKSZ));
        }
        m.at(lsn).putSlruWalRecord(SlruKind.Clog, segno, block, commit);
      },
    });
    return records;
  }

  commitTimeMs(t: number): number {
    const msPerTransaction = this.params.rate > 0 ? 1000 / this.params.rate : 1;
    return this.params.start_time_ms + Math.floor(t * msPerTransaction);
  }

  /** The LSN of the last record of transaction t. */
  transactionEndLsn(t: number): Lsn {
    return (this.baseLsn + (t + 1) * this.strideBytes) as Lsn;
  }

  /** The first transaction that has a record above `afterLsn`. */
  firstTransactionAfter(afterLsn: Lsn): number {
    if (afterLsn < this.baseLsn) return 0;
    return Math.floor((afterLsn - this.baseLsn) / this.strideBytes);
  }

  /** The database, tables, visibility maps: written with transaction 0, at its first LSN. */
  private setup(m: DatadirModification): void {
    m.putDatabaseCreation(DEFAULTTABLESPACE_OID, DB_NODE, Buffer.alloc(512));
    for (const table of this.shape.tables) {
      m.putRelationCreation(table.rel, table.initialBlocks);
      if (table.mappedBlocks === 0) continue;
      const mapBlocks = Math.ceil(table.mappedBlocks / HEAPBLOCKS_PER_PAGE);
      const vm = { ...table.rel, forkNum: VISIBILITYMAP_FORKNUM };
      m.putRelationCreation(vm, 0);
      for (let block = 0; block < mapBlocks; block++)
        m.putRelationPageImage(vm, block, allVisibleMapPage(m.lsn));
    }
  }

  /**
   * The values of transactions [from, to), skipping values at or below `afterLsn`. `state` tracks
   * relation sizes across calls: pass the same one for consecutive ranges.
   */
  generate(state: DatadirState, from: number, to: number, afterLsn: Lsn = 0 as Lsn): IngestValue[] {
    const m = new DatadirModification(state);
    for (let t = from; t < to; t++) {
      let lsn = (this.baseLsn + t * this.strideBytes) as Lsn;
      const records = this.transactionRecords(t);
      for (const [i, record] of records.entries()) {
        lsn = (lsn + record.stride) as Lsn;
        if (t === 0 && i === 0) this.setup(m.at(lsn));
        record.apply(m, lsn);
      }
    }
    return m.take().filter((value) => value.lsn > afterLsn);
  }

  /**
   * A state in which `generate(state, from, …)` can start: the directories and sizes as after
   * transactions [0, from). Sizes only grow, so replaying which blocks each transaction writes is
   * enough; no page is built.
   */
  stateBefore(from: number): DatadirState {
    const state = new DatadirState();
    if (from === 0) return state;
    const m = new DatadirModification(state);
    m.at(this.baseLsn);
    this.setup(m);
    m.take();
    const clogSegments = state.slruSegments.get(SlruKind.Clog)!;
    for (let t = 0; t < from; t++) {
      for (const write of this.shape.writes(this.params, t)) {
        if (write.block >= (state.relationSize(write.table.rel) ?? 0)) {
          state.relationSizes.set(relSizeKey(write.table.rel), write.block + 1);
        }
      }
      const { segno, block } = clogLocation(FIRST_XID + t);
      if ((clogSegments.get(segno) ?? 0) <= block) clogSegments.set(segno, block + 1);
    }
    return state;
  }

  async *stream(afterLsn: Lsn, signal: AbortSignal): AsyncIterable<WalBatch> {
    let t = this.firstTransactionAfter(afterLsn);
    const state = this.stateBefore(t);
    const limit = this.params.transactions ?? Number.POSITIVE_INFINITY;
    const rate = this.params.rate;
    const perBatch =
      rate > 0
        ? Math.max(1, Math.floor(rate / 20))
        : Math.max(1, Math.floor(this.batchRecords / this.recordsPerTransaction));
    const started = performance.now();
    const firstT = t;
    while (t < limit && !signal.aborted) {
      const to = Math.min(limit, t + perBatch);
      if (rate > 0) {
        const dueMs = ((to - firstT) / rate) * 1000 - (performance.now() - started);
        if (dueMs > 0) await sleep(dueMs, undefined, { signal }).catch(() => {});
        if (signal.aborted) return;
      } else {
        await yieldToEventLoop();
      }
      const values = this.generate(state, t, to, afterLsn);
      let walBytes = 0;
      for (const value of values) walBytes += encodedValueLength(value.value);
      yield {
        values,
        endLsn: this.transactionEndLsn(to - 1),
        walBytes,
        records: (to - t) * this.recordsPerTransaction,
      };
      t = to;
    }
  }
}
