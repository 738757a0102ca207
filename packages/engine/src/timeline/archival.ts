/**
 * Timeline archival (Neon's `archival_config`): an archived timeline is one its user no longer
 * reads or writes — a branch kept for the record. It stays readable here, but no new branch may
 * start from it, and it may be archived only when all its children are archived (a live child
 * reads through it). Kept in the timeline's `archival.json` and, as Neon does, in index_part's
 * `archived_at` (a chrono NaiveDateTime: ISO 8601 without a zone).
 */
import { z } from "zod";
import { PreconditionError } from "../errors.ts";
import { loadJsonState, saveJsonState } from "../io/json_state_file.ts";

export type ArchivalState = "Archived" | "Unarchived";

const ARCHIVAL_FILE_NAME = "archival.json";
const archivalSchema = z.object({ archived_at: z.string() });

/** When the timeline was archived, or null. */
export function loadArchivedAt(timelineDirectory: string): string | null {
  return loadJsonState(timelineDirectory, ARCHIVAL_FILE_NAME, archivalSchema)?.archived_at ?? null;
}

export async function saveArchivedAt(
  timelineDirectory: string,
  archivedAt: string | null,
): Promise<void> {
  await saveJsonState(
    timelineDirectory,
    ARCHIVAL_FILE_NAME,
    archivedAt === null ? null : { archived_at: archivedAt },
  );
}

/** Now as a NaiveDateTime text, as Neon writes `archived_at`. */
export function naiveUtcNow(): string {
  return new Date().toISOString().replace("Z", "");
}

/** What applying an archival state needs of the tenant: the timeline's children. */
export interface ArchivalTimeline {
  readonly timelineId: string;
  readonly ancestor: ArchivalTimeline | null;
  readonly archivedAt: string | null;
  setArchived(archived: boolean): Promise<boolean>;
}

/**
 * Neon's apply_timeline_archival_config: archiving needs every child archived first (a live
 * child reads through its ancestor); unarchiving needs the ancestor unarchived. Idempotent.
 */
export async function applyArchivalState(
  timeline: ArchivalTimeline,
  children: readonly ArchivalTimeline[],
  state: ArchivalState,
): Promise<boolean> {
  if (state === "Archived") {
    const live = children.filter((child) => child.archivedAt === null);
    if (live.length > 0)
      throw new PreconditionError(
        `cannot archive timeline ${timeline.timelineId}: it has unarchived child timelines ${live.map((c) => c.timelineId).join(", ")}`,
        { timelineId: timeline.timelineId },
      );
    return timeline.setArchived(true);
  }
  const ancestor = timeline.ancestor;
  if (ancestor !== null && ancestor.archivedAt !== null)
    throw new PreconditionError(
      `cannot unarchive timeline ${timeline.timelineId}: its ancestor ${ancestor.timelineId} is archived`,
      { timelineId: timeline.timelineId },
    );
  return timeline.setArchived(false);
}
