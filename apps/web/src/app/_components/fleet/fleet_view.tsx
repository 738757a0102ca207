"use client";
/**
 * The fleet page's body: the node cards and the form that adds a pageserver (kept server-side
 * in the console's data directory, see src/server/fleet.ts).
 */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import type { FleetEntry } from "~/server/fleet";
import { NodeProvider } from "~/trpc/react";
import { MutationStatus } from "../ui/mutation_status";
import { NodeCard } from "./node_card";

async function fleetRequest(method: string, body?: unknown, query = ""): Promise<unknown> {
  const response = await fetch(`/api/fleet${query}`, {
    method,
    headers: body === undefined ? undefined : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = (await response.json()) as { error?: string };
  if (!response.ok) throw new Error(json.error ?? `HTTP ${response.status}`);
  return json;
}

export function useFleet(initial?: FleetEntry[]) {
  return useQuery({
    queryKey: ["fleet"],
    queryFn: async () => ((await fleetRequest("GET")) as { pageservers: FleetEntry[] }).pageservers,
    initialData: initial,
    refetchInterval: 10_000,
  });
}

export function FleetView({ initial }: { initial: FleetEntry[] }) {
  const fleet = useFleet(initial);
  const queryClient = useQueryClient();
  const [name, setName] = useState("");
  const [url, setUrl] = useState("http://127.0.0.1:9898");
  const add = useMutation({
    mutationFn: () => fleetRequest("POST", { name, url }),
    onSuccess: () => {
      setName("");
      void queryClient.invalidateQueries({ queryKey: ["fleet"] });
    },
  });
  const remove = useMutation({
    mutationFn: (node: string) =>
      fleetRequest("DELETE", undefined, `?name=${encodeURIComponent(node)}`),
    onSuccess: () => void queryClient.invalidateQueries({ queryKey: ["fleet"] }),
  });
  const entries = fleet.data ?? [];
  return (
    <div>
      <h1>Fleet</h1>
      {entries.length === 0 ? (
        <p className="muted">
          No pageservers yet. Start the console with{" "}
          <code>CONSOLE_PAGESERVERS=&quot;ps1=http://127.0.0.1:9898&quot;</code> or add one below.
        </p>
      ) : null}
      <div className="cards" data-testid="fleet">
        {entries.map((entry) => (
          <NodeProvider key={entry.name} node={entry.name}>
            <NodeCard
              entry={entry}
              onRemove={entry.source === "added" ? () => remove.mutate(entry.name) : undefined}
            />
          </NodeProvider>
        ))}
      </div>
      <MutationStatus mutation={remove} />
      <section className="panel">
        <h2>Add a pageserver</h2>
        <form
          className="row"
          onSubmit={(event) => {
            event.preventDefault();
            add.mutate();
          }}
        >
          <label>
            name{" "}
            <input
              value={name}
              onChange={(e) => setName(e.target.value)}
              placeholder="ps2"
              data-testid="add-node-name"
            />
          </label>
          <label>
            URL{" "}
            <input
              value={url}
              onChange={(e) => setUrl(e.target.value)}
              size={32}
              data-testid="add-node-url"
            />
          </label>
          <button type="submit" disabled={add.isPending} data-testid="add-node-submit">
            Add
          </button>
          <MutationStatus mutation={add} success="added" testId="add-node" />
        </form>
        <p className="muted small">
          Added pageservers are kept in the console&apos;s data directory (
          <code>CONSOLE_DATA_DIR</code>, <code>fleet.json</code>) and shown to every browser.
        </p>
      </section>
    </div>
  );
}
