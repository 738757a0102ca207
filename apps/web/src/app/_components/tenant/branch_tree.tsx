"use client";
/**
 * The branch tree of a tenant, drawn as Neon draws timelines: one row per timeline, a line from
 * where it starts (its branch point on the parent, or initdb) to its last_record_lsn, placed on
 * a shared LSN axis; a vertical connector joins a child to its parent at the branch LSN. Rows are
 * in depth-first order, so a subtree stays together. Clicking a row opens the timeline.
 */
import Link from "next/link";
import { shortId } from "~/lib/format";
import { formatLsn } from "~/lib/lsn";

export interface TreeTimeline {
  readonly timelineId: string;
  readonly ancestorTimelineId: string | null;
  readonly ancestorLsn: number | null;
  readonly initdbLsn: number;
  readonly lastRecordLsn: number;
  readonly state: string;
}

const ROW_HEIGHT = 30;
const LABEL_WIDTH = 110;
const WIDTH = 900;

function depthFirst(timelines: readonly TreeTimeline[]): TreeTimeline[] {
  const children = new Map<string | null, TreeTimeline[]>();
  const ids = new Set(timelines.map((t) => t.timelineId));
  for (const t of timelines) {
    const parent =
      t.ancestorTimelineId && ids.has(t.ancestorTimelineId) ? t.ancestorTimelineId : null;
    const list = children.get(parent) ?? [];
    list.push(t);
    children.set(parent, list);
  }
  const ordered: TreeTimeline[] = [];
  const visit = (parent: string | null) => {
    const list = (children.get(parent) ?? []).sort(
      (a, b) => (a.ancestorLsn ?? 0) - (b.ancestorLsn ?? 0),
    );
    for (const t of list) {
      ordered.push(t);
      visit(t.timelineId);
    }
  };
  visit(null);
  return ordered;
}

export function BranchTree({
  node,
  tenantId,
  timelines,
}: {
  node: string;
  tenantId: string;
  timelines: readonly TreeTimeline[];
}) {
  if (timelines.length === 0) return <p className="muted">No timelines yet: create one below.</p>;
  const rows = depthFirst(timelines);
  const lsnMin = Math.min(...rows.map((t) => t.ancestorLsn ?? t.initdbLsn));
  const lsnMax = Math.max(...rows.map((t) => t.lastRecordLsn), lsnMin + 1);
  const plotWidth = WIDTH - LABEL_WIDTH - 150;
  const x = (lsn: number) => LABEL_WIDTH + ((lsn - lsnMin) / (lsnMax - lsnMin)) * plotWidth;
  const rowOf = new Map(rows.map((t, i) => [t.timelineId, i]));
  const height = rows.length * ROW_HEIGHT + 24;
  return (
    <svg
      className="branch-tree"
      viewBox={`0 0 ${WIDTH} ${height}`}
      width="100%"
      data-testid="branch-tree"
      role="img"
    >
      <title>Branch tree</title>
      <text x={LABEL_WIDTH} y={height - 4} className="axis-label">
        {formatLsn(lsnMin)}
      </text>
      <text x={LABEL_WIDTH + plotWidth} y={height - 4} className="axis-label" textAnchor="end">
        {formatLsn(lsnMax)}
      </text>
      {rows.map((t, i) => {
        const y = i * ROW_HEIGHT + 16;
        const start = t.ancestorLsn ?? t.initdbLsn;
        const parentRow = t.ancestorTimelineId ? rowOf.get(t.ancestorTimelineId) : undefined;
        const href = `/ps/${encodeURIComponent(node)}/tenants/${tenantId}/timelines/${t.timelineId}`;
        return (
          <g key={t.timelineId} data-testid={`branch-${t.timelineId}`}>
            {parentRow !== undefined ? (
              <line
                x1={x(start)}
                x2={x(start)}
                y1={parentRow * ROW_HEIGHT + 16}
                y2={y}
                className="tree-connector"
              />
            ) : null}
            <line
              x1={x(start)}
              x2={x(t.lastRecordLsn)}
              y1={y}
              y2={y}
              className={`tree-line ${t.state !== "Active" ? "inactive" : ""}`}
            />
            <circle cx={x(start)} cy={y} r={4} className="tree-start" />
            <circle cx={x(t.lastRecordLsn)} cy={y} r={3} className="tree-end" />
            <Link href={href}>
              <text x={4} y={y + 4} className="tree-label">
                {shortId(t.timelineId)}
              </text>
            </Link>
            <text x={x(t.lastRecordLsn) + 8} y={y + 4} className="axis-label">
              {t.ancestorLsn !== null ? `@${formatLsn(t.ancestorLsn)} → ` : ""}
              {formatLsn(t.lastRecordLsn)}
            </text>
          </g>
        );
      })}
    </svg>
  );
}
