"use client";
/**
 * The timeline's operations, each a tRPC mutation with its status next to its button (pending,
 * what it did, or the server's message): checkpoint, compaction, GC, an LSN lease, a branch at
 * an LSN, downloading every evicted layer, attaching or detaching the WAL generator, and
 * deleting the timeline (confirmed).
 *
 * Numbers typed here are checked only for being numbers; bounds (a rate too high, a negative
 * horizon) are the server's to check, and its message is shown as is.
 */
import type { TimelineSummary } from "@pageserver/api";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useRouter } from "next/navigation";
import { useState } from "react";
import { formatDurationMs, formatTime } from "~/lib/format";
import { formatLsn } from "~/lib/lsn";
import { type RouterInputs, useTRPC } from "~/trpc/react";
import { BranchForm } from "../tenant/branch_form";
import { ConfirmButton } from "../ui/confirm_button";
import { MutationStatus } from "../ui/mutation_status";
import { ToggleOperation } from "../ui/toggle_operation";

type Workload = NonNullable<RouterInputs["timeline"]["attachGenerator"]["params"]["workload"]>;
const WORKLOADS: readonly Workload[] = ["uniform", "hot-cold", "pgbench"];

class InputError extends Error {}

/** "" → undefined (the server's default); otherwise a finite number or an InputError. */
function optionalNumber(text: string, what: string): number | undefined {
  const trimmed = text.trim();
  if (trimmed === "") return undefined;
  const value = Number(trimmed);
  if (!Number.isFinite(value)) throw new InputError(`${what} must be a number, not '${trimmed}'`);
  return value;
}

