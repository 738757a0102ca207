"use client";
/**
 * Create a branch: pick the parent timeline and an LSN (typed as X/Y; empty means the parent's
 * last_record_lsn). The pageserver validates the LSN (not below the parent's branch point, its
 * GC cutoff or initdb) and its message is shown as is.
 */
import { useMutation } from "@tanstack/react-query";
import { useState } from "react";
import { formatLsn } from "~/lib/lsn";
import { useTRPC } from "~/trpc/react";
import { MutationStatus } from "../ui/mutation_status";

export function BranchForm({
  tenantId,
  timelines,
  onCreated,
  initialParent,
  lsn,
  onLsnChange,
}: {
  tenantId: string;
  timelines: ReadonlyArray<{ timelineId: string; lastRecordLsn: number }>;
  onCreated: (timelineId: string) => void;
  initialParent?: string;
  /** Controlled LSN text (the timeline page fills it from the LSN bar). */
  lsn?: string;
  onLsnChange?: (text: string) => void;
}) {
  const trpc = useTRPC();
  const [chosen, setChosen] = useState(initialParent ?? "");
  // The first timeline until one is chosen: the list may still be empty at the first render.
  const parent = timelines.some((t) => t.timelineId === chosen)
    ? chosen
    : (timelines[0]?.timelineId ?? "");
  const [ownLsn, setOwnLsn] = useState("");
  const lsnText = lsn ?? ownLsn;
  const setLsn = onLsnChange ?? setOwnLsn;
  const branch = useMutation(
    trpc.timeline.create.mutationOptions({ onSuccess: (data) => onCreated(data.timelineId) }),
  );
  const parentTimeline = timelines.find((t) => t.timelineId === parent);
  if (timelines.length === 0) return null;
  return (
    <form
      className="row"
      onSubmit={(event) => {
        event.preventDefault();
        branch.mutate({
          tenantId,
          ancestorTimelineId: parent,
          ancestorStartLsn: lsnText.trim() === "" ? undefined : lsnText.trim(),
        });
      }}
    >
      <label>
        branch from{" "}
        <select
          value={parent}
          onChange={(e) => setChosen(e.target.value)}
          data-testid="branch-parent"
        >
          {timelines.map((t) => (
            <option key={t.timelineId} value={t.timelineId}>
              {t.timelineId.slice(0, 8)} (last {formatLsn(t.lastRecordLsn)})
            </option>
          ))}
        </select>
      </label>
      <label>
        at LSN{" "}
        <input
          value={lsnText}
          onChange={(e) => setLsn(e.target.value)}
          placeholder={
            parentTimeline ? `latest (${formatLsn(parentTimeline.lastRecordLsn)})` : "X/Y"
          }
          size={18}
          className="mono"
          data-testid="branch-lsn"
        />
      </label>
      <button
        type="submit"
        disabled={branch.isPending || parent === ""}
        data-testid="create-branch"
      >
        Create branch
      </button>
      <MutationStatus
        mutation={branch}
        testId="create-branch"
        success={branch.data ? `branched ${branch.data.timelineId}` : undefined}
      />
    </form>
  );
}
