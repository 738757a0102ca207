/**
 * A timeline: one branch of a tenant's history. It owns the layer map (historic layers on disk,
 * frozen and open in-memory layers), the LSN marks, ingest, the flush of frozen layers to L0
 * files, and reads through the read path (falling through to its ancestor at the branch LSN).
 *
 * LSN marks (all inclusive):
 *
 *     ancestor_lsn ≤ … disk_consistent_lsn ≤ last_record_lsn
 *     [historic layers …)[frozen …)[open …)
 *                        ^ disk_consistent_lsn + 1   (in-memory layers are contiguous from here)
 *
 * # Consistency
 * Readers see each frozen layer until its L0 replaces it in the layer map, in one synchronous
 * step (no await between the insert and the removal), so a read never sees a gap or a double.
 *
 * # Crash consistency
 * `disk_consistent_lsn` advances (in memory and in `metadata.json`) only after the L0 file and its
 * directory entry are fsynced. At load, layers above it ("future layers") are deleted: their WAL is
 * ingested again from `disk_consistent_lsn + 1`.
 *
 * # Cancellation
 * `shutdown()` stops ingest, optionally freezes and flushes, cancels background work through
 * `cancel`, waits for it through `gate`, and rejects LSN waiters with ShuttingDownError.
 */
import { existsSync, readdirSync, readFileSync, rmSync, statSync, unlinkSync } from "node:fs";
import path from "node:path";
import { assert } from "../assert.ts";
import {
  CorruptionError,
  type ErrorContext,
  InvalidArgumentError,
  PageserverError,
  ShuttingDownError,
  UnavailableError,
} from "../errors.ts";
import {
  type GcBlocking,
  type GcBlockReason,
  loadGcBlocking,
  saveGcBlocking,
  withoutReason,
  withReason,
} from "../gc/gc_block.ts";
import type { Generation, TenantId, TimelineId } from "../ids.ts";
import { isTempFileName, writeFileDurably } from "../io/durable_fs.ts";
import { formatKey, isCompactKey, type Key } from "../key/key.ts";
import { LayerMap } from "../layer_map/layer_map.ts";
import { formatLsn, type Lsn } from "../lsn.ts";
import {
  type GetVectoredResult,
  getValue,
  getVectored,
  type ReadStats,
} from "../read_path/get_vectored.ts";
import { DownloadAllLayersTask } from "../remote/download_all_layers.ts";
import { RemoteNotFoundError, RemoteStorageError } from "../remote/remote_storage.ts";
import type { RemoteTimelineClient } from "../remote/remote_timeline_client.ts";
import { EPHEMERAL_FILE_PREFIX } from "../storage_layer/ephemeral_file.ts";
import { InMemoryLayer } from "../storage_layer/inmemory_layer.ts";
import type { LayerIo } from "../storage_layer/layer_file_reader.ts";
import {
  compareLayerNames,
  type LayerName,
  localLayerFileName,
  parseLayerFileName,
} from "../storage_layer/layer_name.ts";
import { PersistentLayer } from "../storage_layer/persistent_layer.ts";
import type { TenantConfig } from "../tenant/tenant_config.ts";
import { AsyncMutex } from "../util/async_mutex.ts";
import { failpoint } from "../util/failpoints.ts";
import { Gate } from "../util/gate.ts";
import { type Logger, silentLogger } from "../util/logger.ts";
import type { Value } from "../value/value.ts";
import { loadArchivedAt, naiveUtcNow, saveArchivedAt } from "./archival.ts";
import { GcInfo } from "./gc_info.ts";
import {
  commitLayerSwap,
  finishLayerSwap,
  type LayerSwap,
  recoverLayerSwap,
} from "./layer_swap_journal.ts";
import { LsnWaiters } from "./lsn_waiters.ts";
import { METADATA_FILE_NAME, saveMetadata, type TimelineMetadata } from "./metadata.ts";
import { TimelineEvents } from "./timeline_events.ts";

export type TimelineState =
  | { readonly kind: "Loading" }
  | { readonly kind: "Active" }
  | { readonly kind: "Stopping" }
  | { readonly kind: "Broken"; readonly reason: string };

/** One value to ingest. */
export interface IngestValue {
  readonly key: Key;
  readonly lsn: Lsn;
  readonly value: Value;
}

/** Recent background runs kept per timeline for metrics and the console. */
export const RECENT_RUNS_MAX = 50;

export interface RecordedRun {
  readonly startedAtMs: number;
  readonly durationMs: number;
}

export interface TimelineOptions {
  readonly tenantId: TenantId;
  readonly timelineId: TimelineId;
  /** `<workdir>/tenants/<tenant>/timelines/<timeline>` */
  readonly directory: string;
  readonly io: LayerIo;
  readonly generation: Generation;
  readonly config: () => TenantConfig;
  readonly ancestor: Timeline | null;
  readonly metadata: TimelineMetadata;
  readonly logger?: Logger;
}

/** The names of evicted layers: they are in the layer map but have no local file. */
export const EVICTED_FILE_NAME = "evicted.json";

