"use client";
/**
 * GetPage latency of this timeline, from the pageserver's own recorder (the observations behind
 * `pageserver_smgr_query_seconds`): the histogram since start with p50/p99/mean, and the last two
 * minutes per second as p50/p99 lines over request-count bars (with dots: a second with traffic
 * between idle ones has no neighbour to draw a line to).
 *
 * Charts are drawn without animation: they refresh every 2 s, and an animation per refresh
 * would keep the page busy for nothing.
 */
import { useQuery } from "@tanstack/react-query";
import {
  Bar,
  BarChart,
  CartesianGrid,
  ComposedChart,
  Line,
  ResponsiveContainer,
  Tooltip,
  XAxis,
  YAxis,
} from "recharts";
import { formatSeconds } from "~/lib/format";
import { useTRPC } from "~/trpc/react";
import { QueryState } from "../ui/mutation_status";
import { CHART_AXIS, CHART_REFRESH_MS, CHART_TOOLTIP_STYLE, chartClock } from "./chart_style";

const SERIES_SECONDS = 120;

export function LatencyCharts({
  tenantId,
  timelineId,
  lastSecond,
}: {
  tenantId: string;
  timelineId: string;
  /** From the live event: the last complete second. */
  lastSecond: { count: number; p99Seconds: number | null } | null;
}) {
  const trpc = useTRPC();
  const filter = { tenantId, timelineId, queryType: "get_page_at_lsn" as const };
  const histogram = useQuery(
    trpc.latency.histogram.queryOptions(filter, { refetchInterval: CHART_REFRESH_MS }),
  );
  const series = useQuery(
    trpc.latency.timeSeries.queryOptions(
      { ...filter, seconds: SERIES_SECONDS },
      { refetchInterval: CHART_REFRESH_MS },
    ),
  );
  const h = histogram.data;
  const bars = (h?.count ?? 0) === 0 ? [] : (h?.buckets ?? []);
  const points = (series.data ?? []).map((p) => ({
    time: chartClock(p.second),
    count: p.count,
    p50: p.p50Seconds === null ? null : p.p50Seconds * 1000,
    p99: p.p99Seconds === null ? null : p.p99Seconds * 1000,
  }));
  return (
    <section className="panel">
      <h2>GetPage latency</h2>
      <QueryState query={histogram} what="the latency histogram">
        {h ? (
          <p className="small" data-testid="latency-summary">
            {h.count.toLocaleString("en-US")} requests · p50 {formatSeconds(h.p50Seconds)} · p99{" "}
            {formatSeconds(h.p99Seconds)} · mean {formatSeconds(h.meanSeconds)}
            <span className="muted">
              {" "}
              · last second:{" "}
              {lastSecond && lastSecond.count > 0
                ? `${lastSecond.count} requests, p99 ${formatSeconds(lastSecond.p99Seconds)}`
                : "none"}
            </span>
          </p>
        ) : null}
        <h3>Histogram since start</h3>
        {bars.length === 0 ? (
          <p className="muted" data-testid="latency-histogram-empty">
            No GetPage requests on this timeline yet.
          </p>
        ) : (
          <div
            className="chart"
            data-testid="latency-histogram"
            data-count={h?.count ?? 0}
            data-buckets={bars.length}
          >
            <ResponsiveContainer width="100%" height="100%">
              <BarChart data={bars} margin={{ top: 4, right: 8, bottom: 4, left: 0 }}>
                <CartesianGrid stroke="#1e293b" vertical={false} />
                <XAxis
                  dataKey="upperBoundSeconds"
                  tickFormatter={(v: number) => `≤${formatSeconds(v)}`}
                  {...CHART_AXIS}
                />
                <YAxis allowDecimals={false} width={48} {...CHART_AXIS} />
                <Tooltip
                  contentStyle={CHART_TOOLTIP_STYLE}
                  labelFormatter={(v) => `≤ ${formatSeconds(Number(v))}`}
                  formatter={(v) => [String(v), "requests"]}
                />
                <Bar dataKey="count" fill="#38bdf8" isAnimationActive={false} />
              </BarChart>
            </ResponsiveContainer>
          </div>
        )}
      </QueryState>
      <h3>Last {SERIES_SECONDS / 60} minutes</h3>
      <QueryState query={series} what="the latency time series">
        <div
          className="chart"
          data-testid="latency-timeseries"
          data-requests={points.reduce((sum, p) => sum + p.count, 0)}
        >
          <ResponsiveContainer width="100%" height="100%">
            <ComposedChart data={points} margin={{ top: 4, right: 8, bottom: 4, left: 0 }}>
              <CartesianGrid stroke="#1e293b" vertical={false} />
              <XAxis dataKey="time" minTickGap={40} {...CHART_AXIS} />
              <YAxis yAxisId="ms" width={48} unit=" ms" {...CHART_AXIS} />
              <YAxis
                yAxisId="count"
                orientation="right"
                width={40}
                allowDecimals={false}
                {...CHART_AXIS}
              />
              <Tooltip
                contentStyle={CHART_TOOLTIP_STYLE}
                formatter={(v, name) =>
                  name === "requests"
                    ? [String(v), name]
                    : [formatSeconds(Number(v) / 1000), String(name)]
                }
              />
              <Bar
                yAxisId="count"
                dataKey="count"
                name="requests"
                fill="rgba(56, 189, 248, 0.25)"
                isAnimationActive={false}
              />
              <Line
                yAxisId="ms"
                dataKey="p50"
                name="p50"
                stroke="#22c55e"
                dot={{ r: 1.5 }}
                connectNulls={false}
                isAnimationActive={false}
              />
              <Line
                yAxisId="ms"
                dataKey="p99"
                name="p99"
                stroke="#f87171"
                dot={{ r: 1.5 }}
                connectNulls={false}
                isAnimationActive={false}
              />
            </ComposedChart>
          </ResponsiveContainer>
        </div>
      </QueryState>
    </section>
  );
}
