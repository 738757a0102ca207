"use client";
/**
 * The LSN bar: the timeline's history from initdb to last_record_lsn on one axis, with every
 * mark — initdb, the branch point on the parent, GC cutoff (applied and planned), leases, child
 * branch points, remote and disk consistent, last record. Labels are laid out in four rows
 * (placeLabels) so neighbours stay readable. Clicking the bar picks that LSN (for a branch or a
 * lease).
 */
import type { LsnMarks } from "@pageserver/api";
import { useEffect, useRef, useState } from "react";
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

/** Label rows, tried in this order: nearest the bar first. */
const ROWS = ["above", "below", "above2", "below2"] as const;
/** An estimate of the label font's advance (0.72rem): labels are placed before they render. */
const CHAR_PX = 6.4;
const LABEL_GAP_PX = 6;

export interface PlacedLabel {
  readonly lsn: number;
  readonly text: string;
  readonly leftPx: number;
  readonly row: (typeof ROWS)[number];
}

/**
 * Labels for marks, without overlaps where the bar allows: marks at one LSN share a label
 * ("GC cutoff · disk consistent 0/27FCA28"); each label is centred on its mark, kept inside the
 * bar, and put in the first row where it does not touch its left neighbour.
 */
export function placeLabels(
  list: readonly BarMark[],
  fraction: (lsn: number) => number,
  widthPx: number,
): PlacedLabel[] {
  const merged: Array<{ lsn: number; labels: string[] }> = [];
  for (const mark of list) {
    const last = merged[merged.length - 1];
    if (last && last.lsn === mark.lsn) {
      if (!last.labels.includes(mark.label)) last.labels.push(mark.label);
    } else merged.push({ lsn: mark.lsn, labels: [mark.label] });
  }
  const rightEdge = new Map<string, number>(ROWS.map((row) => [row, Number.NEGATIVE_INFINITY]));
  return merged.map(({ lsn, labels }) => {
    const text = `${labels.join(" · ")} ${formatLsn(lsn)}`;
    const width = text.length * CHAR_PX;
    const centre = fraction(lsn) * widthPx;
    const left = Math.max(0, Math.min(widthPx - width, centre - width / 2));
    // No row free: the one whose last label ends first (overlaps least).
    const row =
      ROWS.find((r) => rightEdge.get(r)! + LABEL_GAP_PX <= left) ??
      ROWS.reduce((best, r) => (rightEdge.get(r)! < rightEdge.get(best)! ? r : best));
    rightEdge.set(row, left + width);
    return { lsn, text, leftPx: left, row };
  });
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
  const [widthPx, setWidthPx] = useState(1000);
  useEffect(() => {
    const bar = barRef.current;
    if (!bar) return;
    const observer = new ResizeObserver((entries) => {
      const width = entries[0]?.contentRect.width ?? 0;
      if (width > 0) setWidthPx(width);
    });
    observer.observe(bar);
    return () => observer.disconnect();
  }, []);
  const list = barMarks(marks);
  const low = Math.min(marks.initdb, marks.ancestor?.lsn ?? marks.initdb);
  const high = Math.max(marks.lastRecord, low + 1);
  const fraction = (lsn: number) => Math.min(1, Math.max(0, (lsn - low) / (high - low)));
  const position = (lsn: number) => `${(fraction(lsn) * 100).toFixed(3)}%`;
  const labels = placeLabels(list, fraction, widthPx);
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
          const at = Math.min(1, Math.max(0, (event.clientX - rect.left) / rect.width));
          // Records start on 8-byte boundaries.
          onPick(Math.floor((low + at * (high - low)) / 8) * 8);
        }}
      >
        <div
          className="lsn-range-readable"
          style={{ left: position(marks.minReadable), right: 0 }}
        />
        {list.map((mark) => (
          <div
            key={`${mark.className}-${mark.label}-${mark.lsn}`}
            className={`lsn-mark ${mark.className}`}
            style={{ left: position(mark.lsn) }}
            title={`${mark.label} ${formatLsn(mark.lsn)}`}
          />
        ))}
        {labels.map((label) => (
          <span
            key={`label-${label.lsn}`}
            className={`lsn-label ${label.row}`}
            style={{ left: `${label.leftPx}px` }}
          >
            {label.text}
          </span>
        ))}
        {picked != null ? (
          <div className="lsn-mark m-picked" style={{ left: position(picked) }} />
        ) : null}
      </div>
    </div>
  );
}
