"use client";
/**
 * Ingest rate of this timeline over the last two minutes: WAL bytes per second (LSN distance)
 * and records per second, sampled once a second by the pageserver (`ingest.rate`).
 */
import { useQuery } from "@tanstack/react-query";
import {
  Area,
  CartesianGrid,
  ComposedChart,
  Line,
  ResponsiveContainer,
  Tooltip,
  XAxis,
  YAxis,
} from "recharts";
import { formatRate } from "~/lib/format";
import { formatBytes, formatLsn } from "~/lib/lsn";
import { useTRPC } from "~/trpc/react";
import { QueryState } from "../ui/mutation_status";
import { CHART_AXIS, CHART_REFRESH_MS, CHART_TOOLTIP_STYLE, chartClock } from "./chart_style";

const SECONDS = 120;

export function IngestChart({ tenantId, timelineId }: { tenantId: string; timelineId: string }) {
  const trpc = useTRPC();
  const rate = useQuery(
    trpc.ingest.rate.queryOptions(
      { tenantId, timelineId, seconds: SECONDS },
      { refetchInterval: CHART_REFRESH_MS },
    ),
  );
  const current = rate.data?.current;
  const points = (rate.data?.points ?? []).map((p) => ({
    time: chartClock(p.second),
    wal: p.walBytesPerSecond,
    records: p.recordsPerSecond,
  }));
  return (
    <section className="panel">
      <h2>Ingest</h2>
      <QueryState query={rate} what="the ingest rate">
        {current ? (
          <p className="small" data-testid="ingest-current">
            {formatRate(current.walBytesPerSecond)} of WAL · {current.recordsPerSecond.toFixed(0)}{" "}
            records/s · last record <span className="mono">{formatLsn(current.lastRecordLsn)}</span>
          </p>
        ) : null}
        <div className="chart" data-testid="ingest-chart" data-points={points.length}>
          <ResponsiveContainer width="100%" height="100%">
            <ComposedChart data={points} margin={{ top: 4, right: 8, bottom: 4, left: 8 }}>
              <CartesianGrid stroke="#1e293b" vertical={false} />
              <XAxis dataKey="time" minTickGap={40} {...CHART_AXIS} />
              <YAxis
                yAxisId="wal"
                width={64}
                tickFormatter={(v: number) => formatBytes(v)}
                {...CHART_AXIS}
              />
              <YAxis yAxisId="records" orientation="right" width={44} {...CHART_AXIS} />
              <Tooltip
                contentStyle={CHART_TOOLTIP_STYLE}
                formatter={(v, name) =>
                  name === "WAL/s"
                    ? [formatRate(Number(v)), name]
                    : [Number(v).toFixed(0), String(name)]
                }
              />
              <Area
                yAxisId="wal"
                dataKey="wal"
                name="WAL/s"
                stroke="#38bdf8"
                fill="rgba(56, 189, 248, 0.2)"
                isAnimationActive={false}
              />
              <Line
                yAxisId="records"
                dataKey="records"
                name="records/s"
                stroke="#fbbf24"
                dot={false}
                isAnimationActive={false}
              />
            </ComposedChart>
          </ResponsiveContainer>
        </div>
      </QueryState>
    </section>
  );
}
