/**
 * The layer map of a timeline, three ways:
 *
 * - `get`: every historic layer as a row (kind, tier, level, key range as hex and decoded, LSN
 *   range, size, residence, visibility, access statistics), paged by a cursor that is a layer
 *   name, so a page boundary survives concurrent flushes and compactions; plus the in-memory
 *   layers on the first page.
 * - `grid`: the aggregated form for maps of 10,000+ layers — key × LSN binned into cells, each
 *   with layer counts and bytes by tier. The key axis is by *rank* of the distinct key-range
 *   boundaries (keys are 18 bytes; their numeric spread is meaningless to the eye), the LSN axis
 *   linear between the lowest and highest LSN.
 * - `layer`: one layer by name, with the reason the last GC kept it.
 *
 * Mutations: `evict` and `download` one layer (Neon's DELETE / GET …/layer/:name).
 */
import { describeKey, formatLsn, type Lsn, NotFoundError, parseKey } from "@pageserver/engine";
import { z } from "zod";
import { timelineOf } from "../lookup.ts";
import {
  downloadLayerOnRequest,
  evictLayerOnRequest,
  layerByName,
} from "../operations/timeline_operations.ts";
import { timelineInput } from "../schemas.ts";
import { publicProcedure, router } from "../trpc.ts";
import {
  inMemoryRows,
  type LayerRow,
  type LayerSnapshot,
  layerRow,
  layerSnapshot,
  rowIndexAfter,
} from "../views/layer_snapshot.ts";

export const LAYER_PAGE_ROWS_MAX = 10_000;
export const GRID_BINS_MAX = 512;

const tierSchema = z.enum(["L0", "L1", "image"]);

interface Grid {
  keyBins: number;
  lsnBins: number;
  /** Per cell (row-major: lsnBin * keyBins + keyBin), layers touching the cell, by tier. */
  l0: number[];
  l1: number[];
  image: number[];
  /** Bytes of the layers touching the cell, each layer's size spread evenly over its cells. */
  bytes: number[];
}

/** Sorted distinct key-range boundaries: the key axis by rank. */
function keyBoundaries(snapshot: LayerSnapshot): string[] {
  const keys = new Set<string>();
  for (const row of snapshot.rows) {
    keys.add(row.keyStart);
    keys.add(row.keyEnd);
  }
  return [...keys].sort();
}

function lowerBound(sorted: readonly string[], key: string): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (sorted[middle]! < key) low = middle + 1;
    else high = middle;
  }
  return low;
}

function binGrid(
  snapshot: LayerSnapshot,
  boundaries: readonly string[],
  bins: { keyBins: number; lsnBins: number; lsnMin: number; lsnMax: number },
): Grid {
  const { keyBins, lsnBins, lsnMin, lsnMax } = bins;
  const cells = keyBins * lsnBins;
  const grid: Grid = {
    keyBins,
    lsnBins,
    l0: new Array(cells).fill(0),
    l1: new Array(cells).fill(0),
    image: new Array(cells).fill(0),
    bytes: new Array(cells).fill(0),
  };
  const rankMax = Math.max(boundaries.length - 1, 1);
  const lsnSpan = Math.max(lsnMax - lsnMin, 1);
  const keyBin = (rank: number) => Math.min(keyBins - 1, Math.floor((rank / rankMax) * keyBins));
  const lsnBin = (lsn: number) =>
    Math.min(lsnBins - 1, Math.max(0, Math.floor(((lsn - lsnMin) / lsnSpan) * lsnBins)));
  for (const row of snapshot.rows) {
    const k0 = keyBin(lowerBound(boundaries, row.keyStart));
    const k1 = Math.max(k0, keyBin(lowerBound(boundaries, row.keyEnd)) - 1);
    const l0 = lsnBin(row.lsnStart);
    const l1 = Math.max(l0, lsnBin(row.lsnEnd - 1));
    const counts = row.tier === "L0" ? grid.l0 : row.tier === "L1" ? grid.l1 : grid.image;
    const share = row.sizeBytes / ((k1 - k0 + 1) * (l1 - l0 + 1));
    for (let l = l0; l <= l1; l++) {
      for (let k = k0; k <= k1; k++) {
        const cell = l * keyBins + k;
        counts[cell]!++;
        grid.bytes[cell]! += share;
      }
    }
  }
  return grid;
}