/** Frozen layers waiting for their flush beyond which ingest waits (backpressure). */
export const FROZEN_LAYERS_BACKPRESSURE = 4;
/** At shutdown, a flush failing this long (a full disk) is given up. */
const SHUTDOWN_FLUSH_FAILING_MS = 5_000;
const FLUSH_RETRY_DELAY_MS_MAX = 10_000;

/** A failing flush, as operators see it (timeline status, console). */
export interface FlushFailure {
  readonly message: string;
  readonly sinceMs: number;
  readonly attempts: number;
}

export class Timeline {
  readonly tenantId: TenantId;
  readonly timelineId: TimelineId;
  readonly directory: string;
  readonly io: LayerIo;
  readonly generation: Generation;
  readonly ancestor: Timeline | null;
  readonly ancestorLsn: Lsn;
  readonly initdbLsn: Lsn;
  readonly pgVersion: number;
  readonly layers = new LayerMap<PersistentLayer, InMemoryLayer>();
  readonly events = new TimelineEvents();
  readonly gc = new GcInfo();
  /** The upload queue, when remote storage is configured. */
  remote: RemoteTimelineClient | null = null;
  /** File names of layers evicted to remote storage (persisted in evicted.json). */
  private readonly evicted = new Set<string>();
  /** evicted.json writes, one at a time (they share a temp file name). */
  private evictedSave: Promise<void> = Promise.resolve();
  /** Counters for Neon's pageserver_evictions* and pageserver_ondemand_download_* metrics. */
  readonly residenceStats = {
    evictions: 0,
    evictionsWithLowResidence: 0,
    onDemandDownloads: 0,
    onDemandDownloadBytes: 0,
  };
  readonly log: Logger;
  private readonly configSource: () => TenantConfig;
  private stateValue: TimelineState = { kind: "Loading" };

  private lastRecord: Lsn;
  private prevRecord: Lsn | null;
  private diskConsistent: Lsn;
  /** Where the next open layer starts: disk_consistent_lsn + 1, then each freeze LSN. */
  private nextOpenLayerAt: Lsn;
  private latestGcCutoff: Lsn;
  private ephemeralSequence = 0;
  private readonly lastRecordWaiters: LsnWaiters;
  private flushing: Promise<void> | null = null;
  private flushFailureValue: FlushFailure | null = null;
  private readonly flushWaiters: Array<{
    lsn: Lsn;
    resolve: () => void;
    reject: (e: Error) => void;
  }> = [];
  readonly gate = new Gate();
  /** Held by whatever rewrites the historic layers: compaction, image creation, GC. */
  readonly layerRewriteLock = new AsyncMutex();
  /** The most recent compaction and GC runs, newest last. */
  readonly recentRuns: { compaction: RecordedRun[]; gc: RecordedRun[] } = {
    compaction: [],
    gc: [],
  };
  readonly cancel = new AbortController();
  private downloadAllTask: DownloadAllLayersTask | null = null;
  private gcBlockingValue: GcBlocking | null;
  private archivedAtValue: string | null;

  constructor(options: TimelineOptions) {
    const m = options.metadata;
    this.tenantId = options.tenantId;
    this.timelineId = options.timelineId;
    this.directory = options.directory;
    this.io = options.io;
    this.generation = options.generation;
    this.ancestor = options.ancestor;
    this.ancestorLsn = m.ancestorLsn;
    this.initdbLsn = m.initdbLsn;
    this.pgVersion = m.pgVersion;
    this.configSource = options.config;
    this.log = (options.logger ?? silentLogger).child({
      tenant_id: this.tenantId,
      timeline_id: this.timelineId,
    });
    this.diskConsistent = m.diskConsistentLsn;
    this.lastRecord = m.diskConsistentLsn;
    this.prevRecord = m.prevRecordLsn;
    this.nextOpenLayerAt = (m.diskConsistentLsn + 1) as Lsn;
    this.latestGcCutoff = m.latestGcCutoffLsn;
    this.lastRecordWaiters = new LsnWaiters(m.diskConsistentLsn);
    this.gcBlockingValue = loadGcBlocking(this.directory);
    this.archivedAtValue = loadArchivedAt(this.directory);
    assert(
      options.ancestor === null || options.ancestor.timelineId === m.ancestorTimeline,
      "ancestor mismatch",
    );
  }

  get state(): TimelineState {
    return this.stateValue;
  }

  get config(): TenantConfig {
    return this.configSource();
  }

  get lastRecordLsn(): Lsn {
    return this.lastRecord;
  }

  get prevRecordLsn(): Lsn | null {
    return this.prevRecord;
  }

  get diskConsistentLsn(): Lsn {
    return this.diskConsistent;
  }

  get latestGcCutoffLsn(): Lsn {
    return this.latestGcCutoff;
  }

  get metadataFile(): string {
    return path.join(this.directory, METADATA_FILE_NAME);
  }

