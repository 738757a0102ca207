"use client";
/**
 * Compaction levels (read off the layers' shapes by `levels.get`, as RocksDB's per-level stats
 * and CockroachDB's L0 count show them: how many layers, how deep a read goes, how many bytes)
 * and the recent compaction and GC runs the timeline kept, newest first.
 */
import { useQuery } from "@tanstack/react-query";
import { formatDurationMs, formatTime } from "~/lib/format";
import { formatBytes, formatLsn } from "~/lib/lsn";
import { useTRPC } from "~/trpc/react";
import { QueryState } from "../ui/mutation_status";

/** Polled rather than pushed: levels change only when layers do, and cost a walk of the map. */
const REFRESH_MS = 3000;

function useLevels(tenantId: string, timelineId: string) {
  const trpc = useTRPC();
  return useQuery(
    trpc.levels.get.queryOptions({ tenantId, timelineId }, { refetchInterval: REFRESH_MS }),
  );
}

export function LevelsPanel({ tenantId, timelineId }: { tenantId: string; timelineId: string }) {
  const levels = useLevels(tenantId, timelineId);
  const data = levels.data;
  return (
    <section className="panel">
      <h2>Compaction levels</h2>
      <QueryState query={levels} what="compaction levels">
        {data ? (
          <>
            <p className="small" data-testid="l0-count">
              L0 layers:{" "}
              <b className={data.l0Count >= data.compactionThreshold ? "error-text" : undefined}>
                {data.l0Count}
              </b>{" "}
              <span className="muted">(compaction_threshold {data.compactionThreshold})</span>
            </p>
            {data.levels.length === 0 ? (
              <p className="muted">No levels: the timeline has no layers on disk yet.</p>
            ) : (
              <table className="table" data-testid="levels-table">
                <thead>
                  <tr>
                    <th>level</th>
                    <th>LSN range</th>
                    <th className="num">layers</th>
                    <th className="num">deltas / images</th>
                    <th className="num" title="read amplification: deltas a read may visit">
                      depth
                    </th>
                    <th className="num">bytes</th>
                    <th className="num">target height</th>
                  </tr>
                </thead>
                <tbody>
                  {data.levels.map((level) => (
                    <tr key={level.level}>
                      <td>{level.level}</td>
                      <td className="mono small">
                        {formatLsn(level.lsnStart)}..{formatLsn(level.lsnEnd)}
                      </td>
                      <td className="num">{level.layers}</td>
                      <td className="num">
                        {level.deltas} / {level.images}
                      </td>
                      <td className="num">{level.depth}</td>
                      <td className="num">{formatBytes(level.bytes)}</td>
                      <td className="num">{formatBytes(level.targetHeight)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </>
        ) : null}
      </QueryState>
    </section>
  );
}

export function RecentRuns({ tenantId, timelineId }: { tenantId: string; timelineId: string }) {
  const levels = useLevels(tenantId, timelineId);
  const runs = levels.data?.recentRuns;
  return (
    <div className="panel-grid">
      <section className="panel">
        <h2>Recent compactions</h2>
        <QueryState query={levels} what="compaction runs">
          {runs && runs.compaction.length > 0 ? (
            <table className="table small" data-testid="compaction-runs">
              <thead>
                <tr>
                  <th>started</th>
                  <th>took</th>
                  <th>algorithm</th>
                  <th>steps</th>
                  <th className="num">layers in → out</th>
                  <th className="num">bytes in → out</th>
                </tr>
              </thead>
              <tbody>
                {runs.compaction.map((run) => (
                  <tr key={run.startedAtMs}>
                    <td>{formatTime(run.startedAtMs)}</td>
                    <td>{formatDurationMs(run.durationMs)}</td>
                    <td>{run.algorithm ?? "–"}</td>
                    <td>
                      {run.steps.length === 0
                        ? "nothing to do"
                        : run.steps.map((s) => `${s.kind} ${s.layersIn}→${s.layersOut}`).join(", ")}
                      {run.error ? <span className="error-text"> {run.error}</span> : null}
                    </td>
                    <td className="num">
                      {run.layersIn} → {run.layersOut}
                    </td>
                    <td className="num">
                      {formatBytes(run.bytesIn)} → {formatBytes(run.bytesOut)}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : (
            <p className="muted">No compaction has run on this timeline since the start.</p>
          )}
        </QueryState>
      </section>
      <section className="panel">
        <h2>Recent GC</h2>
        <QueryState query={levels} what="GC runs">
          {runs && runs.gc.length > 0 ? (
            <table className="table small" data-testid="gc-runs">
              <thead>
                <tr>
                  <th>started</th>
                  <th>took</th>
                  <th className="num">removed / total</th>
                  <th>kept because of</th>
                  <th>new cutoff</th>
                </tr>
              </thead>
              <tbody>
                {runs.gc.map((run) => (
                  <tr key={run.startedAtMs}>
                    <td>{formatTime(run.startedAtMs)}</td>
                    <td>{formatDurationMs(run.durationMs)}</td>
                    <td className="num">
                      {run.layersRemoved} / {run.layersTotal}
                    </td>
                    <td>
                      cutoff {run.neededByCutoff} · PITR {run.neededByPitr} · branches{" "}
                      {run.neededByBranches} · leases {run.neededByLeases} · not superseded{" "}
                      {run.notUpdated}
                    </td>
                    <td className="mono">
                      {run.newCutoff !== null ? formatLsn(run.newCutoff) : "–"}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : (
            <p className="muted">No GC has run on this timeline since the start.</p>
          )}
        </QueryState>
      </section>
    </div>
  );
}
