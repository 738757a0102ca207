/**
 * One timeline: the LSN bar, the live layer map, compaction levels, GetPage latency, ingest
 * rate, GC results, and its operations.
 */
import { notFound } from "next/navigation";
import { findNode } from "~/server/fleet";
import { NodeProvider } from "~/trpc/react";
import { TimelineView } from "../../../../../../_components/timeline/timeline_view";

export const dynamic = "force-dynamic";

export default async function TimelinePage({
  params,
}: {
  params: Promise<{ node: string; tenant: string; timeline: string }>;
}) {
  const { node, tenant, timeline } = await params;
  const entry = findNode(decodeURIComponent(node));
  if (!entry) notFound();
  return (
    <NodeProvider node={entry.name}>
      <TimelineView node={entry.name} tenantId={tenant} timelineId={timeline} />
    </NodeProvider>
  );
}
