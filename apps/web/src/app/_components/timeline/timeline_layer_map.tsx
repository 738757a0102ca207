"use client";
/**
 * The timeline's live layer map: the canvas fed by the SSE subscription (historic layers as
 * rectangles and bars, the open and frozen in-memory layers as bands over every key), the LSN
 * marks as lines, a colour-by and an LSN-axis selector, and the details of the clicked layer
 * (`layerMap.layer`, which adds its path and why the last GC kept it).
 *
 * The selection is kept by layer name, not index: the set is rebuilt on every change, and a
 * compaction may remove the layer, in which case its details say so.
 */
import type { LsnMarks } from "@pageserver/api";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useMemo, useState } from "react";
import { formatAge, formatTime } from "~/lib/format";
import type { Band, ColourBy, LsnAxis, Mark } from "~/lib/layer_map_renderer";
import { formatBytes, formatLsn } from "~/lib/lsn";
import { useTRPC } from "~/trpc/react";
import { LayerMapCanvas } from "../layer_map/layer_map_canvas";
import { LsnAxisSelect } from "../layer_map/lsn_axis_select";
import { MutationStatus } from "../ui/mutation_status";
import type { LiveTimeline } from "./use_live_timeline";

/** The same colours as the LSN bar's marks (globals.css `.lsn-mark.m-*`). */
const MARK_COLOURS = {
  branch: "#a78bfa",
  gc: "#f87171",
  lease: "#fbbf24",
  child: "#c084fc",
  disk: "#38bdf8",
  picked: "#f8fafc",
} as const;

const COLOUR_BY: ReadonlyArray<{ value: ColourBy; label: string }> = [
  { value: "tier", label: "tier (L0 / L1 / image / in-memory)" },
  { value: "level", label: "compaction level" },
  { value: "visibility", label: "visibility" },
  { value: "residence", label: "residence" },
];

function canvasMarks(marks: LsnMarks, picked: number | null): Mark[] {
  const list: Mark[] = [{ lsn: marks.gcCutoff, label: "GC cutoff", colour: MARK_COLOURS.gc }];
  if (marks.ancestor)
    list.push({ lsn: marks.ancestor.lsn, label: "branch point", colour: MARK_COLOURS.branch });
  for (const lease of marks.leases)
    list.push({ lsn: lease.lsn, label: "lease", colour: MARK_COLOURS.lease });
  for (const child of marks.children)
    list.push({
      lsn: child.lsn,
      label: `child ${child.timelineId.slice(0, 6)}`,
      colour: MARK_COLOURS.child,
    });
  list.push({ lsn: marks.diskConsistent, label: "disk consistent", colour: MARK_COLOURS.disk });
  if (picked !== null) list.push({ lsn: picked, label: "picked", colour: MARK_COLOURS.picked });
  return list;
}

export function TimelineLayerMap({
  tenantId,
  timelineId,
  live,
  marks,
  picked,
  onPickLsn,
}: {
  tenantId: string;
  timelineId: string;
  live: LiveTimeline;
  marks: LsnMarks;
  picked: number | null;
  onPickLsn: (lsn: number) => void;
}) {
  const [colourBy, setColourBy] = useState<ColourBy>("tier");
  const [lsnAxis, setLsnAxis] = useState<LsnAxis>("linear");
  const [selectedName, setSelectedName] = useState<string | null>(null);
  const set = live.set;
  const inMemory = live.event?.inMemory;
  const bands: Band[] = useMemo(
    () =>
      (inMemory ?? []).map((row) => ({
        kind: row.kind,
        lsnStart: row.lsnStart,
        lsnEnd: row.lsnEnd,
      })),
    [inMemory],
  );
  const lines = useMemo(() => canvasMarks(marks, picked), [marks, picked]);
  const selected = set && selectedName !== null ? set.names.indexOf(selectedName) : -1;

  return (
    <section className="panel">
      <h2>Layer map</h2>
      <div className="layer-map-controls">
        <label>
          colour by{" "}
          <select
            value={colourBy}
            onChange={(e) => setColourBy(e.target.value as ColourBy)}
            data-testid="colour-by"
          >
            {COLOUR_BY.map((option) => (
              <option key={option.value} value={option.value}>
                {option.label}
              </option>
            ))}
          </select>
        </label>
        <LsnAxisSelect value={lsnAxis} onChange={setLsnAxis} />
        {set ? (
          <span className="muted small" data-testid="layer-map-summary">
            {set.count.toLocaleString("en-US")} layers · {formatBytes(set.totalBytes)}
            {live.syncing ? " · loading the full map…" : ""}
          </span>
        ) : null}
      </div>
      {set ? (
        <LayerMapCanvas
          set={set}
          marks={lines}
          bands={bands}
          colourBy={colourBy}
          lsnAxis={lsnAxis}
          selected={selected}
          onSelect={(index) => setSelectedName(set.names[index] ?? null)}
          onPickLsn={onPickLsn}
        />
      ) : live.error ? (
        <div className="status error" role="alert">
          Cannot load the layer map: {live.error}
        </div>
      ) : (
        <div className="muted">
          {live.syncing ? "Loading the layer map…" : "Waiting for the live layer map…"}
        </div>
      )}
      {selectedName !== null ? (
        <LayerDetails
          tenantId={tenantId}
          timelineId={timelineId}
          name={selectedName}
          onClose={() => setSelectedName(null)}
        />
      ) : null}
    </section>
  );
}

