/**
 * The compaction simulator's timeline (Neon's `MockTimeline`, reference §5): numeric keys, records
 * of a given length, an in-memory buffer flushed to an L0 delta once it holds more than the target
 * file size, and tiered compaction every `tiersPerLevel` flushes. Nothing touches a disk: a layer
 * is its shape, its size and (for deltas) its records, so a run of 20 GB of WAL takes seconds.
 *
 * What it measures:
 * - write amplification = bytes written (flushes, re-tiled deltas, images) / WAL ingested;
 * - storage amplification = (bytes written − bytes deleted) / WAL ingested.
 *
 * Every flush, layer creation and deletion is recorded in `history`, grouped into steps (a step is
 * one flush or one compaction run), for the HTML replay (`draw_html.ts`).
 *
 * Determinism: the timeline itself uses no randomness; workloads take a seeded generator
 * (`workloads.ts`), so a seed replays a run exactly.
 */
import { assert } from "../../assert.ts";
import { RecordBuffer, type RecordRun, runBytes } from "./records.ts";
import {
  compactTiered,
  type LevelCompactionReport,
  type NumericKeyRange,
  type TieredExecutor,
  type TieredLayer,
} from "./tiered.ts";

/** The highest simulator key (exclusive end of an L0's key range). */
export const MOCK_KEY_MAX = Number.MAX_SAFE_INTEGER;
/** Neon's simulator starts its WAL at LSN 1000. */
export const MOCK_START_LSN = 1000;
export const MOCK_TARGET_FILE_SIZE_BYTES_DEFAULT = 256 * 1024 * 1024;
export const MOCK_TIERS_PER_LEVEL_DEFAULT = 4;

export interface MockLayer extends TieredLayer {
  readonly id: number;
  readonly name: string;
  /** The step at which it was created / deleted (null while live). */
  readonly createdStep: number;
  deletedStep: number | null;
}

export type LayerTraceOp = "flush" | "create_delta" | "create_image" | "delete";

export interface LayerTraceEvent {
  readonly step: number;
  readonly op: LayerTraceOp;
  readonly layerId: number;
}

/** What a step was: a flush, or a compaction run with what it did per level. */
export interface StepInfo {
  readonly step: number;
  readonly kind: "flush" | "compaction";
  readonly walIngestedBytes: number;
  readonly bytesWritten: number;
  readonly bytesDeleted: number;
  readonly levels?: readonly LevelCompactionReport[];
}

export interface SimulatorStats {
  readonly walIngestedBytes: number;
  readonly bytesWritten: number;
  readonly bytesDeleted: number;
  readonly layersCreated: number;
  readonly layersDeleted: number;
  readonly liveLayers: number;
  readonly flushes: number;
  readonly compactions: number;
  readonly writeAmplification: number;
  readonly storageAmplification: number;
}

export interface MockTimelineOptions {
  readonly targetFileSizeBytes?: number;
  readonly tiersPerLevel?: number;
}

function hex(value: number, digits: number): string {
  return value.toString(16).toUpperCase().padStart(digits, "0");
}

/** A short name in the spirit of a layer file name: keys and LSNs in hex. */
function mockLayerName(layer: Omit<MockLayer, "name">): string {
  const keys = `${hex(layer.keyStart, 16)}-${hex(layer.keyEnd, 16)}`;
  if (layer.kind === "image") return `${keys}__${hex(layer.lsnStart, 8)}`;
  return `${keys}__${hex(layer.lsnStart, 8)}-${hex(layer.lsnEnd, 8)}`;
}

export class MockTimeline implements TieredExecutor<MockLayer> {
  readonly targetFileSizeBytes: number;
  readonly tiersPerLevel: number;

  private readonly buffer = new RecordBuffer();
  private bufferBytes = 0;
  private startLsn = MOCK_START_LSN;
  /** The LSN the next record gets. */
  private endLsn = MOCK_START_LSN;
  private lastFlushLsn = MOCK_START_LSN;
  private flushCount = 0;
  private lastCompactAtFlush = 0;
  private compactionCount = 0;
  private readonly keyRanges: NumericKeyRange[] = [];

