"use client";
/**
 * The node page's body: status, the tenant list with "create tenant", eviction state per tenant
 * and the running tasks.
 */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useState } from "react";
import { formatDurationMs, formatTime } from "~/lib/format";
import { formatBytes } from "~/lib/lsn";
import { useTRPC } from "~/trpc/react";
import { MutationStatus, QueryState } from "../ui/mutation_status";
import { DiskBar } from "./disk_bar";

export function NodeView({ node, url }: { node: string; url: string }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const overview = useQuery(trpc.node.overview.queryOptions(undefined, { refetchInterval: 2000 }));
  const tenants = useQuery(trpc.tenant.list.queryOptions(undefined, { refetchInterval: 3000 }));
  const eviction = useQuery(trpc.eviction.state.queryOptions(undefined, { refetchInterval: 5000 }));
  const tasks = useQuery(trpc.node.tasks.queryOptions(undefined, { refetchInterval: 5000 }));
  const [tenantId, setTenantId] = useState("");
  const [config, setConfig] = useState("");
  const [configError, setConfigError] = useState<string | null>(null);
  const create = useMutation(
    trpc.tenant.create.mutationOptions({
      onSuccess: () => {
        setTenantId("");
        void queryClient.invalidateQueries({ queryKey: trpc.tenant.list.queryKey() });
      },
    }),
  );
  const submit = () => {
    let parsedConfig: Record<string, unknown> | undefined;
    if (config.trim() !== "") {
      try {
        parsedConfig = JSON.parse(config) as Record<string, unknown>;
      } catch (error) {
        create.reset();
        setConfigError(`the config overrides are not JSON: ${(error as Error).message}`);
        return;
      }
    }
    setConfigError(null);
    create.mutate({ tenantId: tenantId.trim() || undefined, config: parsedConfig });
  };
  const policyOf = new Map((eviction.data?.tenants ?? []).map((t) => [t.tenantId, t.policy]));
  return (
    <div>
      <p className="crumbs">
        <Link href="/">Fleet</Link> / {node}
      </p>
      <h1>
        Pageserver {node} <span className="muted small mono">{url}</span>
      </h1>
      <QueryState query={overview} what="the node's status">
        {overview.data ? (
          <div className="panel">
            <span>node id {overview.data.nodeId}</span> ·{" "}
            <span>up {formatDurationMs(overview.data.uptimeMs)}</span> ·{" "}
            <span className="mono">http {overview.data.listen.http}</span> ·{" "}
            <span className="mono">pg {overview.data.listen.pg}</span>
            <DiskBar disk={overview.data.disk} />
          </div>
        ) : null}
      </QueryState>

      <section className="panel">
        <h2>Tenants</h2>
        <QueryState query={tenants} what="tenants">
          <table className="table" data-testid="tenant-table">
            <thead>
              <tr>
                <th>tenant</th>
                <th>state</th>
                <th>generation</th>
                <th>timelines</th>
                <th>layers</th>
                <th>resident</th>
                <th>eviction policy</th>
              </tr>
            </thead>
            <tbody>
              {(tenants.data ?? []).map((tenant) => (
                <tr key={tenant.tenantId} data-testid={`tenant-row-${tenant.tenantId}`}>
                  <td className="mono">
                    <Link href={`/ps/${encodeURIComponent(node)}/tenants/${tenant.tenantId}`}>
                      {tenant.tenantId}
                    </Link>
                  </td>
                  <td>
                    {tenant.state}
                    {tenant.brokenReason ? (
                      <span className="error-text"> ({tenant.brokenReason})</span>
                    ) : null}
                  </td>
                  <td>{tenant.generation ?? "none"}</td>
                  <td>{tenant.timelineCount}</td>
                  <td>{tenant.layerCount}</td>
                  <td>{formatBytes(tenant.physicalSizeBytes)}</td>
                  <td className="small">{policyOf.get(tenant.tenantId)?.kind ?? "–"}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {tenants.data?.length === 0 ? (
            <p className="muted">No tenants on this pageserver.</p>
          ) : null}
        </QueryState>
        <form
          className="row"
          onSubmit={(event) => {
            event.preventDefault();
            submit();
          }}
        >
          <label>
            tenant id{" "}
            <input
              value={tenantId}
              onChange={(e) => setTenantId(e.target.value)}
              placeholder="(random)"
              size={36}
              data-testid="create-tenant-id"
            />
          </label>
          <label>
            config overrides (JSON){" "}
            <input
              value={config}
              onChange={(e) => setConfig(e.target.value)}
              placeholder='{"checkpoint_distance": 8388608}'
              size={36}
              data-testid="create-tenant-config"
            />
          </label>
          <button type="submit" disabled={create.isPending} data-testid="create-tenant">
            Create tenant
          </button>
          <MutationStatus
            mutation={create}
            testId="create-tenant"
            success={create.data ? `created ${create.data.tenantId}` : undefined}
          />
          {configError ? (
            <span className="status error" role="alert">
              {configError}
            </span>
          ) : null}
        </form>
      </section>

      <section className="panel">
        <h2>Eviction</h2>
        <QueryState query={eviction} what="eviction state">
          {eviction.data ? (
            <p>
              resident {formatBytes(eviction.data.residentBytes)} · remote{" "}
              {eviction.data.remoteStorage
                ? formatBytes(eviction.data.remoteBytes ?? 0)
                : "no remote storage configured"}
            </p>
          ) : null}
        </QueryState>
      </section>

      <section className="panel">
        <h2>Tasks</h2>
        <QueryState query={tasks} what="tasks">
          {(tasks.data ?? []).length === 0 ? (
            <p className="muted">No background tasks running.</p>
          ) : (
            <table className="table">
              <tbody>
                {(tasks.data ?? []).map((task) => (
                  <tr key={task.id}>
                    <td>{task.kind}</td>
                    <td>{task.name}</td>
                    <td className="mono small">{task.tenantId ?? ""}</td>
                    <td>since {formatTime(task.startedAtMs)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </QueryState>
      </section>
    </div>
  );
}
