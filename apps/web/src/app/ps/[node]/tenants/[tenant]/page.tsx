/**
 * One tenant: the branch tree of its timelines, its config (overrides and effective values),
 * and its operations.
 */
import { notFound } from "next/navigation";
import { findNode } from "~/server/fleet";
import { NodeProvider } from "~/trpc/react";
import { TenantView } from "../../../../_components/tenant/tenant_view";

export const dynamic = "force-dynamic";

export default async function TenantPage({
  params,
}: {
  params: Promise<{ node: string; tenant: string }>;
}) {
  const { node, tenant } = await params;
  const entry = findNode(decodeURIComponent(node));
  if (!entry) notFound();
  return (
    <NodeProvider node={entry.name}>
      <TenantView node={entry.name} tenantId={tenant} />
    </NodeProvider>
  );
}
