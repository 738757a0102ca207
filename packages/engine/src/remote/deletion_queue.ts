/**
 * Remote deletions that survive restarts (Neon's deletion queue). Each batch is first written
 * durably as `<workdir>/deletion/<sequence:016x>-01.list` — Neon's JSON shape:
 * `{version, sequence, tenants: {<tenant>: {timelines: {<timeline>: [object keys]}, generation}}, size}`
 * — then executed (with retries), then its file removed. At start-up, leftover lists are executed.
 *
 * Deletions need no generation validation here: this pageserver issues the generations itself, so
 * an object it scheduled for deletion is never referenced by a newer attachment's index.
 */
import { mkdirSync, readdirSync, readFileSync, unlinkSync } from "node:fs";
import path from "node:path";
import { writeFileDurably } from "../io/durable_fs.ts";
import type { Logger } from "../util/logger.ts";
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
}

export class DeletionQueue {
  private readonly directory: string;
  private readonly storage: RemoteStorage;
  private readonly log: Logger;
  private sequence = 0;
  private chain: Promise<void> = Promise.resolve();
  private readonly abort = new AbortController();
  readonly stats: DeletionQueueStats = { submitted: 0, executed: 0, remoteErrors: 0 };

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

  private async execute(file: string, list: DeletionList): Promise<void> {
    const keys = Object.values(list.tenants).flatMap((t) => Object.values(t.timelines).flat());
    try {
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
