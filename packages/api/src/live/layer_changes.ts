/**
 * What changed in a timeline's layer map since the last event of one subscription. Each
 * subscription remembers which layers (and their visibility and level) it has sent; the first
 * event carries every layer (`snapshot`) when the map is small, and asks the client to page it in
 * through `layerMap.get` (`resync`) when it is not. After that, `diff` events carry the rows that
 * appeared or changed (`upserted`) and the names that went away (`removed`).
 *
 * The client applies events in order, by name, idempotently; a client that pages the map in while
 * diffs arrive applies the buffered diffs afterwards and converges, because an upsert of a row it
 * already has and a removal of one it lacks are both no-ops.
 */
import type { Tenant, Timeline } from "@pageserver/engine";
import {
  type LayerRow,
  type LayerSnapshot,
  layerRow,
  layerSnapshot,
} from "../views/layer_snapshot.ts";

/** Beyond this many rows an event asks for a resync rather than carrying them. */
export const LAYER_EVENT_ROWS_MAX = 5000;

export type LayerChanges =
  | { readonly kind: "none" }
  | { readonly kind: "snapshot"; readonly rows: LayerRow[] }
  | { readonly kind: "resync"; readonly total: number }
  | { readonly kind: "diff"; readonly upserted: LayerRow[]; readonly removed: string[] };

export class LayerChangeTracker {
  private lastSnapshot: LayerSnapshot | null = null;
  /** name → "visibility/level/residence" as last sent. */
  private sent = new Map<string, string>();
  /** Residence of each layer of `lastSnapshot` as last sent (1 = resident). */
  private sentResidence = new Uint8Array(0);

  /** Eviction and download flip a layer's residence without a new snapshot. */
  private residenceChanged(snapshot: LayerSnapshot): boolean {
    const layers = snapshot.layers;
    for (let i = 0; i < layers.length; i++)
      if ((layers[i]!.resident ? 1 : 0) !== this.sentResidence[i]) return true;
    return false;
  }

  next(tenant: Tenant, timeline: Timeline): LayerChanges {
    const snapshot = layerSnapshot(tenant, timeline);
    if (snapshot === this.lastSnapshot && !this.residenceChanged(snapshot)) return { kind: "none" };
    const first = this.lastSnapshot === null;
    this.lastSnapshot = snapshot;
    this.sentResidence = Uint8Array.from(snapshot.layers, (layer) => (layer.resident ? 1 : 0));
    const current = new Map<string, string>();
    const upsertedIndexes: number[] = [];
    snapshot.rows.forEach((row, index) => {
      const signature = `${row.visibility}/${row.level}/${this.sentResidence[index]}`;
      current.set(row.name, signature);
      if (this.sent.get(row.name) !== signature) upsertedIndexes.push(index);
    });
    const removed: string[] = [];
    for (const name of this.sent.keys()) if (!current.has(name)) removed.push(name);
    this.sent = current;
    if (upsertedIndexes.length + removed.length > LAYER_EVENT_ROWS_MAX)
      return { kind: "resync", total: snapshot.rows.length };
    const rows = upsertedIndexes.map((index) => layerRow(snapshot, index));
    if (first) return { kind: "snapshot", rows };
    if (rows.length === 0 && removed.length === 0) return { kind: "none" };
    return { kind: "diff", upserted: rows, removed };
  }
}
