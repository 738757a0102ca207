/**
 * The upload queue of one timeline (Neon's RemoteTimelineClient): layer uploads, index_part
 * uploads and remote deletions, scheduled in logical order and executed with Neon's bypass rules
 * (reference §8, upload_queue.rs::can_bypass):
 *
 * - An **index upload** never passes anything: it starts once every operation scheduled before it
 *   has finished, so every layer it names is in remote storage before it is. Consecutive index
 *   uploads that are ready together are coalesced into the newest.
 * - A **layer upload** passes anything ahead except an upload or a deletion of the same object
 *   (name + generation), and — when the object is one an index may already name (a re-upload) —
 *   an index upload.
 * - A **deletion** passes layer uploads of other objects but no index upload: it is always
 *   scheduled behind the index that stops naming its objects, and may start only once that index
 *   is the uploaded one. It is then handed to the persistent deletion queue.
 *
 * # Consistency
 * - `remote_consistent_lsn` is the disk_consistent_lsn of the newest *uploaded* index; it never
 *   moves on a scheduled one.
 * - A layer counts as uploaded (and so becomes evictable) only once an uploaded index names it:
 *   the object alone is not enough, because after a crash the index is what the next start trusts.
 *
 * # Failure
 * Every error is retried with back-off until shutdown, transient ones from 100 ms doubling to
 * 10 s, permanent ones (access denied, a missing local file) every 10 s with an error log naming
 * the object key; an operation is never dropped, since a later index may depend on it. A dead S3
 * therefore stalls the queue while ingest goes on locally, and the queue drains once it is back.
 * At shutdown queued operations are dropped: the next start reconciles the local layers with the
 * remote index and uploads what is missing.
 */

import { assert } from "../assert.ts";
import { ShuttingDownError, UnavailableError } from "../errors.ts";
import type { GcBlocking } from "../gc/gc_block.ts";
import type { Generation, TenantId, TimelineId } from "../ids.ts";
import { LSN_INVALID, type Lsn } from "../lsn.ts";
import type { PersistentLayer } from "../storage_layer/persistent_layer.ts";
import type { TimelineMetadata } from "../timeline/metadata.ts";
import { failpoint } from "../util/failpoints.ts";
import type { Logger } from "../util/logger.ts";
import type { DeletionQueue } from "./deletion_queue.ts";
import {
  INDEX_PART_VERSION,
  type IndexLayer,
  type IndexPart,
  serializeIndexPart,
} from "./index_part.ts";
import { findLatestIndex, type LatestIndex } from "./remote_index.ts";
import { remoteIndexKey, remoteLayerKey } from "./remote_paths.ts";
import {
  abortableDelay,
  type RemoteStorage,
  type RemoteStorageError,
  withRetries,
} from "./remote_storage.ts";

export type RemoteFileKind = "layer" | "index";
export type RemoteOpKind = "upload" | "download" | "delete";

/** One row of Neon's pageserver_remote_timeline_client_{calls,bytes}_{started,finished}. */
export interface RemoteCallCount {
  readonly fileKind: RemoteFileKind;
  readonly opKind: RemoteOpKind;
  callsStarted: number;
  callsFinished: number;
  bytesStarted: number;
  bytesFinished: number;
}

/**
 * Per-timeline call counters. As in Neon, a call "starts" when it is scheduled and "finishes"
 * when it is done, coalesced or dropped, so started − finished is the queue depth.
 */
export class RemoteCallCounters {
  private readonly rows = new Map<string, RemoteCallCount>();

  private row(fileKind: RemoteFileKind, opKind: RemoteOpKind): RemoteCallCount {
    const id = `${fileKind}/${opKind}`;
    let row = this.rows.get(id);
    if (!row) {
      row = {
        fileKind,
        opKind,
        callsStarted: 0,
        callsFinished: 0,
        bytesStarted: 0,
        bytesFinished: 0,
      };
      this.rows.set(id, row);
    }
    return row;
  }

