/**
 * Reading layers whole, in (key, LSN) order, for compaction: entries come from the index and
 * values from a sliding 1 MiB window over the file. Values were written in entry order, so the
 * window moves forward only and each byte is read once: a scan runs at memory speed instead of
 * one `pread` per value.
 */
import type { Key } from "../key/key.ts";
import type { Lsn } from "../lsn.ts";
import { BLOB_CHECKSUM_SIZE } from "../storage_layer/layer_file_format.ts";
import type { LayerEntry, LayerFileReader } from "../storage_layer/layer_file_reader.ts";
import type { PersistentLayer } from "../storage_layer/persistent_layer.ts";

const WINDOW_BYTES = 1024 * 1024;

export class LayerScan {
  readonly layer: PersistentLayer;
  private readonly reader: LayerFileReader;
  private readonly entries: Iterator<LayerEntry>;
  private window: Buffer = Buffer.alloc(0);
  private windowStart = 0;
  current: LayerEntry | null = null;

  constructor(layer: PersistentLayer) {
    this.layer = layer;
    this.reader = layer.reader();
    this.entries = this.reader.entries()[Symbol.iterator]();
    this.advance();
  }

  get key(): Key {
    return this.current!.key;
  }

  get lsn(): Lsn {
    return this.current!.lsn;
  }

  /** Moves to the next entry; false at the end. */
  advance(): boolean {
    const next = this.entries.next();
    this.current = next.done ? null : next.value;
    return this.current !== null;
  }

  /** The current entry's encoded value (a view, valid until the window moves). */
  value(): Buffer {
    const { blobOffset, length } = this.current!;
    const end = blobOffset + length + BLOB_CHECKSUM_SIZE;
    if (blobOffset < this.windowStart || end > this.windowStart + this.window.length) {
      const fileSize = this.reader.summary.fileSize;
      const windowEnd = Math.min(fileSize, Math.max(end, blobOffset + WINDOW_BYTES));
      this.window = this.reader.readBlobRun(blobOffset, windowEnd);
      this.windowStart = blobOffset;
    }
    return this.reader.blobFromRun(this.window, this.windowStart, blobOffset, length);
  }
}

/** A k-way merge of scans in (key, LSN) order (a binary min-heap). */
export class MergedScan {
  private readonly heap: LayerScan[] = [];

  constructor(scans: LayerScan[]) {
    for (const scan of scans) if (scan.current) this.push(scan);
  }

  private static less(a: LayerScan, b: LayerScan): boolean {
    const ka = a.current!.key;
    const kb = b.current!.key;
    return ka < kb || (ka === kb && a.current!.lsn < b.current!.lsn);
  }

  private push(scan: LayerScan): void {
    const heap = this.heap;
    heap.push(scan);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!MergedScan.less(heap[i]!, heap[parent]!)) break;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  }

  private siftDown(): void {
    const heap = this.heap;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= heap.length) return;
      const right = left + 1;
      const child =
        right < heap.length && MergedScan.less(heap[right]!, heap[left]!) ? right : left;
      if (!MergedScan.less(heap[child]!, heap[i]!)) return;
      [heap[i], heap[child]] = [heap[child]!, heap[i]!];
      i = child;
    }
  }

  /** The scan holding the smallest entry, or null when all are done. */
  peek(): LayerScan | null {
    return this.heap[0] ?? null;
  }

  /** Advances the smallest scan past its entry. */
  pop(): void {
    const top = this.heap[0]!;
    if (top.advance()) {
      this.siftDown();
    } else {
      const last = this.heap.pop()!;
      if (this.heap.length > 0 && last !== top) {
        this.heap[0] = last;
        this.siftDown();
      }
    }
  }
}