export function TimelineOperations({
  node,
  tenantId,
  timelineId,
  lastRecordLsn,
  walSource,
  gcBlocked,
  archived,
  lsnText,
  onLsnText,
}: {
  node: string;
  tenantId: string;
  timelineId: string;
  lastRecordLsn: number;
  walSource: TimelineSummary["walSource"];
  gcBlocked: boolean;
  archived: boolean;
  lsnText: string;
  onLsnText: (text: string) => void;
}) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const router = useRouter();
  const ids = { tenantId, timelineId };
  const tenantHref = `/ps/${encodeURIComponent(node)}/tenants/${tenantId}`;
  const refresh = () => {
    void queryClient.invalidateQueries({ queryKey: trpc.levels.get.queryKey(ids) });
    void queryClient.invalidateQueries({ queryKey: trpc.timeline.get.queryKey(ids) });
    void queryClient.invalidateQueries({ queryKey: trpc.tenant.get.queryKey({ tenantId }) });
  };

  const [compactAfterCheckpoint, setCompactAfterCheckpoint] = useState(false);
  const [forceL0, setForceL0] = useState(false);
  const [forceImages, setForceImages] = useState(false);
  const [horizon, setHorizon] = useState("");
  const [workload, setWorkload] = useState<Workload>("pgbench");
  const [size, setSize] = useState("2");
  const [rate, setRate] = useState("200");
  const [seed, setSeed] = useState("1");
  const [inputError, setInputError] = useState<{ op: string; message: string } | null>(null);
  const [branched, setBranched] = useState<string | null>(null);

  const checkpoint = useMutation(trpc.timeline.checkpoint.mutationOptions({ onSuccess: refresh }));
  const compact = useMutation(trpc.timeline.compact.mutationOptions({ onSuccess: refresh }));
  const gc = useMutation(trpc.timeline.gc.mutationOptions({ onSuccess: refresh }));
  const lease = useMutation(trpc.timeline.leaseLsn.mutationOptions({ onSuccess: refresh }));
  const attach = useMutation(trpc.timeline.attachGenerator.mutationOptions({ onSuccess: refresh }));
  const detach = useMutation(trpc.timeline.detachGenerator.mutationOptions({ onSuccess: refresh }));
  const gcBlock = useMutation(trpc.timeline.setGcBlock.mutationOptions({ onSuccess: refresh }));
  const archive = useMutation(trpc.timeline.setArchived.mutationOptions({ onSuccess: refresh }));
  const downloadAll = useMutation(
    trpc.timeline.downloadRemoteLayers.mutationOptions({ onSuccess: refresh }),
  );
  const remove = useMutation(
    trpc.timeline.delete.mutationOptions({
      onSuccess: () => {
        void queryClient.invalidateQueries({ queryKey: trpc.tenant.get.queryKey({ tenantId }) });
        router.push(tenantHref);
      },
    }),
  );

  /** Runs `action` unless an input is not a number, which is reported next to `op`'s button. */
  const guarded = (op: string, action: () => void) => {
    try {
      setInputError(null);
      action();
    } catch (error) {
      if (!(error instanceof InputError)) throw error;
      setInputError({ op, message: error.message });
    }
  };
  const inputErrorFor = (op: string) =>
    inputError?.op === op ? (
      <span className="status error" role="alert" data-testid={`${op}-input-error`}>
        {inputError.message}
      </span>
    ) : null;

  return (
    <section className="panel">
      <h2>Operations</h2>
      <div className="ops">
        <div className="row">
          <button
            type="button"
            disabled={checkpoint.isPending}
            onClick={() => checkpoint.mutate({ ...ids, compact: compactAfterCheckpoint })}
            data-testid="op-checkpoint"
          >
            Checkpoint
          </button>
          <label>
            <input
              type="checkbox"
              checked={compactAfterCheckpoint}
              onChange={(e) => setCompactAfterCheckpoint(e.target.checked)}
            />{" "}
            then compact
          </label>
          <MutationStatus
            mutation={checkpoint}
            testId="op-checkpoint"
            success={
              checkpoint.data
                ? `flushed: disk consistent ${formatLsn(checkpoint.data.diskConsistentLsn)} in ${formatDurationMs(checkpoint.data.durationMs)}${checkpoint.data.compaction ? `, compaction ${checkpoint.data.compaction.layersIn} → ${checkpoint.data.compaction.layersOut} layers` : ""}`
                : undefined
            }
          />
        </div>

        <div className="row">
          <button
            type="button"
            disabled={compact.isPending}
            onClick={() =>
              compact.mutate({
                ...ids,
                forceL0Compaction: forceL0,
                forceImageLayerCreation: forceImages,
              })
            }
            data-testid="op-compact"
          >
            Compact
          </button>
          <label>
            <input
              type="checkbox"
              checked={forceL0}
              onChange={(e) => setForceL0(e.target.checked)}
            />{" "}
            force L0
          </label>
          <label>
            <input
              type="checkbox"
              checked={forceImages}
              onChange={(e) => setForceImages(e.target.checked)}
            />{" "}
            force image layers
          </label>
          <MutationStatus
            mutation={compact}
            testId="op-compact"
            success={
              compact.data
                ? compact.data.steps.length === 0
                  ? "nothing to compact"
                  : `${compact.data.steps.map((s) => `${s.kind} ${s.layersIn}→${s.layersOut}`).join(", ")} in ${formatDurationMs(compact.data.durationMs)}`
                : undefined
            }
          />
        </div>

        <div className="row">
          <button
            type="button"
            disabled={gc.isPending}
            onClick={() =>
              guarded("op-gc", () =>
                gc.mutate({ ...ids, horizonBytes: optionalNumber(horizon, "the GC horizon") }),
              )
            }
            data-testid="op-gc"
          >
            Run GC
          </button>
          <label>
            horizon bytes{" "}
            <input
              value={horizon}
              onChange={(e) => setHorizon(e.target.value)}
              placeholder="tenant's gc_horizon"
              size={18}
              data-testid="op-gc-horizon"
            />
          </label>
          {inputErrorFor("op-gc")}
          <MutationStatus
            mutation={gc}
            testId="op-gc"
            success={
              gc.data
                ? `removed ${gc.data.layersRemoved} of ${gc.data.layersTotal} layers; cutoff ${formatLsn(gc.data.newCutoff)}`
                : undefined
            }
          />
        </div>

        <div className="row">
          <button
            type="button"
            disabled={lease.isPending || lsnText.trim() === ""}
            onClick={() => lease.mutate({ ...ids, lsn: lsnText.trim() })}
            data-testid="op-lease"
          >
            Lease LSN
          </button>
          <label>
            at{" "}
            <input
              value={lsnText}
              onChange={(e) => onLsnText(e.target.value)}
              placeholder={`X/Y, e.g. ${formatLsn(lastRecordLsn)}`}
              size={18}
              className="mono"
              data-testid="op-lease-lsn"
            />
          </label>
          <MutationStatus
            mutation={lease}
            testId="op-lease"
            success={
              lease.data
                ? `leased ${formatLsn(lease.data.lsn)} until ${formatTime(lease.data.validUntilMs)}`
                : undefined
            }
          />
        </div>

        <ToggleOperation
          on={archived}
          labels={{ on: "Unarchive", off: "Archive" }}
          hints={{
            on: "archived: readable, but no branch may start here",
            off: "archive once every child is archived",
          }}
          mutation={archive}
          onToggle={(next) => archive.mutate({ ...ids, archived: next })}
          testId="op-archive"
          success={
            archive.data
              ? archive.data.changed
                ? archive.data.archivedAt
                  ? `archived at ${archive.data.archivedAt}`
                  : "unarchived"
                : "nothing to change"
              : undefined
          }
        />

        <ToggleOperation
          on={gcBlocked}
          labels={{ on: "Unblock GC", off: "Block GC" }}
          hints={{
            on: "GC of the whole tenant is held off by this timeline",
            off: "hold off GC of the whole tenant (durable, survives attach elsewhere)",
          }}
          mutation={gcBlock}
          onToggle={(next) => gcBlock.mutate({ ...ids, block: next })}
          testId="op-gc-block"
          success={
            gcBlock.data
              ? gcBlock.data.changed
                ? gcBlock.data.blocking
                  ? `blocked: ${gcBlock.data.tenantGcBlocking}`
                  : "unblocked"
                : "nothing to change"
              : undefined
          }
        />

        <div className="row">
          <button
            type="button"
            disabled={downloadAll.isPending}
            onClick={() => downloadAll.mutate({ ...ids, maxConcurrentDownloads: 8 })}
            data-testid="op-download-all"
          >
            Download evicted layers
          </button>
          <MutationStatus
            mutation={downloadAll}
            testId="op-download-all"
            success={
              downloadAll.data
                ? downloadAll.data.started
                  ? `task ${downloadAll.data.task_id}: downloading ${downloadAll.data.total_layer_count} evicted layer(s) in the background`
                  : `task ${downloadAll.data.task_id} is still running: ${downloadAll.data.successful_download_count} of ${downloadAll.data.total_layer_count} done`
                : undefined
            }
          />
        </div>

        <BranchForm
          tenantId={tenantId}
          timelines={[{ timelineId, lastRecordLsn }]}
          initialParent={timelineId}
          lsn={lsnText}
          onLsnChange={onLsnText}
          onCreated={(id) => {
            setBranched(id);
            refresh();
          }}
        />
        {branched ? (
          <p className="small" style={{ margin: 0 }}>
            <Link href={`${tenantHref}/timelines/${branched}`} data-testid="open-branch">
              open branch {branched}
            </Link>
          </p>
        ) : null}

        <div className="row">
          <span>WAL generator:</span>
          <span className="small" data-testid="wal-source">
            {walSource
              ? `${walSource.description} (${walSource.state}, ${walSource.records} records)`
              : "none attached"}
            {walSource?.error ? <span className="error-text"> {walSource.error}</span> : null}
          </span>
        </div>
        <div className="row">
          <select
            value={workload}
            onChange={(e) => setWorkload(e.target.value as Workload)}
            data-testid="gen-workload"
            aria-label="workload"
          >
            {WORKLOADS.map((w) => (
              <option key={w}>{w}</option>
            ))}
          </select>
          <label>
            size{" "}
            <input
              value={size}
              onChange={(e) => setSize(e.target.value)}
              size={6}
              data-testid="gen-size"
            />
          </label>
          <label>
            tx/s{" "}
            <input
              value={rate}
              onChange={(e) => setRate(e.target.value)}
              size={6}
              data-testid="gen-rate"
            />
          </label>
          <label>
            seed{" "}
            <input
              value={seed}
              onChange={(e) => setSeed(e.target.value)}
              size={6}
              data-testid="gen-seed"
            />
          </label>
          <button
            type="button"
            disabled={attach.isPending}
            onClick={() =>
              guarded("gen-attach", () =>
                attach.mutate({
                  ...ids,
                  params: {
                    workload,
                    size: optionalNumber(size, "size"),
                    rate: optionalNumber(rate, "tx/s"),
                    seed: optionalNumber(seed, "seed"),
                  },
                }),
              )
            }
            data-testid="gen-attach"
          >
            Attach
          </button>
          <button
            type="button"
            disabled={detach.isPending || walSource === null}
            onClick={() => detach.mutate(ids)}
            data-testid="gen-detach"
          >
            Detach
          </button>
          {inputErrorFor("gen-attach")}
          <MutationStatus
            mutation={attach}
            testId="gen-attach"
            success={attach.data ? `attached: ${attach.data.description}` : undefined}
          />
          <MutationStatus mutation={detach} testId="gen-detach" success="detached" />
        </div>

        <div className="row">
          <ConfirmButton
            label="Delete timeline"
            question={`Delete timeline ${timelineId} and all its layers?`}
            onConfirm={() => remove.mutate(ids)}
            disabled={remove.isPending}
            testId="delete-timeline"
          />
          <MutationStatus mutation={remove} testId="delete-timeline" success="deleted" />
        </div>
      </div>
    </section>
  );
}
