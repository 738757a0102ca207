/**
 * Compaction levels of a timeline (Neon's identify_levels, read off the layers' shapes: levels
 * are recorded nowhere) with per-level layer counts, depth (read amplification) and bytes — the
 * picture RocksDB's per-level stats and CockroachDB's L0 count give — plus the recent compaction
 * and GC runs the timeline kept.
 */
import type { Lsn } from "@pageserver/engine";
import { identifyLevels } from "@pageserver/engine";
import { timelineOf } from "../lookup.ts";
import { timelineInput } from "../schemas.ts";
import { publicProcedure, router } from "../trpc.ts";

/** The GC run as recorded, without its per-layer maps (which can hold 100,000 names). */
interface RecordedGcRun {
  readonly startedAtMs: number;
  readonly durationMs: number;
  readonly layers_total?: number;
  readonly layers_removed?: number;
  readonly layers_needed_by_cutoff?: number;
  readonly layers_needed_by_pitr?: number;
  readonly layers_needed_by_branches?: number;
  readonly layers_needed_by_leases?: number;
  readonly layers_not_updated?: number;
  readonly new_cutoff?: number;
}

interface RecordedCompactionRun {
  readonly startedAtMs: number;
  readonly durationMs: number;
  readonly algorithm?: string;
  readonly steps?: ReadonlyArray<{ kind: string; layersIn: number; layersOut: number }>;
  readonly layersIn?: number;
  readonly layersOut?: number;
  readonly bytesIn?: number;
  readonly bytesOut?: number;
  readonly error?: string | null;
}

export const levelsRouter = router({
  get: publicProcedure.input(timelineInput).query(({ ctx, input }) => {
    const { timeline } = timelineOf(ctx, input);
    const config = timeline.config;
    const layers = [...timeline.layers.historicLayers()].map((l) => ({
      kind: l.kind,
      keyRange: l.name.keyRange,
      lsnRange: l.name.lsnRange,
      fileSize: l.fileSize,
    }));
    const levels = identifyLevels(
      layers,
      (timeline.diskConsistentLsn + 1) as Lsn,
      config.checkpointDistanceBytes,
      config.compactionThreshold,
    );
    const compaction = (timeline.recentRuns.compaction as RecordedCompactionRun[]).map((run) => ({
      startedAtMs: run.startedAtMs,
      durationMs: run.durationMs,
      algorithm: run.algorithm ?? null,
      steps: (run.steps ?? []).map((s) => ({
        kind: s.kind,
        layersIn: s.layersIn,
        layersOut: s.layersOut,
      })),
      layersIn: run.layersIn ?? 0,
      layersOut: run.layersOut ?? 0,
      bytesIn: run.bytesIn ?? 0,
      bytesOut: run.bytesOut ?? 0,
      error: run.error ?? null,
    }));
    const gc = (timeline.recentRuns.gc as RecordedGcRun[]).map((run) => ({
      startedAtMs: run.startedAtMs,
      durationMs: run.durationMs,
      layersTotal: run.layers_total ?? 0,
      layersRemoved: run.layers_removed ?? 0,
      neededByCutoff: run.layers_needed_by_cutoff ?? 0,
      neededByPitr: run.layers_needed_by_pitr ?? 0,
      neededByBranches: run.layers_needed_by_branches ?? 0,
      neededByLeases: run.layers_needed_by_leases ?? 0,
      notUpdated: run.layers_not_updated ?? 0,
      newCutoff: run.new_cutoff ?? null,
    }));
    return {
      l0Count: timeline.layers.l0Layers().length,
      compactionThreshold: config.compactionThreshold,
      levels: levels.map((level) => ({
        ...level,
        lsnStart: level.lsnRange.start as number,
        lsnEnd: level.lsnRange.end as number,
      })),
      recentRuns: { compaction: compaction.reverse(), gc: gc.reverse() },
    };
  }),
});