  begin(fileKind: RemoteFileKind, opKind: RemoteOpKind, calls = 1): void {
    this.row(fileKind, opKind).callsStarted += calls;
  }

  end(fileKind: RemoteFileKind, opKind: RemoteOpKind, calls = 1): void {
    this.row(fileKind, opKind).callsFinished += calls;
  }

  bytesBegin(fileKind: RemoteFileKind, opKind: RemoteOpKind, bytes: number): void {
    this.row(fileKind, opKind).bytesStarted += bytes;
  }

  bytesEnd(fileKind: RemoteFileKind, opKind: RemoteOpKind, bytes: number): void {
    this.row(fileKind, opKind).bytesFinished += bytes;
  }

  /** Queue depth of one kind of call (started − finished). */
  depth(fileKind: RemoteFileKind, opKind: RemoteOpKind): number {
    const row = this.rows.get(`${fileKind}/${opKind}`);
    return row ? row.callsStarted - row.callsFinished : 0;
  }

  entries(): readonly RemoteCallCount[] {
    return [...this.rows.values()];
  }
}

/** Layer uploads running at once per timeline (S3's own concurrency_limit applies on top). */
const PARALLEL_UPLOADS_MAX = 8;
/** On-demand downloads give up after this many attempts (≈ 6 s of back-off): a reader waits. */
export const DOWNLOAD_ATTEMPTS_MAX = 7;

type OperationState = "queued" | "running" | "done";

type Operation =
  | {
      kind: "upload";
      layer: PersistentLayer;
      key: string;
      /** An index ahead may name this very object: do not pass index uploads. */
      reupload: boolean;
      state: OperationState;
    }
  | { kind: "index"; index: IndexPart; state: OperationState }
  | { kind: "delete"; keys: string[]; state: OperationState };

export interface RemoteTimelineClientOptions {
  readonly storage: RemoteStorage;
  readonly deletionQueue: DeletionQueue;
  readonly tenantId: TenantId;
  readonly timelineId: TimelineId;
  readonly generation: Generation;
  readonly log: Logger;
  /** Back-off cap for the queue's retries (default 10 s; tests may shorten it). */
  readonly retryDelayMsMax?: number;
}

/** What `status()` reports: the queue and its last error. */
export interface UploadQueueStatus {
  readonly queuedUploads: number;
  readonly runningUploads: number;
  readonly queuedIndexUploads: number;
  readonly queuedDeletions: number;
  readonly lastError: string | null;
}

export class RemoteTimelineClient {
  readonly options: RemoteTimelineClientOptions;
  readonly counters = new RemoteCallCounters();
  private readonly operations: Operation[] = [];
  /** What the next index will name: every layer uploaded or scheduled for upload. */
  private readonly projected = new Map<string, IndexLayer>();
  /** Objects an upload replaced (same name, older generation): deleted after the next index. */
  private replaced: string[] = [];
  /** Layers whose upload finished but that no uploaded index names yet. */
  private readonly awaitingIndex = new Map<string, PersistentLayer>();
  private lineage: Record<string, unknown> = {};
  private extra: Record<string, unknown> = {};
  private gcBlocking: GcBlocking | null = null;
  private archivedAt: string | null = null;
  private uploadsRunning = 0;
  private readonly abort = new AbortController();
  private idleWaiters: Array<() => void> = [];
  private readonly uploadWaiters = new Map<
    PersistentLayer,
    Array<{ resolve: () => void; reject: (error: Error) => void }>
  >();
  private retryTimer: NodeJS.Timeout | null = null;
  /** Consecutive failures that were not remote errors (they back off like remote ones). */
  private localFailures = 0;
  remoteConsistentLsn: Lsn | null = null;
  latestUploadedIndex: IndexPart | null = null;
  /** A one-line state for the API: the last error while retrying, or null. */
  lastError: string | null = null;

