/**
 * The shared page cache for layer-file index nodes: `page_cache_size` slots of 8 KiB in one slab
 * allocated at start-up, replaced by CLOCK (second chance). A node is read and its checksum
 * verified once, when it enters the cache; later lookups cost two Map gets.
 *
 * A returned page is a view into the slab. It stays valid until `PINNED_RECENT` further lookups
 * have happened: the most recently returned slots are never chosen as victims, which is all a
 * B-tree descent (parent, then child, then sibling) needs. Callers copy what they keep longer.
 */
import { assert } from "../assert.ts";
import { INDEX_NODE_SIZE_BYTES, PAGE_CACHE_PAGES_MIN } from "../limits.ts";
import type { FileId } from "./file_descriptor_cache.ts";

const PINNED_RECENT = 8;

export interface PageCacheStats {
  hits: number;
  misses: number;
  evictions: number;
}

export class PageCache {
  readonly pageCount: number;
  private readonly slab: Buffer;
  private readonly slotFile: Float64Array;
  private readonly slotOffset: Float64Array;
  private readonly referenced: Uint8Array;
  private readonly files = new Map<FileId, Map<number, number>>();
  private readonly recent = new Int32Array(PINNED_RECENT).fill(-1);
  private recentNext = 0;
  private hand = 0;
  private used = 0;
  readonly stats: PageCacheStats = { hits: 0, misses: 0, evictions: 0 };

  constructor(pageCount: number) {
    assert(
      Number.isInteger(pageCount) && pageCount >= PAGE_CACHE_PAGES_MIN,
      `page_cache_size must be ≥ ${PAGE_CACHE_PAGES_MIN}`,
    );
    this.pageCount = pageCount;
    this.slab = Buffer.allocUnsafeSlow(pageCount * INDEX_NODE_SIZE_BYTES);
    this.slotFile = new Float64Array(pageCount).fill(-1);
    this.slotOffset = new Float64Array(pageCount);
    this.referenced = new Uint8Array(pageCount);
  }

  /**
   * The page of `file` at byte `offset`; on a miss `fill` writes it into the slot (and verifies it:
   * if `fill` throws, nothing is cached).
   */
  get(file: FileId, offset: number, fill: (page: Buffer) => void): Buffer {
    let pages = this.files.get(file);
    const cached = pages?.get(offset);
    if (cached !== undefined) {
      this.stats.hits++;
      this.referenced[cached] = 1;
      this.remember(cached);
      return this.view(cached);
    }
    this.stats.misses++;
    const slot = this.victim();
    const page = this.view(slot);
    fill(page);
    if (pages === undefined) {
      pages = new Map();
      this.files.set(file, pages);
    }
    pages.set(offset, slot);
    this.slotFile[slot] = file;
    this.slotOffset[slot] = offset;
    this.referenced[slot] = 1;
    this.remember(slot);
    return page;
  }

  /** Drops every page of a file (it is being deleted or its id forgotten). */
  forgetFile(file: FileId): void {
    const pages = this.files.get(file);
    if (!pages) return;
    for (const slot of pages.values()) {
      this.slotFile[slot] = -1;
      this.referenced[slot] = 0;
    }
    this.files.delete(file);
  }

  private view(slot: number): Buffer {
    return this.slab.subarray(slot * INDEX_NODE_SIZE_BYTES, (slot + 1) * INDEX_NODE_SIZE_BYTES);
  }

  private remember(slot: number): void {
    this.recent[this.recentNext] = slot;
    this.recentNext = (this.recentNext + 1) % PINNED_RECENT;
  }

  private isPinned(slot: number): boolean {
    for (let i = 0; i < PINNED_RECENT; i++) if (this.recent[i] === slot) return true;
    return false;
  }

  private victim(): number {
    if (this.used < this.pageCount) return this.used++;
    // CLOCK: clear reference bits until an unreferenced, unpinned slot comes round. Two sweeps
    // always suffice: the first clears every bit.
    for (let steps = 0; steps < 2 * this.pageCount + PINNED_RECENT; steps++) {
      const slot = this.hand;
      this.hand = (this.hand + 1) % this.pageCount;
      if (this.slotFile[slot] === -1 && !this.isPinned(slot)) return slot;
      if (this.referenced[slot] === 1) {
        this.referenced[slot] = 0;
        continue;
      }
      if (this.isPinned(slot)) continue;
      this.files.get(this.slotFile[slot]!)?.delete(this.slotOffset[slot]!);
      this.slotFile[slot] = -1;
      this.stats.evictions++;
      return slot;
    }
    assert(false, "page cache: no victim found");
  }
}