  /** The metadata as it would be persisted now. */
  metadata(): TimelineMetadata {
    return {
      diskConsistentLsn: this.diskConsistent,
      prevRecordLsn: this.diskConsistent === this.lastRecord ? this.prevRecord : null,
      ancestorTimeline: this.ancestor?.timelineId ?? null,
      ancestorLsn: this.ancestorLsn,
      latestGcCutoffLsn: this.latestGcCutoff,
      initdbLsn: this.initdbLsn,
      pgVersion: this.pgVersion,
    };
  }

  context(extra: ErrorContext = {}): ErrorContext {
    return { tenantId: this.tenantId, timelineId: this.timelineId, ...extra };
  }

  setBroken(reason: string): void {
    this.log.error({ reason }, "timeline is broken");
    this.stateValue = { kind: "Broken", reason };
    this.events.emitState(this.stateValue);
  }

  private setState(state: TimelineState): void {
    this.stateValue = state;
    this.events.emitState(state);
  }

  private checkReadable(): void {
    const state = this.stateValue;
    if (state.kind === "Broken")
      throw new UnavailableError(`timeline is broken: ${state.reason}`, this.context());
    if (state.kind === "Stopping")
      throw new ShuttingDownError("timeline is shutting down", this.context());
  }

  // --- Loading -----------------------------------------------------------------------------

  /**
   * Builds the layer map from the timeline directory: removes temp and ephemeral files and
   * future layers, checks every layer file's header, then activates.
   */
  loadLayers(): void {
    if (recoverLayerSwap(this.directory))
      this.log.info({}, "rolled an interrupted layer swap forward");
    const found: Array<{ name: LayerName; generation: Generation; file: string; size: number }> =
      [];
    for (const entry of readdirSync(this.directory)) {
      const file = path.join(this.directory, entry);
      if (isTempFileName(entry) || entry.startsWith(EPHEMERAL_FILE_PREFIX)) {
        rmSync(file, { force: true, recursive: true });
        continue;
      }
      if (
        entry === METADATA_FILE_NAME ||
        entry === EVICTED_FILE_NAME ||
        entry === "wal_source.json"
      )
        continue;
      let parsed: ReturnType<typeof parseLayerFileName>;
      try {
        parsed = parseLayerFileName(entry);
      } catch {
        this.log.warn({ file: entry }, "ignoring unknown file in timeline directory");
        continue;
      }
      const generation = parsed.generation === undefined ? null : parsed.generation;
      if (parsed.name.lsnRange.end > this.diskConsistent + 1 && parsed.name.kind === "delta") {
        this.log.info({ layer: entry }, "removing future layer above disk_consistent_lsn");
        unlinkSync(file);
        continue;
      }
      if (parsed.name.kind === "image" && parsed.name.lsnRange.start > this.diskConsistent) {
        this.log.info({ layer: entry }, "removing future image layer above disk_consistent_lsn");
        unlinkSync(file);
        continue;
      }
      found.push({ name: parsed.name, generation, file, size: statSync(file).size });
    }
    const local = new Set(found.map((f) => path.basename(f.file)));
    for (const evicted of this.readEvictedNames()) {
      if (local.has(evicted.fileName)) continue; // Downloaded again before a crash: resident.
      found.push({ ...evicted, file: "", size: evicted.fileSize });
    }
    found.sort((a, b) => compareLayerNames(a.name, b.name));
    const batch = this.layers.batchUpdate();
    for (const { name, generation, size, file } of found) {
      const layer = new PersistentLayer({
        io: this.io,
        directory: this.directory,
        name,
        generation,
        fileSize: size,
      });
      if (file === "") {
        // Evicted: only remote storage has it; its header is checked when it is downloaded.
        layer.resident = false;
        batch.insert(layer);
        continue;
      }
      // Validate the header now: a damaged file makes the timeline Broken, not a wrong read later.
      try {
        layer.reader();
      } finally {
        layer.close();
      }
      batch.insert(layer);
    }
    batch.flush();
    this.setState({ kind: "Active" });
    this.log.info(
      { layers: found.length, disk_consistent_lsn: formatLsn(this.diskConsistent) },
      "timeline loaded",
    );
  }

  private readEvictedNames(): Array<{
    name: LayerName;
    generation: Generation;
    fileName: string;
    fileSize: number;
  }> {
    const file = path.join(this.directory, EVICTED_FILE_NAME);
    if (!existsSync(file)) return [];
    const entries = JSON.parse(readFileSync(file, "utf8")) as Array<{ file: string; size: number }>;
    const out: Array<{
      name: LayerName;
      generation: Generation;
      fileName: string;
      fileSize: number;
    }> = [];
    for (const entry of entries) {
      const parsed = parseLayerFileName(entry.file);
      this.evicted.add(entry.file);
      out.push({
        name: parsed.name,
        generation: parsed.generation ?? null,
        fileName: entry.file,
        fileSize: entry.size,
      });
    }
    return out;
  }

  private saveEvictedNames(): Promise<void> {
    const save = async () => {
      const sizes = new Map<string, number>();
      for (const layer of this.layers.historicLayers())
        if (this.evicted.has(layer.fileName)) sizes.set(layer.fileName, layer.fileSize);
      for (const name of this.evicted) if (!sizes.has(name)) this.evicted.delete(name);
      const entries = [...sizes].map(([file, size]) => ({ file, size }));
      await writeFileDurably(path.join(this.directory, EVICTED_FILE_NAME), JSON.stringify(entries));
    };
    const next = this.evictedSave.then(save, save);
    this.evictedSave = next.catch(() => {});
    return next;
  }

