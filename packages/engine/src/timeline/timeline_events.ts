/**
 * What a timeline tells its observers (metrics, the console's live subscriptions, remote upload):
 * LSN advances, layer-map changes, flushes and state changes. Listeners run synchronously and
 * must be cheap; a throwing listener is isolated from the timeline.
 */
import type { PersistentLayer } from "../storage_layer/persistent_layer.ts";
import type { RecordedRun, Timeline, TimelineState } from "./timeline.ts";

export interface TimelineListener {
  lsn?(timeline: Timeline): void;
  layers?(timeline: Timeline): void;
  flush?(timeline: Timeline, layer: PersistentLayer, elapsedMs: number): void;
  state?(state: TimelineState): void;
  run?(timeline: Timeline, kind: "compaction" | "gc", run: RecordedRun): void;
}

export class TimelineEvents {
  private readonly listeners = new Set<TimelineListener>();

  subscribe(listener: TimelineListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private each(call: (listener: TimelineListener) => void): void {
    for (const listener of this.listeners) {
      try {
        call(listener);
      } catch {
        // An observer's bug must not break ingest.
      }
    }
  }

  emitLsn(timeline: Timeline): void {
    if (this.listeners.size > 0) this.each((l) => l.lsn?.(timeline));
  }

  emitLayers(timeline: Timeline): void {
    this.each((l) => l.layers?.(timeline));
  }

  emitFlush(timeline: Timeline, layer: PersistentLayer, elapsedMs: number): void {
    this.each((l) => l.flush?.(timeline, layer, elapsedMs));
  }

  emitRun(timeline: Timeline, kind: "compaction" | "gc", run: RecordedRun): void {
    this.each((l) => l.run?.(timeline, kind, run));
  }

  emitState(state: TimelineState): void {
    this.each((l) => l.state?.(state));
  }
}
