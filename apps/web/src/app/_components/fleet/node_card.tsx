"use client";
/**
 * One pageserver on the fleet page, refreshed every 2 s from `node.overview`: health (up, or
 * the proxy's "unreachable" message), counts, disk usage against the eviction thresholds,
 * GetPage p50/p99 and the ingest rate.
 */
import { useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { formatDurationMs, formatRate, formatSeconds } from "~/lib/format";
import { formatBytes } from "~/lib/lsn";
import type { FleetEntry } from "~/server/fleet";
import { useTRPC } from "~/trpc/react";
import { DiskBar } from "../node/disk_bar";

export function NodeCard({ entry, onRemove }: { entry: FleetEntry; onRemove?: () => void }) {
  const trpc = useTRPC();
  const overview = useQuery(
    trpc.node.overview.queryOptions(undefined, { refetchInterval: 2000, retry: 0 }),
  );
  const data = overview.data;
  const health = overview.isError ? "down" : data ? "up" : "unknown";
  return (
    <article className="card" data-testid={`node-card-${entry.name}`} data-health={health}>
      <header className="card-head">
        <Link href={`/ps/${encodeURIComponent(entry.name)}`} className="card-title">
          {entry.name}
        </Link>
        <span className={`health ${health}`}>
          {health === "up" ? "healthy" : health === "down" ? "unreachable" : "…"}
        </span>
      </header>
      <div className="muted small mono">
        {entry.url} · {entry.source}
        {onRemove ? (
          <button type="button" className="link" onClick={onRemove}>
            remove
          </button>
        ) : null}
      </div>
      {overview.isError ? (
        <div className="status error" role="alert">
          {overview.error.message}
        </div>
      ) : null}
      {data ? (
        <>
          <dl className="stats">
            <dt>node id</dt>
            <dd>{data.nodeId}</dd>
            <dt>uptime</dt>
            <dd>{formatDurationMs(data.uptimeMs)}</dd>
            <dt>tenants</dt>
            <dd data-testid="tenant-count">
              {data.tenantCount}
              {data.brokenTenantCount > 0 ? ` (${data.brokenTenantCount} broken)` : ""}
            </dd>
            <dt>timelines</dt>
            <dd data-testid="timeline-count">{data.timelineCount}</dd>
            <dt>layers</dt>
            <dd>{data.layerCount}</dd>
            <dt>resident</dt>
            <dd>{formatBytes(data.disk.residentBytes)}</dd>
            <dt>GetPage p50 / p99</dt>
            <dd>
              {formatSeconds(data.getPage.p50Seconds)} / {formatSeconds(data.getPage.p99Seconds)}
              <span className="muted"> ({data.getPage.count} requests)</span>
            </dd>
            <dt>ingest</dt>
            <dd>
              {formatRate(data.ingest.walBytesPerSecond)} ·{" "}
              {data.ingest.recordsPerSecond.toFixed(0)} rec/s
            </dd>
          </dl>
          <DiskBar disk={data.disk} />
        </>
      ) : null}
    </article>
  );
}