  private live: MockLayer[] = [];
  private nextLayerId = 1;
  private step = 0;
  readonly layers: MockLayer[] = [];
  readonly history: LayerTraceEvent[] = [];
  readonly steps: StepInfo[] = [];

  private walIngestedBytes = 0;
  private bytesWritten = 0;
  private bytesDeleted = 0;
  private layersDeleted = 0;

  constructor(options: MockTimelineOptions = {}) {
    this.targetFileSizeBytes = options.targetFileSizeBytes ?? MOCK_TARGET_FILE_SIZE_BYTES_DEFAULT;
    this.tiersPerLevel = options.tiersPerLevel ?? MOCK_TIERS_PER_LEVEL_DEFAULT;
    assert(this.targetFileSizeBytes >= 1, "target file size must be positive");
    assert(Number.isInteger(this.tiersPerLevel) && this.tiersPerLevel >= 1, "tiers per level ≥ 1");
  }

  /** The end LSN of the last flushed L0: the top of the on-disk layers. */
  get lastFlushedLsn(): number {
    return this.lastFlushLsn;
  }

  /** Adds a key range to the keyspace (a workload declares the keys it may write). */
  addKeyRange(range: NumericKeyRange): void {
    assert(range.start < range.end && range.end <= MOCK_KEY_MAX, "bad key range");
    const all = [...this.keyRanges, range].sort((a, b) => a.start - b.start);
    const merged: NumericKeyRange[] = [];
    for (const next of all) {
      const last = merged[merged.length - 1];
      if (last && next.start <= last.end) {
        merged[merged.length - 1] = { start: last.start, end: Math.max(last.end, next.end) };
      } else {
        merged.push(next);
      }
    }
    this.keyRanges.splice(0, this.keyRanges.length, ...merged);
  }

  /** Ingests one record; flushes an L0 once the buffer holds more than the target size. */
  ingestRecord(key: number, length: number): void {
    assert(Number.isSafeInteger(key) && key >= 0 && key < MOCK_KEY_MAX, `bad key ${key}`);
    assert(Number.isInteger(length) && length >= 1, `record length ${length} must be ≥ 1`);
    this.buffer.push(key, this.endLsn, length);
    this.bufferBytes += length;
    this.endLsn += length;
    this.walIngestedBytes += length;
    if (this.bufferBytes > this.targetFileSizeBytes) this.flushL0();
  }

  /** Writes the buffer as an L0 delta over the whole key space (no-op when empty). */
  flushL0(): void {
    if (this.buffer.count === 0) return;
    const records = this.buffer.takeSortedByKey();
    this.step++;
    this.addLayer("flush", {
      kind: "delta",
      keyStart: 0,
      keyEnd: MOCK_KEY_MAX,
      lsnStart: this.startLsn,
      lsnEnd: this.endLsn,
      fileSize: this.bufferBytes,
      records,
    });
    this.startLsn = this.endLsn;
    this.bufferBytes = 0;
    this.flushCount++;
    this.lastFlushLsn = this.endLsn;
    this.recordStep("flush");
  }

  /** Compacts once `tiersPerLevel` flushes have happened since the last compaction. */
  compactIfNeeded(): LevelCompactionReport[] | null {
    if (this.flushCount - this.lastCompactAtFlush < this.tiersPerLevel) return null;
    const reports = this.compact();
    this.lastCompactAtFlush = this.flushCount;
    return reports;
  }

  /** One tiered compaction run below the last flush. */
  compact(): LevelCompactionReport[] {
    this.step++;
    const reports = compactTiered(this, {
      endLsn: this.lastFlushLsn,
      targetFileSizeBytes: this.targetFileSizeBytes,
      fanout: this.tiersPerLevel,
    });
    this.compactionCount++;
    this.recordStep("compaction", reports);
    return reports;
  }

