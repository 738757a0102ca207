"use client";
/**
 * The LSN bar: the timeline's history from initdb to last_record_lsn on one axis, with every
 * mark — initdb, the branch point on the parent, GC cutoff (applied and planned), leases, child
 * branch points, remote and disk consistent, last record. Labels alternate above and below so
 * neighbours stay readable. Clicking the bar picks that LSN (for a branch or a lease).
 */
import type { LsnMarks } from "@pageserver/api";
import { useRef } from "react";
import { formatLsn } from "~/lib/lsn";

interface BarMark {
  readonly lsn: number;
  readonly label: string;
  readonly className: string;
}

export function barMarks(marks: LsnMarks): BarMark[] {
  const list: BarMark[] = [{ lsn: marks.initdb, label: "initdb", className: "m-initdb" }];
  if (marks.ancestor)
    list.push({ lsn: marks.ancestor.lsn, label: "branch point", className: "m-branch" });
  list.push({ lsn: marks.gcCutoff, label: "GC cutoff", className: "m-gc" });
  if (marks.plannedGcCutoff !== null && marks.plannedGcCutoff !== marks.gcCutoff)
    list.push({ lsn: marks.plannedGcCutoff, label: "planned GC cutoff", className: "m-gc" });
  for (const lease of marks.leases)
    list.push({ lsn: lease.lsn, label: "lease", className: "m-lease" });
  for (const child of marks.children)
    list.push({
      lsn: child.lsn,
      label: `child ${child.timelineId.slice(0, 6)}`,
      className: "m-child",
    });
  if (marks.remoteConsistent !== null)
    list.push({ lsn: marks.remoteConsistent, label: "remote consistent", className: "m-remote" });
  list.push({ lsn: marks.diskConsistent, label: "disk consistent", className: "m-disk" });
  list.push({ lsn: marks.lastRecord, label: "last record", className: "m-last" });
  // Two leases (or children) at one LSN draw as one mark: keys stay unique.
  const seen = new Set<string>();
  return list
    .filter((mark) => {
      const id = `${mark.className}-${mark.label}-${mark.lsn}`;
      if (seen.has(id)) return false;
      seen.add(id);
      return true;
    })
    .sort((a, b) => a.lsn - b.lsn);
}

export function LsnBar({
  marks,
  onPick,
  picked,
}: {
  marks: LsnMarks;
  onPick?: (lsn: number) => void;
  picked?: number | null;
}) {
  const barRef = useRef<HTMLDivElement>(null);
  const list = barMarks(marks);
  const low = Math.min(marks.initdb, marks.ancestor?.lsn ?? marks.initdb);
  const high = Math.max(marks.lastRecord, low + 1);
  const position = (lsn: number) => `${(((lsn - low) / (high - low)) * 100).toFixed(3)}%`;
  return (
    <div className="lsn-bar-wrap" data-testid="lsn-bar">
      {/* biome-ignore lint/a11y/noStaticElementInteractions: a pointer shortcut; the same LSN can be typed in the branch and lease forms */}
      {/* biome-ignore lint/a11y/useKeyWithClickEvents: as above */}
      <div
        className="lsn-bar"
        ref={barRef}
        title={onPick ? "click to pick an LSN" : undefined}
        onClick={(event) => {
          if (!onPick || !barRef.current) return;
          const rect = barRef.current.getBoundingClientRect();
          const fraction = Math.min(1, Math.max(0, (event.clientX - rect.left) / rect.width));
          // Records start on 8-byte boundaries.
          onPick(Math.floor((low + fraction * (high - low)) / 8) * 8);
        }}
      >
        <div
          className="lsn-range-readable"
          style={{ left: position(marks.minReadable), right: 0 }}
        />
        {list.map((mark, i) => (
          <div
            key={`${mark.className}-${mark.label}-${mark.lsn}`}
            className={`lsn-mark ${mark.className}`}
            style={{ left: position(mark.lsn) }}
          >
            <span className={`lsn-label ${i % 2 === 0 ? "above" : "below"}`}>
              {mark.label} <span className="mono">{formatLsn(mark.lsn)}</span>
            </span>
          </div>
        ))}
        {picked != null ? (
          <div className="lsn-mark m-picked" style={{ left: position(picked) }} />
        ) : null}
      </div>
    </div>
  );
}
