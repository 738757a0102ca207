/**
 * The upload queue of one timeline (Neon's RemoteTimelineClient): layer uploads, index_part
 * uploads and remote deletions, in Neon's order.
 *
 * # Consistency
 * - An index upload starts only once every operation scheduled before it has finished, so every
 *   layer an index names is in remote storage before the index is.
 * - A layer is deleted remotely only after an index that no longer names it has been uploaded
 *   (the deletion is scheduled behind that index); the deletion itself goes through the
 *   persistent deletion queue.
 * - Consecutive ready index uploads are coalesced into the newest.
 * - remote_consistent_lsn is the disk_consistent_lsn of the newest uploaded index.
 * Layer uploads do not wait for anything: no index scheduled before them can name them.
 *
 * # Failure
 * Transient errors are retried with back-off until shutdown (a dead S3 stalls the queue; ingest
 * goes on locally). Operations not done at shutdown are dropped: the next start reconciles local
 * layers with the remote index and uploads what is missing.
 */
import { assert } from "../assert.ts";
import type { Generation, TenantId, TimelineId } from "../ids.ts";
import { LSN_INVALID, type Lsn } from "../lsn.ts";
import type { PersistentLayer } from "../storage_layer/persistent_layer.ts";
import type { TimelineMetadata } from "../timeline/metadata.ts";
import type { Logger } from "../util/logger.ts";
import type { DeletionQueue } from "./deletion_queue.ts";
import {
  INDEX_PART_VERSION,
  type IndexLayer,
  type IndexPart,
  serializeIndexPart,
} from "./index_part.ts";
import { remoteIndexKey, remoteLayerKey } from "./remote_paths.ts";
import { type RemoteStorage, type RemoteStorageError, withRetries } from "./remote_storage.ts";

/** Process-wide counters for Neon's remote metrics (pageserver_remote_timeline_client_*). */
export const remoteStats = {
  layerUploadsStarted: 0,
  layerUploadsFinished: 0,
  layerUploadBytesStarted: 0,
  layerUploadBytesFinished: 0,
  indexUploadsStarted: 0,
  indexUploadsFinished: 0,
  downloadsStarted: 0,
  downloadsFinished: 0,
  downloadBytes: 0,
  deletionsScheduled: 0,
};

const PARALLEL_UPLOADS_MAX = 8;

type OperationState = "queued" | "running" | "done";

type Operation =
  | { kind: "upload"; layer: PersistentLayer; state: OperationState }
  | { kind: "index"; index: IndexPart; state: OperationState }
  | { kind: "delete"; keys: string[]; state: OperationState };

export interface RemoteTimelineClientOptions {
  readonly storage: RemoteStorage;
  readonly deletionQueue: DeletionQueue;
  readonly tenantId: TenantId;
  readonly timelineId: TimelineId;
  readonly generation: Generation;
  readonly log: Logger;
}

export class RemoteTimelineClient {
  readonly options: RemoteTimelineClientOptions;
  private readonly operations: Operation[] = [];
  /** What the next index will name: every layer uploaded or scheduled for upload. */
  private readonly projected = new Map<string, IndexLayer>();
  private lineage: Record<string, unknown> = {};
  private uploadsRunning = 0;
  private readonly abort = new AbortController();
  private idleWaiters: Array<() => void> = [];
  private uploadWaiters = new Map<PersistentLayer, Array<() => void>>();
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

  /** Operations not yet done (the queue depth). */
  get pending(): number {
    return this.operations.filter((op) => op.state !== "done").length;
  }

  /** Starts from what remote storage holds (null: nothing yet). */
  initialize(index: IndexPart | null, keep: (nameText: string) => boolean = () => true): void {
    this.projected.clear();
    if (index) {
      for (const [name, layer] of index.layers) if (keep(name)) this.projected.set(name, layer);
      this.lineage = index.lineage;
      this.latestUploadedIndex = index;
      this.remoteConsistentLsn = index.diskConsistentLsn;
    }
  }

  isNamedRemotely(nameText: string): boolean {
    return this.projected.has(nameText);
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
    this.projected.set(layer.nameText, {
      name: layer.name,
      fileSize: layer.fileSize,
      generation: layer.generation,
      shard: null,
    });
    layer.uploaded = false;
    this.push({ kind: "upload", layer, state: "queued" });
  }

  scheduleIndexUpload(metadata: TimelineMetadata): void {
    const index: IndexPart = {
      version: INDEX_PART_VERSION,
      layers: new Map(this.projected),
      diskConsistentLsn: metadata.diskConsistentLsn,
      metadata,
      lineage: this.lineage,
      deletedAt: null,
      extra: {},
    };
    this.push({ kind: "index", index, state: "queued" });
  }

  /** Stops naming `layers`, uploads an index without them, then deletes them remotely. */
  scheduleRemoval(layers: readonly PersistentLayer[], metadata: TimelineMetadata): void {
    const keys: string[] = [];
    for (const layer of layers) {
      if (!this.projected.delete(layer.nameText)) continue;
      keys.push(this.remoteKeyOf(layer));
    }
    this.scheduleIndexUpload(metadata);
    if (keys.length > 0) {
      remoteStats.deletionsScheduled += keys.length;
      this.push({ kind: "delete", keys, state: "queued" });
    }
  }

