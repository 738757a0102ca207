/**
 * Writes a (key, LSN)-ordered stream of values as delta layers of one LSN range, cutting a new
 * file once the current one reaches the target size — only between keys, so all versions of a
 * key stay in one file and a reader never needs two files of one LSN range for one key.
 * Files are finished as `<name>.___temp`, ready for a layer swap.
 */
import { rmSync } from "node:fs";
import path from "node:path";
import { tempPathFor } from "../io/durable_fs.ts";
import { type Key, keyNext } from "../key/key.ts";
import type { Lsn, LsnRange } from "../lsn.ts";
import { LayerFileWriter } from "../storage_layer/layer_file_writer.ts";
import type { LayerName } from "../storage_layer/layer_name.ts";
import type { PersistentLayer } from "../storage_layer/persistent_layer.ts";
import type { Timeline } from "../timeline/timeline.ts";

export class DeltaOutputs {
  private writer: LayerFileWriter | null = null;
  private firstKey: Key | null = null;
  private lastKey: Key | null = null;
  private readonly finished: PersistentLayer[] = [];
  bytesWritten = 0;

  constructor(
    private readonly timeline: Timeline,
    private readonly lsnRange: LsnRange,
    private readonly targetSizeBytes: number,
  ) {}

  put(key: Key, lsn: Lsn, value: Buffer, willInit: boolean): Promise<void> | null {
    let cut: Promise<void> | null = null;
    if (this.writer && key !== this.lastKey && this.writer.position >= this.targetSizeBytes)
      cut = this.finishCurrent(key);
    if (cut) return cut.then(() => this.append(key, lsn, value, willInit));
    this.append(key, lsn, value, willInit);
    return null;
  }

  private append(key: Key, lsn: Lsn, value: Buffer, willInit: boolean): void {
    if (!this.writer) {
      this.writer = new LayerFileWriter({
        directory: this.timeline.directory,
        tenantId: this.timeline.tenantId,
        timelineId: this.timeline.timelineId,
        kind: "delta",
        lsnRange: this.lsnRange,
      });
      this.firstKey = key;
    }
    this.writer.put(key, lsn, value, willInit);
    this.lastKey = key;
  }

  /** Finishes the open file with its key range ending at `endKey`. */
  private async finishCurrent(endKey: Key): Promise<void> {
    const writer = this.writer!;
    const name: LayerName = {
      kind: "delta",
      keyRange: { start: this.firstKey!, end: endKey },
      lsnRange: this.lsnRange,
    };
    const layer = this.timeline.newLayer(name, 0);
    const summary = await writer.finish(
      tempPathFor(path.join(this.timeline.directory, layer.fileName)),
      name.keyRange,
    );
    this.finished.push(this.timeline.newLayer(name, summary.fileSize));
    this.bytesWritten += summary.fileSize;
    this.writer = null;
  }

  /** Finishes the last file; returns every output layer (files still `.___temp`). */
  async finish(): Promise<PersistentLayer[]> {
    if (this.writer) await this.finishCurrent(keyNext(this.lastKey!));
    return this.finished;
  }

  /** Discards the open file and every finished one. */
  abort(): void {
    this.writer?.abort();
    this.writer = null;
    for (const layer of this.finished) {
      rmSync(tempPathFor(layer.path), { force: true });
    }
  }
}
