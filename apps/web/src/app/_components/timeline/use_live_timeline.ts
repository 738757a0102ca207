"use client";
/**
 * The timeline page's live state, from one SSE subscription (`timeline.watch`): the latest
 * event (LSN marks, summary, in-memory layers, latency and ingest samples) and the historic
 * layers, kept as rows by name and packed into a LayerSet for the canvas whenever they change.
 *
 * Layer changes are applied as they come (snapshot, diff). On `resync` (a map too big to send in
 * an event) the rows are paged in through `layerMap.get`, 5,000 at a time; diffs that arrive
 * meanwhile are buffered and applied afterwards — idempotent by name, so the result converges
 * (see packages/api/src/live/layer_changes.ts).
 */
import type { LayerChanges, LayerRow, TimelineWatchEvent } from "@pageserver/api";
import { useSubscription } from "@trpc/tanstack-react-query";
import { useCallback, useRef, useState } from "react";
import { type LayerSet, LayerSetBuilder, TIER_IMAGE, TIER_L0, TIER_L1 } from "~/lib/layer_set";
import { useTRPC, useTRPCClient } from "~/trpc/react";

const PAGE_ROWS = 5000;
const TIERS = { L0: TIER_L0, L1: TIER_L1, image: TIER_IMAGE } as const;

export function layerSetFromRows(rows: Iterable<LayerRow>, count: number): LayerSet {
  const builder = new LayerSetBuilder(count);
  for (const row of rows) {
    builder.add({
      name: row.name,
      keyStart: row.keyStart,
      keyEnd: row.keyEnd,
      lsnStart: row.lsnStart,
      lsnEnd: row.lsnEnd,
      tier: TIERS[row.tier],
      level: row.level,
      covered: row.visibility === "Covered",
      remote: row.residence === "evicted",
      size: row.sizeBytes,
      generation: row.generation,
    });
  }
  return builder.build();
}

export interface LiveTimeline {
  readonly event: TimelineWatchEvent | null;
  readonly set: LayerSet | null;
  readonly rows: ReadonlyMap<string, LayerRow>;
  readonly status: string;
  readonly error: string | null;
  readonly syncing: boolean;
}

export function useLiveTimeline(tenantId: string, timelineId: string): LiveTimeline {
  const trpc = useTRPC();
  const client = useTRPCClient();
  const rows = useRef(new Map<string, LayerRow>());
  const buffered = useRef<LayerChanges[] | null>(null);
  const [event, setEvent] = useState<TimelineWatchEvent | null>(null);
  const [set, setSet] = useState<LayerSet | null>(null);
  const [syncing, setSyncing] = useState(false);
  const [syncError, setSyncError] = useState<string | null>(null);

  const rebuild = useCallback(() => {
    setSet(layerSetFromRows(rows.current.values(), rows.current.size));
  }, []);

  const apply = useCallback((changes: LayerChanges): boolean => {
    const map = rows.current;
    if (changes.kind === "snapshot") {
      map.clear();
      for (const row of changes.rows) map.set(row.name, row);
      return true;
    }
    if (changes.kind === "diff") {
      for (const name of changes.removed) map.delete(name);
      for (const row of changes.upserted) map.set(row.name, row);
      return true;
    }
    return false;
  }, []);

  const resync = useCallback(async () => {
    if (buffered.current) return; // Already paging: its buffered diffs cover this.
    buffered.current = [];
    setSyncing(true);
    try {
      const fresh = new Map<string, LayerRow>();
      let cursor: string | null = null;
      do {
        const page: { rows: LayerRow[]; nextCursor: string | null } =
          await client.layerMap.get.query({
            tenantId,
            timelineId,
            cursor,
            limit: PAGE_ROWS,
          });
        for (const row of page.rows) fresh.set(row.name, row);
        cursor = page.nextCursor;
      } while (cursor);
      rows.current = fresh;
      for (const changes of buffered.current) apply(changes);
      setSyncError(null);
      rebuild();
    } catch (error) {
      setSyncError((error as Error).message);
    } finally {
      buffered.current = null;
      setSyncing(false);
    }
  }, [client, tenantId, timelineId, apply, rebuild]);

  const subscription = useSubscription(
    trpc.timeline.watch.subscriptionOptions(
      { tenantId, timelineId },
      {
        onData: (tracked) => {
          const data = tracked.data;
          setEvent(data);
          const changes = data.layers;
          if (changes.kind === "resync") {
            void resync();
          } else if (buffered.current) {
            buffered.current.push(changes);
          } else if (apply(changes)) {
            rebuild();
          }
        },
      },
    ),
  );
  return {
    event,
    set,
    rows: rows.current,
    status: subscription.status,
    error: subscription.error?.message ?? syncError,
    syncing,
  };
}
