"use client";
/**
 * "Open a file": drop or pick a layer-name list (one Neon layer name per line) or an
 * `index_part.json`, and explore its layer map as on a timeline page — what `pagectl
 * draw-timeline` draws, but zoomable, with hover and details. Parsing is src/lib/layer_file.ts,
 * in the browser: nothing is uploaded and no pageserver is needed.
 *
 * `open:file-selected` is marked when a file arrives, so the benchmark can time the whole way
 * from a file to the first painted frame (`layer-map:first-paint`, marked by the canvas).
 */
import { useEffect, useRef, useState } from "react";
import { describeKey } from "~/lib/key";
import { LayerFileError, type OpenedLayerFile, parseLayerFile } from "~/lib/layer_file";
import type { LsnAxis, Mark } from "~/lib/layer_map_renderer";
import { TIER_NAMES } from "~/lib/layer_set";
import { formatBytes, formatLsn } from "~/lib/lsn";
import { LayerMapCanvas } from "../layer_map/layer_map_canvas";
import { LsnAxisSelect } from "../layer_map/lsn_axis_select";

interface Opened {
  readonly fileName: string;
  readonly file: OpenedLayerFile;
}

const NO_MARKS: Mark[] = [];

export function OpenFileView() {
  const [opened, setOpened] = useState<Opened | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [reading, setReading] = useState<string | null>(null);
  const [dragging, setDragging] = useState(false);
  const [lsnAxis, setLsnAxis] = useState<LsnAxis>("linear");
  const [selected, setSelected] = useState(-1);
  const zoneRef = useRef<HTMLElement>(null);

  const open = async (file: File) => {
    performance.mark("open:file-selected");
    setReading(file.name);
    setError(null);
    try {
      const parsed = parseLayerFile(await file.text());
      setOpened({ fileName: file.name, file: parsed });
      setSelected(-1);
    } catch (caught) {
      // A file that is not a layer list is the user's mistake, not a crash: say what is wrong.
      const message = caught instanceof LayerFileError ? caught.message : String(caught);
      setError(`${file.name}: ${message}`);
    } finally {
      setReading(null);
    }
  };
  const openRef = useRef(open);
  openRef.current = open;

  // Drag and drop on the zone, with plain listeners: the zone is not a control, the file input
  // inside it is (and is what keyboard users get).
  useEffect(() => {
    const zone = zoneRef.current;
    if (!zone) return;
    const over = (event: DragEvent) => {
      event.preventDefault();
      setDragging(true);
    };
    const leave = () => setDragging(false);
    const drop = (event: DragEvent) => {
      event.preventDefault();
      setDragging(false);
      const file = event.dataTransfer?.files[0];
      if (file) void openRef.current(file);
    };
    zone.addEventListener("dragover", over);
    zone.addEventListener("dragleave", leave);
    zone.addEventListener("drop", drop);
    return () => {
      zone.removeEventListener("dragover", over);
      zone.removeEventListener("dragleave", leave);
      zone.removeEventListener("drop", drop);
    };
  }, []);

  const set = opened?.file.set ?? null;
  const marks: Mark[] =
    opened?.file.diskConsistentLsn != null
      ? [{ lsn: opened.file.diskConsistentLsn, label: "disk consistent", colour: "#38bdf8" }]
      : NO_MARKS;

  return (
    <div>
      <h1>Open a file</h1>
      <section
        ref={zoneRef}
        className={`dropzone ${dragging ? "over" : ""}`}
        data-testid="open-dropzone"
      >
        <p style={{ marginTop: 0 }}>
          Drop a layer-name list (one layer file name per line) or an <code>index_part.json</code>{" "}
          here, or pick one:
        </p>
        <input
          type="file"
          accept=".txt,.json,.list,text/plain,application/json"
          data-testid="open-file-input"
          aria-label="layer-name list or index_part.json"
          onChange={(event) => {
            const file = event.target.files?.[0];
            if (file) void open(file);
            // Picking the same file again should reopen it.
            event.target.value = "";
          }}
        />
        <p className="muted small" style={{ marginBottom: 0 }}>
          The file is read in this browser; nothing is uploaded.
        </p>
      </section>
      {reading ? <div className="status pending">reading {reading}…</div> : null}
      {error ? (
        <div className="status error" role="alert" data-testid="open-error">
          {error}
        </div>
      ) : null}
      {opened && set ? (
        <section className="panel">
          <h2>
            <span className="mono">{opened.fileName}</span>
          </h2>
          <p data-testid="open-summary">
            <b data-testid="open-layer-count">{set.count.toLocaleString("en-US")} layers</b> (
            {TIER_NAMES.slice(0, 3)
              .map((tier, i) => `${set.countsByTier[i]!.toLocaleString("en-US")} ${tier}`)
              .join(", ")}
            ) · {opened.file.format === "index_part" ? "index_part.json" : "layer-name list"} · LSN{" "}
            <span className="mono">
              {formatLsn(set.lsnMin)}..{formatLsn(set.lsnMax)}
            </span>
            {set.totalBytes > 0 ? ` · ${formatBytes(set.totalBytes)}` : ""}
            {opened.file.diskConsistentLsn != null
              ? ` · disk_consistent_lsn ${formatLsn(opened.file.diskConsistentLsn)}`
              : ""}
          </p>
          {opened.file.skipped > 0 ? (
            <p className="small error-text" data-testid="open-skipped">
              {opened.file.skipped} line{opened.file.skipped === 1 ? " is" : "s are"} not layer
              names and {opened.file.skipped === 1 ? "was" : "were"} skipped, e.g.{" "}
              <span className="mono break">{opened.file.skippedExamples.join(" | ")}</span>
            </p>
          ) : null}
          <div className="layer-map-controls">
            <LsnAxisSelect value={lsnAxis} onChange={setLsnAxis} />
          </div>
          <LayerMapCanvas
            set={set}
            marks={marks}
            lsnAxis={lsnAxis}
            selected={selected}
            onSelect={setSelected}
            height={600}
          />
          {selected >= 0 && selected < set.count ? (
            <FileLayerDetails file={opened.file} index={selected} />
          ) : null}
        </section>
      ) : null}
    </div>
  );
}

function FileLayerDetails({ file, index }: { file: OpenedLayerFile; index: number }) {
  const set = file.set;
  const keyStart = set.keys[set.keyStartRank[index]!] ?? "";
  const keyEnd = set.keys[set.keyEndRank[index]!] ?? "";
  const tier = TIER_NAMES[set.tier[index]!];
  return (
    <div className="panel" data-testid="layer-details" style={{ marginTop: "0.8rem" }}>
      <h3 style={{ marginTop: 0 }}>Layer</h3>
      <div className="mono small break">{set.names[index]}</div>
      <dl className="details">
        <dt>kind</dt>
        <dd>{tier === "image" ? "image" : `delta · ${tier}`}</dd>
        <dt>LSN range</dt>
        <dd className="mono">
          {formatLsn(set.lsnStart[index]!)} .. {formatLsn(set.lsnEnd[index]!)}
        </dd>
        <dt>keys</dt>
        <dd>
          {describeKey(keyStart)} .. {describeKey(keyEnd)}
        </dd>
        {set.size[index]! > 0 ? (
          <>
            <dt>size</dt>
            <dd>{formatBytes(set.size[index]!)}</dd>
          </>
        ) : null}
        {set.generation[index]! >= 0 ? (
          <>
            <dt>generation</dt>
            <dd>{set.generation[index]}</dd>
          </>
        ) : null}
      </dl>
    </div>
  );
}