  constructor(options: RemoteTimelineClientOptions) {
    this.options = options;
  }

  get storage(): RemoteStorage {
    return this.options.storage;
  }

  get isShutDown(): boolean {
    return this.abort.signal.aborted;
  }

  /** Operations not yet done (the queue depth). */
  get pending(): number {
    return this.operations.filter((op) => op.state !== "done").length;
  }

  status(): UploadQueueStatus {
    let queuedUploads = 0;
    let queuedIndexUploads = 0;
    let queuedDeletions = 0;
    for (const op of this.operations) {
      if (op.state !== "queued") continue;
      if (op.kind === "upload") queuedUploads++;
      else if (op.kind === "index") queuedIndexUploads++;
      else queuedDeletions += op.keys.length;
    }
    return {
      queuedUploads,
      runningUploads: this.uploadsRunning,
      queuedIndexUploads,
      queuedDeletions,
      lastError: this.lastError,
    };
  }

  /**
   * The newest index at or below our generation, with the listing it was found in (counted as
   * an index download).
   */
  async downloadLatestIndex(attemptsMax?: number, signal?: AbortSignal): Promise<LatestIndex> {
    const { storage, tenantId, timelineId, generation } = this.options;
    this.counters.begin("index", "download");
    try {
      const found = await findLatestIndex(storage, tenantId, timelineId, generation, {
        signal: signal ? AbortSignal.any([this.abort.signal, signal]) : this.abort.signal,
        attemptsMax: attemptsMax ?? Number.POSITIVE_INFINITY,
        // Without a bound (connecting in the background) even a "permanent" error may be fixed.
        retryPermanent: attemptsMax === undefined,
        ...(this.options.retryDelayMsMax === undefined
          ? {}
          : { delayMsMax: this.options.retryDelayMsMax }),
      });
      if (found.index) this.counters.bytesEnd("index", "download", found.indexBytes);
      return found;
    } finally {
      this.counters.end("index", "download");
    }
  }

  /** Starts from what remote storage holds (null: nothing yet); `keep` filters its layers. */
  initialize(index: IndexPart | null, keep: (nameText: string) => boolean = () => true): void {
    this.projected.clear();
    if (index) {
      for (const [name, layer] of index.layers) if (keep(name)) this.projected.set(name, layer);
      this.lineage = index.lineage;
      this.extra = index.extra;
      this.gcBlocking = index.gcBlocking;
      this.archivedAt = index.archivedAt;
      this.latestUploadedIndex = index;
      this.remoteConsistentLsn = index.diskConsistentLsn;
    }
  }

  /** Whether the next index names this layer (by name and generation). */
  isProjected(layer: PersistentLayer): boolean {
    return this.projected.get(layer.nameText)?.generation === layer.generation;
  }

  /** Sum of the layer sizes the uploaded index names (Neon's remote_physical_size). */
  remotePhysicalSize(): number {
    let total = 0;
    for (const layer of this.latestUploadedIndex?.layers.values() ?? []) total += layer.fileSize;
    return total;
  }

  remoteKeyOf(layer: PersistentLayer): string {
    return remoteLayerKey(
      this.options.tenantId,
      this.options.timelineId,
      layer.name,
      layer.generation,
    );
  }

  scheduleUpload(layer: PersistentLayer): void {
    if (this.isShutDown) return;
    const key = this.remoteKeyOf(layer);
    const previous = this.projected.get(layer.nameText);
    if (previous && previous.generation !== layer.generation) {
      this.replaced.push(
        remoteLayerKey(
          this.options.tenantId,
          this.options.timelineId,
          previous.name,
          previous.generation,
        ),
      );
    }
    this.projected.set(layer.nameText, {
      name: layer.name,
      fileSize: layer.fileSize,
      generation: layer.generation,
      shard: null,
    });
    layer.uploaded = false;
    this.counters.begin("layer", "upload");
    this.counters.bytesBegin("layer", "upload", layer.fileSize);
    this.push({
      kind: "upload",
      layer,
      key,
      reupload: previous?.generation === layer.generation,
      state: "queued",
    });
  }