  /** Deletes objects that no index names (stale objects found at start-up). */
  scheduleStaleDeletion(keys: readonly string[]): void {
    if (keys.length > 0) this.push({ kind: "delete", keys: [...keys], state: "queued" });
  }

  private push(operation: Operation): void {
    if (this.abort.signal.aborted) return;
    this.operations.push(operation);
    this.pump();
  }

  /** Starts every operation whose predecessors allow it. */
  private pump(): void {
    let allBeforeDone = true;
    for (let i = 0; i < this.operations.length; i++) {
      const op = this.operations[i]!;
      if (op.state === "queued") {
        if (op.kind === "upload" && this.uploadsRunning < PARALLEL_UPLOADS_MAX) this.start(op);
        else if (op.kind !== "upload" && allBeforeDone) {
          const next = this.operations[i + 1];
          if (op.kind === "index" && next?.kind === "index") {
            op.state = "done"; // Coalesced: the next index supersedes it.
            continue;
          }
          this.start(op);
        }
      }
      if (op.state !== "done") allBeforeDone = false;
    }
    while (this.operations.length > 0 && this.operations[0]!.state === "done")
      this.operations.shift();
    if (this.operations.length === 0) for (const wake of this.idleWaiters.splice(0)) wake();
  }

  private start(op: Operation): void {
    op.state = "running";
    if (op.kind === "upload") this.uploadsRunning++;
    void this.execute(op).then(
      () => {
        op.state = "done";
        if (op.kind === "upload") {
          this.uploadsRunning--;
          op.layer.uploaded = true;
          for (const wake of this.uploadWaiters.get(op.layer) ?? []) wake();
          this.uploadWaiters.delete(op.layer);
        }
        this.lastError = null;
        this.pump();
      },
      (error) => {
        // Only shutdown (or a permanent error) ends the retries; the operation is dropped.
        if (op.kind === "upload") this.uploadsRunning--;
        op.state = "done";
        if (!this.abort.signal.aborted) {
          this.lastError = (error as Error).message;
          this.options.log.error(
            { err: error, operation: op.kind },
            "remote operation failed permanently; the next start reconciles",
          );
        }
        this.pump();
      },
    );
  }

  private retry<T>(work: () => Promise<T>, what: string): Promise<T> {
    return withRetries(work, {
      signal: this.abort.signal,
      onRetry: (error: RemoteStorageError, attempt: number, delayMs: number) => {
        this.lastError = error.message;
        this.options.log.warn(
          { err: error.message, attempt, retry_in_ms: delayMs },
          `remote ${what} failed; retrying`,
        );
      },
    });
  }

  private async execute(op: Operation): Promise<void> {
    const { storage, tenantId, timelineId, generation } = this.options;
    const signal = this.abort.signal;
    switch (op.kind) {
      case "upload": {
        const key = this.remoteKeyOf(op.layer);
        remoteStats.layerUploadsStarted++;
        remoteStats.layerUploadBytesStarted += op.layer.fileSize;
        await this.retry(
          () => storage.upload(key, { file: op.layer.path }, signal),
          "layer upload",
        );
        remoteStats.layerUploadsFinished++;
        remoteStats.layerUploadBytesFinished += op.layer.fileSize;
        return;
      }
      case "index": {
        const data = Buffer.from(serializeIndexPart(op.index));
        remoteStats.indexUploadsStarted++;
        await this.retry(
          () => storage.upload(remoteIndexKey(tenantId, timelineId, generation), { data }, signal),
          "index upload",
        );
        remoteStats.indexUploadsFinished++;
        this.latestUploadedIndex = op.index;
        assert(
          op.index.diskConsistentLsn >= (this.remoteConsistentLsn ?? LSN_INVALID),
          "remote_consistent_lsn moves forward",
        );
        this.remoteConsistentLsn = op.index.diskConsistentLsn;
        return;
      }
      case "delete":
        await this.options.deletionQueue.push(tenantId, timelineId, generation, op.keys);
        return;
    }
  }

  /** Resolves once everything scheduled so far is done (Neon's wait_completion). */
  waitForIdle(): Promise<void> {
    if (this.operations.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Resolves once `layer`'s upload has finished (before its local file may go). */
  waitForUpload(layer: PersistentLayer): Promise<void> {
    if (
      layer.uploaded ||
      !this.operations.some(
        (op) => op.kind === "upload" && op.layer === layer && op.state !== "done",
      )
    ) {
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const waiters = this.uploadWaiters.get(layer) ?? [];
      waiters.push(resolve);
      this.uploadWaiters.set(layer, waiters);
    });
  }

  /** Stops: in-flight operations are cancelled, queued ones dropped. */
  shutdown(): void {
    this.abort.abort();
    for (const wake of this.idleWaiters.splice(0)) wake();
    for (const waiters of this.uploadWaiters.values()) for (const wake of waiters) wake();
    this.uploadWaiters.clear();
  }
}