  /** Records layers that exist only remotely (attach from remote storage onto an empty disk). */
  static async writeEvictedNames(
    directory: string,
    entries: ReadonlyArray<{ file: string; size: number }>,
  ): Promise<void> {
    await writeFileDurably(path.join(directory, EVICTED_FILE_NAME), JSON.stringify(entries));
  }

  /**
   * Evicts an uploaded, resident, unpinned layer: it is recorded in evicted.json before its file
   * goes, so a crash in between leaves it resident, never lost. Returns false when the layer is
   * not evictable (now).
   */
  async evictLayer(layer: PersistentLayer, lowResidenceThresholdMs = 0): Promise<boolean> {
    const evictable = () =>
      layer.resident &&
      layer.uploaded &&
      layer.pins === 0 &&
      layer.downloading === null &&
      this.remote !== null &&
      this.stateValue.kind === "Active";
    if (!evictable()) return false;
    const residedMs = Date.now() - layer.access.residentSinceMs;
    this.evicted.add(layer.fileName);
    await this.saveEvictedNames();
    // A read, a download or a pin may have come in while evicted.json was written.
    if (!evictable()) {
      if (layer.resident) this.evicted.delete(layer.fileName);
      return false;
    }
    layer.evict();
    this.residenceStats.evictions++;
    if (residedMs < lowResidenceThresholdMs) this.residenceStats.evictionsWithLowResidence++;
    this.log.debug({ layer: layer.fileName, resided_ms: residedMs }, "evicted layer");
    this.events.emitLayers(this);
    return true;
  }

  /**
   * The on-demand download of an evicted layer; concurrent callers share it. Errors name the
   * object key: a missing object is corruption (an index named it), anything else is
   * unavailability of remote storage.
   */
  ensureResident(layer: PersistentLayer): Promise<void> | null {
    if (layer.resident) return null;
    if (layer.downloading) return layer.downloading;
    const remote = this.remote;
    if (!remote) {
      return Promise.reject(
        new UnavailableError(
          `layer ${layer.fileName} is evicted and remote storage is not connected (not configured, or unreachable since start-up)`,
          this.context({ file: layer.path }),
        ),
      );
    }
    layer.downloading = (async () => {
      const key = remote.remoteKeyOf(layer);
      let size: number;
      try {
        size = await remote.downloadLayer(layer, this.cancel.signal);
      } catch (error) {
        if (this.cancel.signal.aborted)
          throw new ShuttingDownError("timeline is shutting down", this.context());
        if (error instanceof RemoteNotFoundError) {
          throw new CorruptionError(
            `layer ${layer.fileName} is evicted but missing from remote storage (${key})`,
            this.context({ file: layer.path, object: key }),
            error,
          );
        }
        if (error instanceof RemoteStorageError) {
          throw new UnavailableError(
            `cannot download layer ${layer.fileName} from remote storage: ${error.message}`,
            this.context({ object: key }),
          );
        }
        throw error;
      }
      if (size !== layer.fileSize) {
        rmSync(layer.path, { force: true });
        throw new CorruptionError(
          `downloaded layer ${layer.fileName} (${key}) has ${size} bytes, expected ${layer.fileSize}`,
          this.context({ file: layer.path, object: key }),
        );
      }
      layer.markResident();
      this.residenceStats.onDemandDownloads++;
      this.residenceStats.onDemandDownloadBytes += size;
      this.evicted.delete(layer.fileName);
      this.events.emitLayers(this);
      await this.saveEvictedNames().catch((error) =>
        this.log.warn({ err: error }, "cannot save evicted.json"),
      );
    })().finally(() => {
      layer.downloading = null;
    });
    return layer.downloading;
  }