  /** What the next index says of GC blocking; the caller schedules that index. */
  setGcBlocking(blocking: GcBlocking | null): void {
    this.gcBlocking = blocking;
  }

  /** What the next index says of archival; the caller schedules that index. */
  setArchivedAt(archivedAt: string | null): void {
    this.archivedAt = archivedAt;
  }

  scheduleIndexUpload(metadata: TimelineMetadata): void {
    if (this.isShutDown) return;
    const index: IndexPart = {
      version: INDEX_PART_VERSION,
      layers: new Map(this.projected),
      diskConsistentLsn: metadata.diskConsistentLsn,
      metadata,
      lineage: this.lineage,
      deletedAt: null,
      archivedAt: this.archivedAt,
      gcBlocking: this.gcBlocking,
      extra: this.extra,
    };
    this.counters.begin("index", "upload");
    this.push({ kind: "index", index, state: "queued" });
    if (this.replaced.length > 0) {
      const keys = this.replaced;
      this.replaced = [];
      this.scheduleDeletion(keys);
    }
  }

  /** Stops naming `layers`, uploads an index without them, then deletes them remotely. */
  scheduleRemoval(layers: readonly PersistentLayer[], metadata: TimelineMetadata): void {
    if (this.isShutDown) return;
    const keys: string[] = [];
    for (const layer of layers) {
      this.awaitingIndex.delete(layer.nameText);
      if (!this.isProjected(layer)) continue;
      this.projected.delete(layer.nameText);
      keys.push(this.remoteKeyOf(layer));
    }
    this.scheduleIndexUpload(metadata);
    this.scheduleDeletion(keys);
  }

  /**
   * Deletes objects the next index no longer names (found stale at start-up). Must follow the
   * index upload that stops naming them.
   */
  scheduleDeletion(keys: readonly string[]): void {
    if (this.isShutDown || keys.length === 0) return;
    this.counters.begin("layer", "delete", keys.length);
    this.push({ kind: "delete", keys: [...keys], state: "queued" });
  }

  private push(operation: Operation): void {
    this.operations.push(operation);
    this.pump();
  }

  /** Starts every operation the bypass rules allow (see the module comment). */
  private pump(): void {
    if (this.isShutDown) return;
    const uploadKeysAhead = new Set<string>();
    const deleteKeysAhead = new Set<string>();
    let indexAhead = false;
    let anythingAhead = false;
    for (let i = 0; i < this.operations.length; i++) {
      const op = this.operations[i]!;
      if (op.state === "queued") {
        if (op.kind === "upload") {
          const blocked =
            uploadKeysAhead.has(op.key) ||
            deleteKeysAhead.has(op.key) ||
            (op.reupload && indexAhead);
          if (!blocked && this.uploadsRunning < PARALLEL_UPLOADS_MAX) this.start(op);
        } else if (op.kind === "delete") {
          if (!indexAhead && !op.keys.some((key) => uploadKeysAhead.has(key))) this.start(op);
        } else if (!anythingAhead) {
          let j = i + 1;
          while (j < this.operations.length && this.operations[j]!.state === "done") j++;
          const next = this.operations[j];
          if (next?.kind === "index" && next.state === "queued") {
            // Coalesced: the next index names everything this one does, and more.
            op.state = "done";
            this.counters.end("index", "upload");
            continue;
          }
          this.start(op);
        }
      }
      if (op.state === "done") continue;
      anythingAhead = true;
      if (op.kind === "upload") uploadKeysAhead.add(op.key);
      else if (op.kind === "delete") for (const key of op.keys) deleteKeysAhead.add(key);
      else indexAhead = true;
    }
    let head = 0;
    while (head < this.operations.length && this.operations[head]!.state === "done") head++;
    if (head > 0) this.operations.splice(0, head);
    if (this.operations.length === 0) for (const wake of this.idleWaiters.splice(0)) wake();
  }

