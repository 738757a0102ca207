/**
 * Fleet: every pageserver the console knows, each with its health, counts, disk usage against
 * the eviction thresholds, GetPage p50/p99 and ingest rate; pageservers can be added here.
 */

import { listFleet } from "~/server/fleet";
import { FleetView } from "./_components/fleet/fleet_view";

export const dynamic = "force-dynamic";

export default function FleetPage() {
  return <FleetView initial={listFleet()} />;
}
