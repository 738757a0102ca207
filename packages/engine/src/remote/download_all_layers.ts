/**
 * Download every evicted layer of a timeline (Neon's `download_remote_layers`): after an attach
 * onto an empty disk, an operator warms the timeline up front instead of paying an on-demand
 * download on the first read of each layer.
 *
 * One task per timeline at a time; its progress (Neon's DownloadRemoteLayersTaskInfo) stays
 * readable after it ends, until the next one starts or the process exits. Each download goes
 * through `ensureResident`, so a reader that needs the same layer meanwhile shares it. A failed
 * download is counted and the task goes on with the others: one missing object must not keep the
 * rest of the timeline cold.
 */
import type { PersistentLayer } from "../storage_layer/persistent_layer.ts";

export type DownloadAllLayersState = "Running" | "Completed" | "ShutDown";

/** Neon's DownloadRemoteLayersTaskInfo, field for field. */
export interface DownloadAllLayersInfo {
  task_id: string;
  state: DownloadAllLayersState;
  total_layer_count: number;
  successful_download_count: number;
  failed_download_count: number;
}

export interface DownloadAllLayersTarget {
  historicLayers(): Iterable<PersistentLayer>;
  ensureResident(layer: PersistentLayer): Promise<void> | null;
  readonly signal: AbortSignal;
  onFailure(layer: PersistentLayer, error: unknown): void;
}

let nextTaskId = 1;

export class DownloadAllLayersTask {
  readonly info: DownloadAllLayersInfo;
  readonly done: Promise<void>;

  constructor(target: DownloadAllLayersTarget, maxConcurrentDownloads: number) {
    const pending = [...target.historicLayers()].filter((layer) => !layer.resident);
    this.info = {
      task_id: String(nextTaskId++),
      state: "Running",
      total_layer_count: pending.length,
      successful_download_count: 0,
      failed_download_count: 0,
    };
    const worker = async () => {
      for (let layer = pending.shift(); layer; layer = pending.shift()) {
        if (target.signal.aborted) return;
        try {
          await target.ensureResident(layer);
          this.info.successful_download_count++;
        } catch (error) {
          if (target.signal.aborted) return;
          this.info.failed_download_count++;
          target.onFailure(layer, error);
        }
      }
    };
    const workers = Math.max(1, Math.min(maxConcurrentDownloads, pending.length));
    this.done = Promise.all(Array.from({ length: workers }, worker)).then(() => {
      this.info.state = target.signal.aborted ? "ShutDown" : "Completed";
    });
  }

  get running(): boolean {
    return this.info.state === "Running";
  }
}