  private recordStep(kind: StepInfo["kind"], levels?: readonly LevelCompactionReport[]): void {
    this.steps.push({
      step: this.step,
      kind,
      walIngestedBytes: this.walIngestedBytes,
      bytesWritten: this.bytesWritten,
      bytesDeleted: this.bytesDeleted,
      ...(levels ? { levels } : {}),
    });
  }

  // --- TieredExecutor ---

  liveLayers(): readonly MockLayer[] {
    return this.live;
  }

  keyspace(): readonly NumericKeyRange[] {
    return this.keyRanges;
  }

  createDelta(keyRange: NumericKeyRange, lsnStart: number, lsnEnd: number, run: RecordRun): void {
    this.addLayer("create_delta", {
      kind: "delta",
      keyStart: keyRange.start,
      keyEnd: keyRange.end,
      lsnStart,
      lsnEnd,
      fileSize: runBytes(run),
      records: run,
    });
  }

  createImage(keyRange: NumericKeyRange, lsn: number, fileSize: number): void {
    this.addLayer("create_image", {
      kind: "image",
      keyStart: keyRange.start,
      keyEnd: keyRange.end,
      lsnStart: lsn,
      lsnEnd: lsn + 1,
      fileSize,
      records: null,
    });
  }

  deleteLayer(layer: MockLayer): void {
    assert(layer.deletedStep === null, `layer ${layer.name} deleted twice`);
    const index = this.live.indexOf(layer);
    assert(index >= 0, `layer ${layer.name} is not live`);
    this.live.splice(index, 1);
    layer.deletedStep = this.step;
    this.bytesDeleted += layer.fileSize;
    this.layersDeleted++;
    this.history.push({ step: this.step, op: "delete", layerId: layer.id });
  }

  private addLayer(
    op: LayerTraceOp,
    shape: Omit<MockLayer, "id" | "name" | "createdStep" | "deletedStep">,
  ): MockLayer {
    assert(shape.keyStart < shape.keyEnd, "empty key range");
    assert(shape.lsnStart < shape.lsnEnd, "empty LSN range");
    const unnamed = { ...shape, id: this.nextLayerId++, createdStep: this.step, deletedStep: null };
    const layer: MockLayer = { ...unnamed, name: mockLayerName(unnamed) };
    this.live.push(layer);
    this.layers.push(layer);
    this.bytesWritten += layer.fileSize;
    this.history.push({ step: this.step, op, layerId: layer.id });
    return layer;
  }

  stats(): SimulatorStats {
    const wal = this.walIngestedBytes;
    return {
      walIngestedBytes: wal,
      bytesWritten: this.bytesWritten,
      bytesDeleted: this.bytesDeleted,
      layersCreated: this.layers.length,
      layersDeleted: this.layersDeleted,
      liveLayers: this.live.length,
      flushes: this.flushCount,
      compactions: this.compactionCount,
      writeAmplification: wal === 0 ? 0 : this.bytesWritten / wal,
      storageAmplification: wal === 0 ? 0 : (this.bytesWritten - this.bytesDeleted) / wal,
    };
  }
}

/** Neon's stats text: sizes in MiB, amplifications with two decimals. */
export function formatSimulatorStats(stats: SimulatorStats): string {
  const mib = (bytes: number) => Math.floor(bytes / (1024 * 1024));
  const row = (label: string, value: string) => `${label.padEnd(18)}${value.padStart(10)}`;
  return [
    "STATISTICS:",
    `${row("WAL ingested:", String(mib(stats.walIngestedBytes)))} MB`,
    `${row("size created:", String(mib(stats.bytesWritten)))} MB`,
    `${row("size deleted:", String(mib(stats.bytesDeleted)))} MB`,
    row("files created:", String(stats.layersCreated)),
    row("files deleted:", String(stats.layersDeleted)),
    row("files live:", String(stats.liveLayers)),
    row("flushes:", String(stats.flushes)),
    row("compactions:", String(stats.compactions)),
    row("write amp:", stats.writeAmplification.toFixed(2)),
    row("storage amp:", stats.storageAmplification.toFixed(2)),
  ].join("\n");
}
