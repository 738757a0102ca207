/**
 * Remote deletions that survive restarts (Neon's deletion queue). Each batch is first written
 * durably as `<workdir>/deletion/<sequence:016x>-01.list` — Neon's JSON shape:
 * `{version, sequence, tenants: {<tenant>: {timelines: {<timeline>: [object keys]}, generation}}, size}`
 * — then executed (with retries), then its file removed. At start-up, leftover lists are executed.
 *
 * Generation validation (Neon validates with its control plane): before a list runs, each
 * tenant's generation is checked against remote storage. When an object of a higher generation
 * exists there, another pageserver attached the tenant after us — its index may name the very
 * layers we are about to delete (it took them over), so our deletions are dropped, not run: a
 * leaked object is harmless, a deleted one is data loss.
 */
import { mkdirSync, readdirSync, readFileSync, unlinkSync } from "node:fs";
import path from "node:path";
import type { TenantId } from "../ids.ts";
import { writeFileDurably } from "../io/durable_fs.ts";
import type { Logger } from "../util/logger.ts";
import { highestRemoteGeneration } from "./remote_index.ts";
import { type RemoteStorage, withRetries } from "./remote_storage.ts";

export interface DeletionList {
  version: 1;
  sequence: number;
  tenants: Record<string, { timelines: Record<string, string[]>; generation: number | null }>;
  size: number;
}

/** Object keys counted for Neon's pageserver_deletion_queue_*_total. */
export interface DeletionQueueStats {
  submitted: number;
  executed: number;
  /** Remote delete calls that failed (each is retried; a list left behind runs at the next start). */
  remoteErrors: number;
  /** Keys whose generation was checked and found current. */
  validated: number;
  /** Keys not deleted because a newer attachment exists (validation failed). */
  dropped: number;
}

export class DeletionQueue {
  private readonly directory: string;
  private readonly storage: RemoteStorage;
  private readonly log: Logger;
  private sequence = 0;
  private chain: Promise<void> = Promise.resolve();
  private readonly abort = new AbortController();
  readonly stats: DeletionQueueStats = {
    submitted: 0,
    executed: 0,
    remoteErrors: 0,
    validated: 0,
    dropped: 0,
  };

  constructor(workdir: string, storage: RemoteStorage, log: Logger) {
    this.directory = path.join(workdir, "deletion");
    this.storage = storage;
    this.log = log;
    mkdirSync(this.directory, { recursive: true });
  }

  /** Executes the lists a previous process left behind. */
  recover(): void {
    const files = readdirSync(this.directory)
      .filter((f) => f.endsWith("-01.list"))
      .sort();
    for (const file of files) {
      const full = path.join(this.directory, file);
      let list: DeletionList;
      try {
        list = JSON.parse(readFileSync(full, "utf8")) as DeletionList;
      } catch {
        this.log.warn({ file }, "discarding an unreadable deletion list");
        unlinkSync(full);
        continue;
      }
      this.sequence = Math.max(this.sequence, list.sequence + 1);
      this.enqueue(full, list);
    }
    if (files.length > 0)
      this.log.info({ lists: files.length }, "resuming remote deletions from the previous run");
  }

  /** Persists then executes the deletion of `keys` of one timeline. */
  async push(
    tenantId: string,
    timelineId: string,
    generation: number | null,
    keys: readonly string[],
  ): Promise<void> {
    if (keys.length === 0) return;
    const sequence = this.sequence++;
    const list: DeletionList = {
      version: 1,
      sequence,
      tenants: { [tenantId]: { timelines: { [timelineId]: [...keys] }, generation } },
      size: keys.length,
    };
    const file = path.join(this.directory, `${sequence.toString(16).padStart(16, "0")}-01.list`);
    await writeFileDurably(file, JSON.stringify(list));
    this.stats.submitted += keys.length;
    this.enqueue(file, list);
  }

  private enqueue(file: string, list: DeletionList): void {
    this.chain = this.chain.then(() => this.execute(file, list));
  }

  /** The keys of `list` whose tenant generation is still the newest in remote storage. */
  private async validated(list: DeletionList): Promise<string[]> {
    const keys: string[] = [];
    for (const [tenantId, entry] of Object.entries(list.tenants)) {
      const tenantKeys = Object.values(entry.timelines).flat();
      if (entry.generation !== null) {
        const newest = await highestRemoteGeneration(
          this.storage,
          tenantId as TenantId,
          this.abort.signal,
        );
        if (newest !== null && newest > entry.generation) {
          this.stats.dropped += tenantKeys.length;
          this.log.warn(
            {
              tenant_id: tenantId,
              generation: entry.generation,
              newer_generation: newest,
              objects: tenantKeys.length,
            },
            "not deleting: the tenant was attached elsewhere under a newer generation, whose index may name these objects",
          );
          continue;
        }
        this.stats.validated += tenantKeys.length;
      }
      keys.push(...tenantKeys);
    }
    return keys;
  }

  private async execute(file: string, list: DeletionList): Promise<void> {
    try {
      const keys = await this.validated(list);
      if (keys.length > 0)
        await withRetries(() => this.storage.delete(keys, this.abort.signal), {
          signal: this.abort.signal,
          onRetry: (error, attempt) => {
            this.stats.remoteErrors++;
            this.log.warn(
              { err: error.message, object: error.key, attempt },
              "remote deletion failed; retrying",
            );
          },
        });
      unlinkSync(file);
      this.stats.executed += keys.length;
    } catch (error) {
      // Left on disk: the next start executes it again.
      if (!this.abort.signal.aborted) {
        this.stats.remoteErrors++;
        this.log.error(
          { err: error, file, object: (error as { key?: string }).key },
          "remote deletion failed; the list stays for the next start",
        );
      }
    }
  }

  /** Resolves when every submitted list has been executed (Neon's deletion_queue/flush). */
  async flush(): Promise<void> {
    await this.chain;
  }

  async shutdown(): Promise<void> {
    this.abort.abort();
    await this.chain;
  }
}
