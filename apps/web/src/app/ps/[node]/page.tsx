/**
 * One pageserver: its tenants (with "create tenant"), eviction state and running tasks.
 */
import { notFound } from "next/navigation";
import { findNode } from "~/server/fleet";
import { NodeProvider } from "~/trpc/react";
import { NodeView } from "../../_components/node/node_view";

export const dynamic = "force-dynamic";

export default async function NodePage({ params }: { params: Promise<{ node: string }> }) {
  const { node } = await params;
  const entry = findNode(decodeURIComponent(node));
  if (!entry) notFound();
  return (
    <NodeProvider node={entry.name}>
      <NodeView node={entry.name} url={entry.url} />
    </NodeProvider>
  );
}
