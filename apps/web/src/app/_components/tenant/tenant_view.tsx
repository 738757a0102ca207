"use client";
/**
 * The tenant page's body: the branch tree, the timeline list, creating a timeline or a branch,
 * the config editor, and deleting the tenant.
 */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useRouter } from "next/navigation";
import { useState } from "react";
import { formatTime } from "~/lib/format";
import { formatBytes, formatLsn } from "~/lib/lsn";
import { useTRPC } from "~/trpc/react";
import { ConfirmButton } from "../ui/confirm_button";
import { MutationStatus, QueryState } from "../ui/mutation_status";
import { BranchForm } from "./branch_form";
import { BranchTree } from "./branch_tree";
import { ConfigEditor } from "./config_editor";

export function TenantView({ node, tenantId }: { node: string; tenantId: string }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const router = useRouter();
  const tenant = useQuery(trpc.tenant.get.queryOptions({ tenantId }, { refetchInterval: 2000 }));
  const [newTimelineId, setNewTimelineId] = useState("");
  const invalidate = () =>
    queryClient.invalidateQueries({ queryKey: trpc.tenant.get.queryKey({ tenantId }) });
  const createTimeline = useMutation(
    trpc.timeline.create.mutationOptions({
      onSuccess: () => {
        setNewTimelineId("");
        void invalidate();
      },
    }),
  );
  const resetTenant = useMutation(
    trpc.tenant.reset.mutationOptions({ onSuccess: () => void invalidate() }),
  );
  const deleteTenant = useMutation(
    trpc.tenant.delete.mutationOptions({
      onSuccess: () => router.push(`/ps/${encodeURIComponent(node)}`),
    }),
  );
  const data = tenant.data;
  return (
    <div>
      <p className="crumbs">
        <Link href="/">Fleet</Link> / <Link href={`/ps/${encodeURIComponent(node)}`}>{node}</Link> /
        tenant
      </p>
      <h1>
        Tenant <span className="mono">{tenantId}</span>
      </h1>
      <QueryState query={tenant} what="the tenant">
        {data ? (
          <>
            <div className="panel">
              <span>state {data.state}</span>
              {data.brokenReason ? (
                <span className="error-text"> ({data.brokenReason})</span>
              ) : null}{" "}
              · generation {data.generation ?? "none"} · {data.timelineCount} timelines ·{" "}
              {data.layerCount} layers · {formatBytes(data.physicalSizeBytes)} resident · attached{" "}
              {formatTime(data.attachedAtMs)}
              {data.gcBlockedUntilMs > Date.now()
                ? ` · GC held off until ${formatTime(data.gcBlockedUntilMs)} (lease deadline)`
                : ""}
              {data.gcBlocking ? (
                <span className="error-text" data-testid="tenant-gc-blocking">
                  {" "}
                  · GC blocked: {data.gcBlocking}
                </span>
              ) : null}
            </div>
            <section className="panel">
              <h2>Branches</h2>
              <BranchTree node={node} tenantId={tenantId} timelines={data.timelines} />
            </section>
            <section className="panel">
              <h2>Timelines</h2>
              <table className="table" data-testid="timeline-table">
                <thead>
                  <tr>
                    <th>timeline</th>
                    <th>ancestor @ LSN</th>
                    <th>last record</th>
                    <th>disk consistent</th>
                    <th>layers (L0)</th>
                    <th>size</th>
                    <th>WAL source</th>
                  </tr>
                </thead>
                <tbody>
                  {data.timelines.map((t) => (
                    <tr key={t.timelineId} data-testid={`timeline-row-${t.timelineId}`}>
                      <td className="mono">
                        <Link
                          href={`/ps/${encodeURIComponent(node)}/tenants/${tenantId}/timelines/${t.timelineId}`}
                        >
                          {t.timelineId}
                        </Link>
                        {t.state !== "Active" ? (
                          <span className="error-text"> {t.state}</span>
                        ) : null}
                      </td>
                      <td className="mono small">
                        {t.ancestorTimelineId
                          ? `${t.ancestorTimelineId.slice(0, 8)} @ ${formatLsn(t.ancestorLsn ?? 0)}`
                          : "—"}
                      </td>
                      <td className="mono">{formatLsn(t.lastRecordLsn)}</td>
                      <td className="mono">{formatLsn(t.diskConsistentLsn)}</td>
                      <td>
                        {t.layerCount} ({t.l0Count})
                      </td>
                      <td>{formatBytes(t.physicalSizeBytes)}</td>
                      <td className="small">
                        {t.walSource ? `${t.walSource.description} (${t.walSource.state})` : "—"}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
              <form
                className="row"
                onSubmit={(event) => {
                  event.preventDefault();
                  createTimeline.mutate({
                    tenantId,
                    timelineId: newTimelineId.trim() || undefined,
                  });
                }}
              >
                <label>
                  new timeline id{" "}
                  <input
                    value={newTimelineId}
                    onChange={(e) => setNewTimelineId(e.target.value)}
                    placeholder="(random)"
                    size={36}
                    data-testid="create-timeline-id"
                  />
                </label>
                <button
                  type="submit"
                  disabled={createTimeline.isPending}
                  data-testid="create-timeline"
                >
                  Create timeline
                </button>
                <MutationStatus
                  mutation={createTimeline}
                  testId="create-timeline"
                  success={
                    createTimeline.data ? `created ${createTimeline.data.timelineId}` : undefined
                  }
                />
              </form>
              <BranchForm
                tenantId={tenantId}
                timelines={data.timelines}
                onCreated={() => void invalidate()}
              />
            </section>
            <section className="panel">
              <h2>Config</h2>
              <ConfigEditor
                tenantId={tenantId}
                config={data.config}
                onChanged={() => void invalidate()}
              />
            </section>
            <section className="panel">
              <h2>Reset</h2>
              <p className="muted small">
                Shuts the tenant down and loads it again from disk (open layers are flushed first);
                with the cache dropped, it is attached afresh from remote storage.
              </p>
              <div className="row">
                <ConfirmButton
                  label="Reset tenant"
                  question={`Reset tenant ${tenantId}? Page service connections to it are closed.`}
                  onConfirm={() => resetTenant.mutate({ tenantId })}
                  testId="reset-tenant"
                  danger={false}
                />
                <ConfirmButton
                  label="Reset, dropping the local copy"
                  question="Drop the local copy and attach again from remote storage?"
                  onConfirm={() => resetTenant.mutate({ tenantId, dropCache: true })}
                  testId="reset-tenant-drop-cache"
                />
                <MutationStatus
                  mutation={resetTenant}
                  testId="reset-tenant"
                  success={resetTenant.data ? `reset: ${resetTenant.data.state}` : undefined}
                />
              </div>
            </section>
            <section className="panel danger-zone">
              <h2>Delete</h2>
              <ConfirmButton
                label="Delete tenant"
                question={`Delete tenant ${tenantId} and all ${data.timelineCount} timelines?`}
                onConfirm={() => deleteTenant.mutate({ tenantId })}
                testId="delete-tenant"
              />
              <MutationStatus mutation={deleteTenant} testId="delete-tenant" success="deleted" />
            </section>
          </>
        ) : null}
      </QueryState>
    </div>
  );
}