export const layerMapRouter = router({
  get: publicProcedure
    .input(
      timelineInput.extend({
        /** The name of the last layer of the previous page; absent for the first page. */
        cursor: z.string().nullish(),
        limit: z.number().int().min(1).max(LAYER_PAGE_ROWS_MAX).default(2000),
        tiers: z.array(tierSchema).optional(),
      }),
    )
    .query(({ ctx, input }) => {
      const { tenant, timeline } = timelineOf(ctx, input);
      const snapshot = layerSnapshot(tenant, timeline);
      const tiers = input.tiers ? new Set(input.tiers) : null;
      const rows: LayerRow[] = [];
      let index = input.cursor ? rowIndexAfter(snapshot, input.cursor) : 0;
      for (; index < snapshot.rows.length && rows.length < input.limit; index++) {
        if (tiers && !tiers.has(snapshot.rows[index]!.tier)) continue;
        rows.push(layerRow(snapshot, index));
      }
      const more = index < snapshot.rows.length;
      return {
        total: snapshot.rows.length,
        totalBytes: snapshot.totalBytes,
        rows,
        nextCursor: more && rows.length > 0 ? rows[rows.length - 1]!.name : null,
        inMemory: input.cursor ? [] : inMemoryRows(timeline),
        diskConsistentLsn: timeline.diskConsistentLsn as number,
        lastRecordLsn: timeline.lastRecordLsn as number,
      };
    }),

  grid: publicProcedure
    .input(
      timelineInput.extend({
        keyBins: z.number().int().min(1).max(GRID_BINS_MAX).default(128),
        lsnBins: z.number().int().min(1).max(GRID_BINS_MAX).default(128),
      }),
    )
    .query(({ ctx, input }) => {
      const { tenant, timeline } = timelineOf(ctx, input);
      const snapshot = layerSnapshot(tenant, timeline);
      const boundaries = keyBoundaries(snapshot);
      let lsnMin = Number.MAX_SAFE_INTEGER;
      let lsnMax = 0;
      for (const row of snapshot.rows) {
        if (row.lsnStart < lsnMin) lsnMin = row.lsnStart;
        if (row.lsnEnd > lsnMax) lsnMax = row.lsnEnd;
      }
      if (snapshot.rows.length === 0) lsnMin = lsnMax = timeline.lastRecordLsn;
      const grid = binGrid(snapshot, boundaries, {
        keyBins: input.keyBins,
        lsnBins: input.lsnBins,
        lsnMin,
        lsnMax,
      });
      // The first boundary of each key bin, decoded, for axis labels.
      const keyBinStarts = Array.from({ length: input.keyBins }, (_, bin) => {
        const rank = Math.floor((bin / input.keyBins) * Math.max(boundaries.length - 1, 1));
        const key = boundaries[rank];
        return key ? { key, text: describeKey(parseKey(key)).text } : null;
      });
      return {
        total: snapshot.rows.length,
        totalBytes: snapshot.totalBytes,
        distinctKeys: boundaries.length,
        lsnMin,
        lsnMax,
        keyBinStarts,
        ...grid,
      };
    }),

  layer: publicProcedure
    .input(timelineInput.extend({ name: z.string().min(1).max(200) }))
    .query(({ ctx, input }) => {
      const { tenant, timeline } = timelineOf(ctx, input);
      const snapshot = layerSnapshot(tenant, timeline);
      const bare = input.name.replace(/-v1-[0-9a-f]{8}$/, "");
      const index = snapshot.byName.get(bare);
      if (index === undefined)
        throw new NotFoundError(`layer ${input.name} is not in timeline ${timeline.timelineId}`, {
          tenantId: tenant.tenantId,
          timelineId: timeline.timelineId,
        });
      const lastGc = timeline.recentRuns.gc.at(-1) as
        | { retained?: Record<string, string> }
        | undefined;
      const row = layerRow(snapshot, index);
      return {
        ...row,
        lsnRangeText: `${formatLsn(row.lsnStart as Lsn)}..${formatLsn(row.lsnEnd as Lsn)}`,
        path: snapshot.layers[index]!.path,
        gcRetention: lastGc?.retained?.[bare] ?? null,
      };
    }),

  /** Evicts one layer; `evicted: false` when there was nothing to do. */
  evict: publicProcedure
    .input(timelineInput.extend({ name: z.string().min(1).max(200) }))
    .mutation(async ({ ctx, input }) => {
      const { tenant, timeline } = timelineOf(ctx, input);
      const layer = layerByName(tenant.tenantId, timeline, input.name);
      return { evicted: await evictLayerOnRequest(ctx.tenants, timeline, layer) };
    }),

  /** Downloads one evicted layer; `downloaded: false` when it was resident already. */
  download: publicProcedure
    .input(timelineInput.extend({ name: z.string().min(1).max(200) }))
    .mutation(async ({ ctx, input }) => {
      const { tenant, timeline } = timelineOf(ctx, input);
      const layer = layerByName(tenant.tenantId, timeline, input.name);
      return { downloaded: await downloadLayerOnRequest(timeline, layer) };
    }),
});