  /**
   * Makes `layers` resident and keeps them so until the returned release is called (compaction
   * reads its inputs whole, across awaits; eviction must not pull a file from under it).
   */
  async pinResident(layers: readonly PersistentLayer[]): Promise<() => void> {
    for (const layer of layers) layer.pins++;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      for (const layer of layers) layer.pins--;
    };
    try {
      await this.ensureAllResident(layers);
    } catch (error) {
      release();
      throw error;
    }
    return release;
  }

  /**
   * Starts downloading every evicted layer in the background (Neon's `download_remote_layers`),
   * unless a download-all task is running already: then that one is returned, not started.
   */
  downloadAllRemoteLayers(maxConcurrentDownloads: number): {
    started: boolean;
    task: DownloadAllLayersTask;
  } {
    const running = this.downloadAllTask;
    if (running?.running) return { started: false, task: running };
    const task = new DownloadAllLayersTask(
      {
        historicLayers: () => this.layers.historicLayers(),
        ensureResident: (layer) => this.ensureResident(layer),
        signal: this.cancel.signal,
        onFailure: (layer, error) =>
          this.log.warn(
            { err: error, layer: layer.fileName },
            "download of an evicted layer failed",
          ),
      },
      maxConcurrentDownloads,
    );
    this.downloadAllTask = task;
    this.log.info(
      { task_id: task.info.task_id, layers: task.info.total_layer_count },
      "downloading all evicted layers",
    );
    void task.done.then(() =>
      this.log.info({ ...task.info }, "download of all evicted layers ended"),
    );
    return { started: true, task };
  }

  /** When the timeline was archived (see timeline/archival.ts), or null. */
  get archivedAt(): string | null {
    return this.archivedAtValue;
  }

  /**
   * Archives or unarchives, durably (locally, then in the next index_part.json). The tenant
   * checks the preconditions (children archived, ancestor not archived) before calling this.
   * Returns whether anything changed.
   */
  async setArchived(archived: boolean): Promise<boolean> {
    if (archived === (this.archivedAtValue !== null)) return false;
    const next = archived ? naiveUtcNow() : null;
    await saveArchivedAt(this.directory, next);
    this.archivedAtValue = next;
    this.log.info({ archived_at: next }, archived ? "timeline archived" : "timeline unarchived");
    if (this.remote) {
      this.remote.setArchivedAt(next);
      this.remote.scheduleIndexUpload(this.metadata());
    }
    return true;
  }

  /** Neon's gc_blocking of this timeline (see gc/gc_block.ts); null when GC may run. */
  get gcBlocking(): GcBlocking | null {
    return this.gcBlockingValue;
  }

  /**
   * Adds (`block`) or removes a GC block reason, durably: locally first, then in the next
   * index_part.json. Returns whether anything changed (Neon's calls are idempotent).
   */
  async setGcBlock(reason: GcBlockReason, block: boolean): Promise<boolean> {
    const next = block
      ? withReason(this.gcBlockingValue, reason)
      : withoutReason(this.gcBlockingValue, reason);
    if (next === null && block) return false;
    if (next === undefined) return false;
    await saveGcBlocking(this.directory, next);
    this.gcBlockingValue = next;
    this.log.info({ reason, block, gc_blocking: next }, block ? "GC blocked" : "GC unblocked");
    if (this.remote) {
      this.remote.setGcBlocking(next);
      this.remote.scheduleIndexUpload(this.metadata());
    }
    return true;
  }

  /** The last download-all task since the process started, running or ended; null if none. */
  get downloadAllRemoteLayersTask(): DownloadAllLayersTask | null {
    return this.downloadAllTask;
  }

  /** Downloads `layers` if evicted, in parallel (each download is shared with any reader). */
  async ensureAllResident(layers: readonly PersistentLayer[]): Promise<void> {
    await Promise.all(layers.map((layer) => this.ensureResident(layer)));
  }

  /** Activates a timeline created empty (no layers yet). */
  activate(): void {
    this.setState({ kind: "Active" });
  }

  // --- Ingest ------------------------------------------------------------------------------

  private openLayer(): InMemoryLayer {
    const open = this.layers.openLayer;
    if (open) return open;
    const layer = new InMemoryLayer({
      directory: this.directory,
      tenantId: this.tenantId,
      timelineId: this.timelineId,
      lsnStart: this.nextOpenLayerAt,
      sequence: this.ephemeralSequence++,
    });
    this.layers.setOpenLayer(layer);
    return layer;
  }

  /**
   * Ingests the values of a batch of WAL records and advances last_record_lsn to `endLsn` (the
   * LSN of the last record). Every value's LSN must be above the current last_record_lsn and at
   * most `endLsn`, non-decreasing.
   */
  ingest(values: readonly IngestValue[], endLsn: Lsn, prevLsn: Lsn | null = null): void {
    if (this.stateValue.kind !== "Active") {
      throw new UnavailableError(
        `cannot ingest: timeline is ${this.stateValue.kind}`,
        this.context(),
      );
    }
    if (endLsn <= this.lastRecord && values.length > 0) {
      throw new InvalidArgumentError(
        `WAL at ${formatLsn(endLsn)} is not above last_record_lsn ${formatLsn(this.lastRecord)}`,
        this.context({ lsn: formatLsn(endLsn) }),
      );
    }
    let previous = this.lastRecord;
    for (const { key, lsn } of values) {
      if (lsn <= this.lastRecord || lsn > endLsn || lsn < previous) {
        throw new InvalidArgumentError(
          `value LSN ${formatLsn(lsn)} out of order (last_record_lsn ${formatLsn(this.lastRecord)}, batch end ${formatLsn(endLsn)})`,
          this.context({ key: formatKey(key), lsn: formatLsn(lsn) }),
        );
      }
      if (!isCompactKey(key)) {
        throw new InvalidArgumentError(
          `key ${formatKey(key)} is outside the compact key space`,
          this.context(),
        );
      }
      previous = lsn;
    }
    if (values.length > 0) {
      const open = this.openLayer();
      for (const { key, lsn, value } of values) open.put(key, lsn, value);
    }
    this.advanceLastRecordLsn(endLsn, prevLsn);
    this.maybeRoll();
  }

  /** Moves last_record_lsn forward (WAL without values, e.g. a keepalive) and wakes waiters. */
  advanceLastRecordLsn(lsn: Lsn, prevLsn: Lsn | null = null): void {
    if (lsn <= this.lastRecord) return;
    this.prevRecord = prevLsn ?? this.lastRecord;
    this.lastRecord = lsn;
    this.lastRecordWaiters.advance(lsn);
    this.events.emitLsn(this);
  }

  /** Neon's should_roll: by size, LSN distance or age, never an empty layer. */
  private shouldRoll(open: InMemoryLayer, nowMs: number): boolean {
    if (open.valueCount === 0) return false;
    const config = this.config;
    return (
      open.size >= config.checkpointDistanceBytes ||
      this.lastRecord + 1 - open.lsnStart >= config.checkpointDistanceBytes ||
      nowMs - open.createdAtMs >= config.checkpointTimeoutMs
    );
  }

  private maybeRoll(nowMs = Date.now()): void {
    const open = this.layers.openLayer;
    if (open && this.shouldRoll(open, nowMs)) this.freezeOpenLayer();
  }

  /** The periodic check for checkpoint_timeout (ingest may have stopped). */
  tick(nowMs = Date.now()): void {
    if (this.stateValue.kind === "Active") this.maybeRoll(nowMs);
  }

  /** Freezes the open layer at last_record_lsn + 1 and starts the flush. */
  freezeOpenLayer(): void {
    const open = this.layers.openLayer;
    if (!open || open.valueCount === 0) return;
    const end = (this.lastRecord + 1) as Lsn;
    open.freeze(end);
    this.layers.freezeOpenLayer();
    this.nextOpenLayerAt = end;
    this.events.emitLayers(this);
    this.startFlush();
  }

  /**
   * Why frozen layers are not reaching disk (a full disk, an I/O error), while the flush retries;
   * null when the last flush succeeded. Ingest waits meanwhile (backpressure), nothing is lost.
   */
  get flushFailure(): FlushFailure | null {
    return this.flushFailureValue;
  }

  /** Resolves once the flush has been failing for `ms` without a success in between. */
  private async flushKeepsFailing(ms: number): Promise<void> {
    for (;;) {
      const failure = this.flushFailureValue;
      if (failure !== null && Date.now() - failure.sinceMs >= ms) return;
      if (this.cancel.signal.aborted) return;
      await new Promise((resolve) => setTimeout(resolve, 100).unref());
    }
  }

  get frozenLayerCount(): number {
    return this.layers.frozenLayers.length;
  }

  /**
   * Resolves when ingest may continue (fewer than FROZEN_LAYERS_BACKPRESSURE frozen layers), or
   * once `signal` aborts: a stopping ingest loop must not wait for flushes that may never succeed
   * (a full disk).
   */
  async waitForIngestCapacity(signal?: AbortSignal): Promise<void> {
    while (
      this.frozenLayerCount >= FROZEN_LAYERS_BACKPRESSURE &&
      this.stateValue.kind === "Active" &&
      !signal?.aborted
    ) {
      const oldest = this.layers.frozenLayers[0]!;
      const flushed = this.waitForDiskConsistent((oldest.lsnEnd - 1) as Lsn);
      if (!signal) {
        await flushed;
        continue;
      }
      // Left behind when the signal wins: its later rejection (shutdown) is expected.
      flushed.catch(() => {});
      let onAbort!: () => void;
      const aborted = new Promise<void>((resolve) => {
        onAbort = resolve;
        signal.addEventListener("abort", onAbort, { once: true });
      });
      try {
        await Promise.race([flushed, aborted]);
      } finally {
        signal.removeEventListener("abort", onAbort);
      }
    }
  }

  // --- Flush -------------------------------------------------------------------------------

  private startFlush(): void {
    if (this.flushing) return;
    this.flushing = this.flushLoop().finally(() => {
      this.flushing = null;
      // A freeze that raced with the end of the loop.
      if (this.frozenLayerCount > 0 && !this.cancel.signal.aborted) this.startFlush();
    });
  }

  private async flushLoop(): Promise<void> {
    let failures = 0;
    while (this.layers.frozenLayers.length > 0 && !this.cancel.signal.aborted) {
      const frozen = this.layers.frozenLayers[0]!;
      try {
        await this.gate.run(() => this.flushOne(frozen));
        failures = 0;
        if (this.flushFailureValue) {
          this.log.info({ attempts: this.flushFailureValue.attempts }, "layer flush recovered");
          this.flushFailureValue = null;
        }
      } catch (error) {
        if (this.cancel.signal.aborted) break;
        failures++;
        this.flushFailureValue = {
          message: `flush of ${frozen.toString()} failed: ${(error as Error).message}`,
          sinceMs: this.flushFailureValue?.sinceMs ?? Date.now(),
          attempts: (this.flushFailureValue?.attempts ?? 0) + 1,
        };
        const delay = Math.min(FLUSH_RETRY_DELAY_MS_MAX, 100 * 2 ** failures);
        this.log.error(
          { err: error, layer: frozen.toString(), retry_in_ms: delay },
          "layer flush failed; retrying",
        );
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  /** Writes one frozen layer as an L0, swaps it into the layer map, persists the new LSN. */
  private async flushOne(frozen: InMemoryLayer): Promise<void> {
    const started = performance.now();
    await failpoint("flush-frozen-before");
    const { summary } = await frozen.writeToDisk((name) =>
      path.join(this.directory, localLayerFileName(name, this.generation)),
    );
    const layer = new PersistentLayer({
      io: this.io,
      directory: this.directory,
      name: frozen.l0Name(),
      generation: this.generation,
      fileSize: summary.fileSize,
    });
    // The swap: one synchronous step, so readers see either the frozen layer or the L0.
    const batch = this.layers.batchUpdate();
    batch.insert(layer);
    batch.flush();
    this.layers.removeOldestFrozen(frozen);
    frozen.delete();
    const newDiskConsistent = (frozen.lsnEnd - 1) as Lsn;
    this.diskConsistent = newDiskConsistent;
    await failpoint("flush-frozen-before-metadata");
    await saveMetadata(this.metadataFile, this.metadata());
    await failpoint("flush-frozen-after");
    if (this.remote) {
      this.remote.scheduleUpload(layer);
      this.remote.scheduleIndexUpload(this.metadata());
    }
    const elapsedMs = performance.now() - started;
    this.log.info(
      { layer: layer.fileName, bytes: summary.fileSize, elapsed_ms: Math.round(elapsedMs) },
      "flushed in-memory layer to L0",
    );
    this.events.emitFlush(this, layer, elapsedMs);
    this.events.emitLayers(this);
    this.wakeFlushWaiters();
  }

  private wakeFlushWaiters(): void {
    for (let i = this.flushWaiters.length - 1; i >= 0; i--) {
      const waiter = this.flushWaiters[i]!;
      if (waiter.lsn <= this.diskConsistent) {
        this.flushWaiters.splice(i, 1);
        waiter.resolve();
      }
    }
  }

  /** Resolves once disk_consistent_lsn ≥ lsn. */
  waitForDiskConsistent(lsn: Lsn): Promise<void> {
    if (lsn <= this.diskConsistent) return Promise.resolve();
    if (this.cancel.signal.aborted)
      return Promise.reject(new ShuttingDownError("timeline is shutting down", this.context()));
    return new Promise((resolve, reject) => this.flushWaiters.push({ lsn, resolve, reject }));
  }

  /** Freezes the open layer and waits until everything ingested so far is on disk. */
  async checkpoint(): Promise<void> {
    this.checkReadable();
    const target = this.lastRecord;
    this.freezeOpenLayer();
    await this.waitForDiskConsistent(target);
  }

  // --- Reads -------------------------------------------------------------------------------

  /** Waits until last_record_lsn ≥ lsn, or times out with a TimeoutError naming the LSNs. */
  waitLsn(lsn: Lsn, timeoutMs: number): Promise<void> {
    this.checkReadable();
    return this.lastRecordWaiters.wait(lsn, timeoutMs, this.context());
  }

  /** Reconstructs up to 32 keys at `lsn`; each key maps to its value or its error. */
  getVectored(keys: readonly Key[], lsn: Lsn, stats?: ReadStats): Promise<GetVectoredResult> {
    this.checkReadable();
    return getVectored(this, keys, lsn, stats);
  }

  /** Reconstructs one key at `lsn`; throws its error. */
  get(key: Key, lsn: Lsn, stats?: ReadStats): Promise<Buffer> {
    this.checkReadable();
    return getValue(this, key, lsn, stats);
  }

  // --- Layers ------------------------------------------------------------------------------

  /** Sum of the sizes of every layer, resident or evicted (TimelineInfo's current_physical_size). */
  physicalSize(): number {
    let total = 0;
    for (const layer of this.layers.historicLayers()) total += layer.fileSize;
    return total;
  }

  /** Sum of the sizes of the layer files present locally (pageserver_resident_physical_size). */
  residentPhysicalSize(): number {
    let total = 0;
    for (const layer of this.layers.historicLayers()) if (layer.resident) total += layer.fileSize;
    return total;
  }

  /** Sum of the sizes the uploaded remote index names (pageserver_remote_physical_size). */
  remotePhysicalSize(): number {
    return this.remote?.remotePhysicalSize() ?? 0;
  }

  /** Bytes held by in-memory layers (ephemeral files). */
  ephemeralBytes(): number {
    let total = this.layers.openLayer?.size ?? 0;
    for (const frozen of this.layers.frozenLayers) total += frozen.size;
    return total;
  }

  /** A layer object for a file of this timeline (not yet in the layer map). */
  newLayer(name: LayerName, fileSize: number): PersistentLayer {
    return new PersistentLayer({
      io: this.io,
      directory: this.directory,
      name,
      generation: this.generation,
      fileSize,
    });
  }

  /**
   * Installs `outputs` (written as `<file>.___temp`) in place of `inputs`, durably (see
   * layer_swap_journal.ts) and, for readers, in one synchronous step.
   */
  async replaceLayers(
    inputs: readonly PersistentLayer[],
    outputs: readonly PersistentLayer[],
  ): Promise<void> {
    const swap: LayerSwap = {
      inputs: inputs.map((l) => l.fileName),
      outputs: outputs.map((l) => l.fileName),
    };
    // An input's file must outlive its upload: an index scheduled before may name it.
    if (this.remote) for (const layer of inputs) await this.remote.waitForUpload(layer);
    await failpoint("compaction-before-commit");
    await commitLayerSwap(this.directory, swap);
    await failpoint("compaction-after-commit");
    const batch = this.layers.batchUpdate();
    for (const layer of outputs) batch.insert(layer);
    for (const layer of inputs) batch.remove(layer);
    batch.flush();
    for (const layer of inputs) layer.close();
    finishLayerSwap(this.directory, swap);
    if (this.remote) {
      for (const layer of outputs) this.remote.scheduleUpload(layer);
      this.remote.scheduleRemoval(inputs, this.metadata());
    }
    if (inputs.some((l) => this.evicted.has(l.fileName))) await this.saveEvictedNames();
    this.events.emitLayers(this);
  }

  /** Adds layers whose files are already in place (image layers). */
  addLayers(layers: readonly PersistentLayer[]): void {
    if (layers.length === 0) return;
    const batch = this.layers.batchUpdate();
    for (const layer of layers) batch.insert(layer);
    batch.flush();
    if (this.remote) {
      for (const layer of layers) this.remote.scheduleUpload(layer);
      this.remote.scheduleIndexUpload(this.metadata());
    }
    this.events.emitLayers(this);
  }

  /** Removes layers from the map, then their files, local and remote (GC). */
  async removeLayers(layers: readonly PersistentLayer[]): Promise<void> {
    if (layers.length === 0) return;
    if (this.remote) for (const layer of layers) await this.remote.waitForUpload(layer);
    const batch = this.layers.batchUpdate();
    for (const layer of layers) batch.remove(layer);
    batch.flush();
    this.remote?.scheduleRemoval(layers, this.metadata());
    for (const layer of layers) layer.deleteLocalFile();
    if (layers.some((l) => this.evicted.has(l.fileName))) await this.saveEvictedNames();
    this.events.emitLayers(this);
  }

  recordRun(kind: "compaction" | "gc", run: RecordedRun): void {
    const runs = this.recentRuns[kind];
    runs.push(run);
    if (runs.length > RECENT_RUNS_MAX) runs.shift();
    this.events.emitRun(this, kind, run);
  }

  setLatestGcCutoff(lsn: Lsn): void {
    assert(lsn >= this.latestGcCutoff, "GC cutoff moves only forward");
    this.latestGcCutoff = lsn;
  }

  async persistMetadata(): Promise<void> {
    await saveMetadata(this.metadataFile, this.metadata());
  }

  // --- Shutdown ----------------------------------------------------------------------------

  /**
   * Stops the timeline. With `flush`, freezes the open layer and waits for every frozen layer
   * to reach disk first (graceful shutdown); without, in-memory data is dropped (it is re-ingested
   * from the WAL). Afterwards nothing touches the timeline's files.
   */
  async shutdown(options: { flush: boolean }): Promise<void> {
    if (this.stateValue.kind === "Stopping") return;
    const wasActive = this.stateValue.kind === "Active";
    if (options.flush && wasActive) {
      try {
        this.freezeOpenLayer();
        const flushed = await Promise.race([
          this.waitForDiskConsistent(this.lastRecord).then(() => true),
          this.flushKeepsFailing(SHUTDOWN_FLUSH_FAILING_MS).then(() => false),
        ]);
        // A full disk must not keep the process from stopping: what is not on disk is above
        // disk_consistent_lsn, and ingest replays it from there after the restart.
        if (!flushed)
          this.log.warn(
            {
              disk_consistent_lsn: formatLsn(this.diskConsistent),
              error: this.flushFailure?.message,
            },
            "giving up the flush during shutdown: it keeps failing",
          );
      } catch (error) {
        this.log.warn({ err: error }, "flush during shutdown failed");
      }
    }
    if (options.flush && this.remote) {
      // Drain the upload queue for a while; what is left is reconciled at the next start.
      await Promise.race([
        this.remote.waitForIdle(),
        new Promise((resolve) => setTimeout(resolve, 10_000)),
      ]);
    }
    this.setState({ kind: "Stopping" });
    this.remote?.shutdown();
    this.cancel.abort();
    const stopping = new ShuttingDownError("timeline is shutting down", this.context());
    this.lastRecordWaiters.close(stopping);
    for (const waiter of this.flushWaiters.splice(0)) waiter.reject(stopping);
    await this.flushing?.catch(() => {});
    await this.gate.close();
    this.layers.openLayer?.delete();
    for (const frozen of this.layers.frozenLayers) frozen.delete();
    for (const layer of this.layers.historicLayers()) layer.close();
  }
}

export { CorruptionError, PageserverError };