  private start(op: Operation): void {
    op.state = "running";
    if (op.kind === "upload") this.uploadsRunning++;
    void this.execute(op).then(
      () => {
        op.state = "done";
        if (this.isShutDown) {
          // shutdown() already counted it as finished.
          if (op.kind === "upload") this.uploadsRunning--;
          return;
        }
        this.finished(op);
        this.lastError = null;
        this.localFailures = 0;
        this.pump();
      },
      (error) => {
        if (op.kind === "upload") this.uploadsRunning--;
        if (this.isShutDown) {
          op.state = "done";
          return;
        }
        // Not a remote error (a local disk error writing the deletion list, a bug): keep the
        // operation and try again later; dropping it could let a later index name a missing
        // object or leak a deletion.
        op.state = "queued";
        this.lastError = (error as Error).message;
        this.options.log.error(
          { err: error, operation: op.kind },
          "remote operation failed; retrying later",
        );
        const delayMs = Math.min(
          this.options.retryDelayMsMax ?? 10_000,
          100 * 2 ** Math.min(this.localFailures++, 16),
        );
        this.retryTimer ??= setTimeout(() => {
          this.retryTimer = null;
          this.pump();
        }, delayMs);
      },
    );
  }

  private finished(op: Operation): void {
    switch (op.kind) {
      case "upload": {
        this.uploadsRunning--;
        this.counters.end("layer", "upload");
        this.counters.bytesEnd("layer", "upload", op.layer.fileSize);
        if (this.isProjected(op.layer)) this.awaitingIndex.set(op.layer.nameText, op.layer);
        for (const waiter of this.uploadWaiters.get(op.layer) ?? []) waiter.resolve();
        this.uploadWaiters.delete(op.layer);
        return;
      }
      case "index":
        this.counters.end("index", "upload");
        // Its layers are now safely named: they may be evicted.
        for (const [name, layer] of this.awaitingIndex) {
          if (op.index.layers.get(name)?.generation !== layer.generation) continue;
          layer.uploaded = true;
          this.awaitingIndex.delete(name);
        }
        return;
      case "delete":
        this.counters.end("layer", "delete", op.keys.length);
        return;
    }
  }

  private retry<T>(work: () => Promise<T>, what: string, key: string): Promise<T> {
    return withRetries(work, {
      signal: this.abort.signal,
      retryPermanent: true,
      ...(this.options.retryDelayMsMax === undefined
        ? {}
        : { delayMsMax: this.options.retryDelayMsMax }),
      onRetry: (error: RemoteStorageError, attempt: number, delayMs: number) => {
        this.lastError = error.message;
        const fields = { err: error.message, object: key, attempt, retry_in_ms: delayMs };
        if (error.transient) this.options.log.warn(fields, `remote ${what} failed; retrying`);
        else this.options.log.error(fields, `remote ${what} failed permanently; retrying`);
      },
    });
  }

  private async execute(op: Operation): Promise<void> {
    const { storage, tenantId, timelineId, generation } = this.options;
    const signal = this.abort.signal;
    switch (op.kind) {
      case "upload":
        // Tests slow uploads down here to crash or stop S3 with the queue half done.
        await failpoint("remote-upload-layer");
        await this.retry(
          () => storage.upload(op.key, { file: op.layer.path }, signal),
          "layer upload",
          op.key,
        );
        return;
      case "index": {
        const data = Buffer.from(serializeIndexPart(op.index));
        const key = remoteIndexKey(tenantId, timelineId, generation);
        this.counters.bytesBegin("index", "upload", data.length);
        await failpoint("remote-upload-index");
        await this.retry(() => storage.upload(key, { data }, signal), "index upload", key);
        this.counters.bytesEnd("index", "upload", data.length);
        assert(
          op.index.diskConsistentLsn >= (this.remoteConsistentLsn ?? LSN_INVALID),
          "remote_consistent_lsn moves forward",
        );
        this.latestUploadedIndex = op.index;
        this.remoteConsistentLsn = op.index.diskConsistentLsn;
        return;
      }
      case "delete":
        await this.options.deletionQueue.push(tenantId, timelineId, generation, op.keys);
        return;
    }
  }

