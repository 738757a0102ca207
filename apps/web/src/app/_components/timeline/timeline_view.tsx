"use client";
/**
 * The timeline page's body. One SSE subscription (useLiveTimeline) feeds everything that moves
 * with ingest — the LSN bar, the summary line, the layer map and its in-memory bands; slower or
 * bigger things are polled queries: levels and recent runs, latency, ingest rate, and
 * `timeline.get` for what the live event lacks (logical size, config).
 *
 * One LSN is "picked" for the whole page: clicking the LSN bar, shift+clicking the layer map or
 * typing it in the branch or lease form all set the same text, so an operator can point at a
 * spot in history and branch or lease there.
 */
import { useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { useState } from "react";
import { formatTime } from "~/lib/format";
import { formatBytes, formatLsn, parseLsn } from "~/lib/lsn";
import { useTRPC } from "~/trpc/react";
import { QueryState } from "../ui/mutation_status";
import { IngestChart } from "./ingest_chart";
import { LatencyCharts } from "./latency_charts";
import { LevelsPanel, RecentRuns } from "./levels_panel";
import { LsnBar } from "./lsn_bar";
import { TimelineLayerMap } from "./timeline_layer_map";
import { TimelineOperations } from "./timeline_operations";
import { useLiveTimeline } from "./use_live_timeline";

export function TimelineView({
  node,
  tenantId,
  timelineId,
}: {
  node: string;
  tenantId: string;
  timelineId: string;
}) {
  const trpc = useTRPC();
  const live = useLiveTimeline(tenantId, timelineId);
  const detail = useQuery(
    trpc.timeline.get.queryOptions({ tenantId, timelineId }, { refetchInterval: 5000 }),
  );
  const [lsnText, setLsnText] = useState("");
  const picked = parseLsn(lsnText);
  const pick = (lsn: number) => setLsnText(formatLsn(lsn));

  const nodeHref = `/ps/${encodeURIComponent(node)}`;
  const tenantHref = `${nodeHref}/tenants/${tenantId}`;
  // The live event is newer than the polled detail whenever both exist.
  const marks = live.event?.marks ?? detail.data?.marks ?? null;
  const summary = live.event?.summary ?? detail.data ?? null;

  return (
    <div>
      <p className="crumbs">
        <Link href="/">Fleet</Link> / <Link href={nodeHref}>{node}</Link> /{" "}
        <Link href={tenantHref}>tenant {tenantId.slice(0, 8)}</Link> / timeline
      </p>
      <h1>
        Timeline <span className="mono">{timelineId}</span>
      </h1>
      <QueryState query={detail} what="the timeline">
        {summary && marks ? (
          <>
            <div className="panel" data-testid="timeline-summary">
              <span className={summary.state === "Active" ? "" : "error-text"}>
                {summary.state}
                {summary.brokenReason ? ` (${summary.brokenReason})` : ""}
              </span>{" "}
              · pg {summary.pgVersion} · last record{" "}
              <span className="mono" data-testid="last-record-lsn">
                {formatLsn(summary.lastRecordLsn)}
              </span>{" "}
              · disk consistent <span className="mono">{formatLsn(summary.diskConsistentLsn)}</span>{" "}
              · {summary.layerCount} layers ({summary.l0Count} L0) ·{" "}
              {formatBytes(summary.physicalSizeBytes)} on disk ·{" "}
              {formatBytes(summary.inMemoryBytes)} in memory
              {detail.data ? ` · logical size ${formatBytes(detail.data.logicalSizeBytes)}` : ""}
              {summary.ancestorTimelineId ? (
                <>
                  {" "}
                  · branched from{" "}
                  <Link href={`${tenantHref}/timelines/${summary.ancestorTimelineId}`}>
                    {summary.ancestorTimelineId.slice(0, 8)}
                  </Link>{" "}
                  at <span className="mono">{formatLsn(summary.ancestorLsn ?? 0)}</span>
                </>
              ) : null}
              {" · "}
              <LiveBadge status={live.status} error={live.error} />
            </div>
            {summary.flushFailure ? (
              <div className="panel status error" role="alert" data-testid="flush-failure">
                Layers are not reaching disk: {summary.flushFailure.message}. Retrying (attempt{" "}
                {summary.flushFailure.attempts}, since {formatTime(summary.flushFailure.sinceMs)});
                ingest waits meanwhile and nothing is lost.
              </div>
            ) : null}

            <section className="panel">
              <h2>LSNs</h2>
              <LsnBar marks={marks} onPick={pick} picked={picked} />
              <p className="muted small">
                Click the bar (or shift+click the layer map) to pick an LSN for a branch or a lease
                {picked !== null ? (
                  <>
                    {" "}
                    · picked <span className="mono">{formatLsn(picked)}</span>
                  </>
                ) : null}
                . GC cutoff <span className="mono">{formatLsn(marks.gcCutoff)}</span>
                {marks.leases.length > 0
                  ? ` · ${marks.leases.length} lease${marks.leases.length === 1 ? "" : "s"}`
                  : ""}
              </p>
            </section>

            <TimelineLayerMap
              tenantId={tenantId}
              timelineId={timelineId}
              live={live}
              marks={marks}
              picked={picked}
              onPickLsn={pick}
            />

            <div className="panel-grid">
              <LevelsPanel tenantId={tenantId} timelineId={timelineId} />
              <TimelineOperations
                node={node}
                tenantId={tenantId}
                timelineId={timelineId}
                lastRecordLsn={summary.lastRecordLsn}
                walSource={summary.walSource}
                gcBlocked={summary.gcBlocking !== null}
                archived={summary.archivedAt !== null}
                lsnText={lsnText}
                onLsnText={setLsnText}
              />
            </div>

            <div className="panel-grid">
              <LatencyCharts
                tenantId={tenantId}
                timelineId={timelineId}
                lastSecond={live.event?.latency ?? null}
              />
              <IngestChart tenantId={tenantId} timelineId={timelineId} />
            </div>

            <RecentRuns tenantId={tenantId} timelineId={timelineId} />
          </>
        ) : null}
      </QueryState>
    </div>
  );
}

function LiveBadge({ status, error }: { status: string; error: string | null }) {
  if (error)
    return (
      <span className="status error" role="alert">
        live updates stopped: {error}
      </span>
    );
  return (
    <span
      className={`status ${status === "pending" ? "ok" : "pending"}`}
      data-testid="live-status"
      title="the timeline.watch subscription (SSE)"
    >
      {status === "pending" ? "live" : status}
    </span>
  );
}
