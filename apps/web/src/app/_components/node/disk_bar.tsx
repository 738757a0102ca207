"use client";
/**
 * Disk usage against the eviction thresholds: a bar filled to the used fraction, with a marker
 * at `max_usage_pct` and the free-space floor `min_avail_bytes`; red when a threshold is exceeded
 * (disk-usage-based eviction would run).
 */
import { formatBytes } from "~/lib/lsn";

export interface DiskUsage {
  readonly usedBytes: number;
  readonly capacityBytes: number;
  readonly usagePct: number;
  readonly thresholds: { enabled: boolean; maxUsagePct: number; minAvailBytes: number } | null;
  readonly exceeded: string | null;
}

export function DiskBar({ disk }: { disk: DiskUsage }) {
  const thresholds = disk.thresholds;
  const minAvailPct =
    thresholds && disk.capacityBytes > 0
      ? Math.max(0, 100 - (thresholds.minAvailBytes / disk.capacityBytes) * 100)
      : null;
  return (
    <div className="disk" data-testid="disk-usage">
      <div className="disk-bar" title={`${disk.usagePct.toFixed(1)} % used`}>
        <div
          className={`disk-fill ${disk.exceeded ? "over" : ""}`}
          style={{ width: `${Math.min(100, disk.usagePct)}%` }}
        />
        {thresholds ? (
          <div
            className="disk-mark"
            style={{ left: `${thresholds.maxUsagePct}%` }}
            title="max_usage_pct"
          />
        ) : null}
        {minAvailPct !== null ? (
          <div
            className="disk-mark alt"
            style={{ left: `${minAvailPct}%` }}
            title="min_avail_bytes"
          />
        ) : null}
      </div>
      <div className="muted small">
        disk {formatBytes(disk.usedBytes)} of {formatBytes(disk.capacityBytes)} (
        {disk.usagePct.toFixed(1)} %)
        {thresholds
          ? ` · evicts above ${thresholds.maxUsagePct} % or below ${formatBytes(thresholds.minAvailBytes)} free${thresholds.enabled ? "" : " (disabled)"}`
          : " · no disk-usage eviction configured"}
        {disk.exceeded ? <b className="error-text"> · {disk.exceeded} exceeded</b> : null}
      </div>
    </div>
  );
}