function LayerDetails({
  tenantId,
  timelineId,
  name,
  onClose,
}: {
  tenantId: string;
  timelineId: string;
  name: string;
  onClose: () => void;
}) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const layer = useQuery(
    trpc.layerMap.layer.queryOptions({ tenantId, timelineId, name }, { retry: 0 }),
  );
  const refresh = () =>
    void queryClient.invalidateQueries({
      queryKey: trpc.layerMap.layer.queryKey({ tenantId, timelineId, name }),
    });
  const evict = useMutation(trpc.layerMap.evict.mutationOptions({ onSuccess: refresh }));
  const download = useMutation(trpc.layerMap.download.mutationOptions({ onSuccess: refresh }));
  const data = layer.data;
  return (
    <div className="panel" data-testid="layer-details" style={{ marginTop: "0.8rem" }}>
      <div className="row" style={{ margin: 0, justifyContent: "space-between" }}>
        <h3 style={{ margin: 0 }}>Layer</h3>
        <button type="button" className="link" onClick={onClose}>
          close
        </button>
      </div>
      <div className="mono small break">{name}</div>
      {layer.isError ? (
        <div className="status error" role="alert">
          {layer.error.message}
        </div>
      ) : layer.isPending ? (
        <div className="muted">Loading…</div>
      ) : data ? (
        <dl className="details">
          <dt>kind</dt>
          <dd>
            {data.kind} · {data.tier}
            {data.level !== null ? ` · level ${data.level}` : " · no level"}
          </dd>
          <dt>file</dt>
          <dd className="mono small break">{data.path}</dd>
          <dt>size</dt>
          <dd>{formatBytes(data.sizeBytes)}</dd>
          <dt>generation</dt>
          <dd>{data.generation ?? "none"}</dd>
          <dt>LSN range</dt>
          <dd className="mono">
            {formatLsn(data.lsnStart)} .. {formatLsn(data.lsnEnd)}
            <span className="muted"> ({formatBytes(data.lsnEnd - data.lsnStart)} of WAL)</span>
          </dd>
          <dt>keys</dt>
          <dd>
            {data.keyStartText} .. {data.keyEndText}
            <div className="mono small muted break">
              {data.keyStart}..{data.keyEnd}
            </div>
          </dd>
          <dt>visibility</dt>
          <dd>{data.visibility}</dd>
          <dt>residence</dt>
          <dd>
            {data.residence} since {formatTime(data.residentSinceMs)}
          </dd>
          <dt>access</dt>
          <dd>
            {data.accessCount} reads, last {formatAge(data.lastAccessMs)}
          </dd>
          <dt>last GC</dt>
          <dd>{data.gcRetention ? `kept: ${data.gcRetention}` : "no GC decision recorded"}</dd>
        </dl>
      ) : null}
      {data ? (
        <div className="row">
          <button
            type="button"
            disabled={evict.isPending || download.isPending}
            onClick={() => evict.mutate({ tenantId, timelineId, name })}
            data-testid="layer-evict"
          >
            Evict
          </button>
          <button
            type="button"
            disabled={evict.isPending || download.isPending}
            onClick={() => download.mutate({ tenantId, timelineId, name })}
            data-testid="layer-download"
          >
            Download
          </button>
          <MutationStatus
            mutation={evict}
            testId="layer-evict"
            success={
              evict.data
                ? evict.data.evicted
                  ? "evicted"
                  : "not resident: nothing to do"
                : undefined
            }
          />
          <MutationStatus
            mutation={download}
            testId="layer-download"
            success={
              download.data
                ? download.data.downloaded
                  ? "downloaded"
                  : "resident already: nothing to do"
                : undefined
            }
          />
        </div>
      ) : null}
    </div>
  );
}