  /**
   * Downloads an evicted layer's object into its local path (on-demand download): transient
   * errors are retried a few times, then the error — naming the object key — reaches the reader.
   */
  async downloadLayer(layer: PersistentLayer, signal: AbortSignal): Promise<number> {
    const key = this.remoteKeyOf(layer);
    this.counters.begin("layer", "download");
    this.counters.bytesBegin("layer", "download", layer.fileSize);
    try {
      const size = await withRetries(() => this.storage.downloadToFile(key, layer.path, signal), {
        signal,
        attemptsMax: DOWNLOAD_ATTEMPTS_MAX,
        ...(this.options.retryDelayMsMax === undefined
          ? {}
          : { delayMsMax: this.options.retryDelayMsMax }),
        onRetry: (error, attempt, delayMs) =>
          this.options.log.warn(
            { err: error.message, object: key, attempt, retry_in_ms: delayMs },
            "layer download failed; retrying",
          ),
      });
      this.counters.bytesEnd("layer", "download", size);
      return size;
    } finally {
      this.counters.end("layer", "download");
    }
  }

  /** Resolves once everything scheduled so far is done (Neon's wait_completion). */
  waitForIdle(): Promise<void> {
    if (this.operations.length === 0 || this.isShutDown) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Waits for the queue to drain, or throws an UnavailableError saying what is left and why
   * (before a detach removes the local files).
   */
  async drain(timeoutMs: number): Promise<void> {
    const timer = new AbortController();
    const drained = await Promise.race([
      this.waitForIdle().then(() => true),
      abortableDelay(timeoutMs, timer.signal).then(() => false),
    ]);
    timer.abort();
    if (drained && !this.isShutDown) return;
    const { tenantId, timelineId } = this.options;
    throw new UnavailableError(
      `remote storage has not received timeline ${timelineId}'s uploads within ${timeoutMs} ms (${this.pending} operations left; last error: ${this.lastError ?? "none"})`,
      { tenantId, timelineId },
    );
  }

  /** Resolves once `layer`'s upload has finished (before its local file may go). */
  waitForUpload(layer: PersistentLayer): Promise<void> {
    const pending = this.operations.some(
      (op) => op.kind === "upload" && op.layer === layer && op.state !== "done",
    );
    if (!pending) return Promise.resolve();
    if (this.isShutDown)
      return Promise.reject(new ShuttingDownError("upload queue is shut down", this.context()));
    return new Promise((resolve, reject) => {
      const waiters = this.uploadWaiters.get(layer) ?? [];
      waiters.push({ resolve, reject });
      this.uploadWaiters.set(layer, waiters);
    });
  }

  private context() {
    return { tenantId: this.options.tenantId, timelineId: this.options.timelineId };
  }

  /** Stops: in-flight operations are cancelled, queued ones dropped (counted as finished). */
  shutdown(): void {
    if (this.isShutDown) return;
    this.abort.abort();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    for (const op of this.operations) {
      if (op.state === "done") continue;
      if (op.kind === "upload") {
        this.counters.end("layer", "upload");
        this.counters.bytesEnd("layer", "upload", op.layer.fileSize);
      } else if (op.kind === "index") this.counters.end("index", "upload");
      else this.counters.end("layer", "delete", op.keys.length);
    }
    for (const wake of this.idleWaiters.splice(0)) wake();
    const stopping = new ShuttingDownError("upload queue is shut down", this.context());
    for (const waiters of this.uploadWaiters.values())
      for (const waiter of waiters) waiter.reject(stopping);
    this.uploadWaiters.clear();
  }
}
