/**
 * GC blocking (Neon's `gc_blocking`): an operator (or, in Neon, ancestor detach) can stop GC of
 * a tenant for a while, so that no history goes away during an investigation or a migration. A
 * timeline holds the block; while any timeline of the tenant holds one, every GC iteration of
 * the tenant is skipped (Neon answers do_gc with zero counts then).
 *
 * The block is durable: kept in the timeline's `gc_blocking.json` (absent = not blocked) and, as
 * Neon does, in the `gc_blocking` field of index_part.json, so a tenant attached elsewhere stays
 * blocked.
 */
import { z } from "zod";
import { loadJsonState, saveJsonState } from "../io/json_state_file.ts";

export const GC_BLOCK_REASONS = ["Manual", "DetachAncestor"] as const;
export type GcBlockReason = (typeof GC_BLOCK_REASONS)[number];

/** Neon's index_part `gc_blocking` value. */
export interface GcBlocking {
  /** RFC 3339, when the first reason was added. */
  readonly started_at: string;
  readonly reasons: readonly GcBlockReason[];
}

export const gcBlockingSchema = z.object({
  started_at: z.string(),
  reasons: z.array(z.enum(GC_BLOCK_REASONS)),
});

export const GC_BLOCKING_FILE_NAME = "gc_blocking.json";

/** `blocking` with `reason` added (or null when it was there already: nothing changes). */
export function withReason(blocking: GcBlocking | null, reason: GcBlockReason): GcBlocking | null {
  if (blocking?.reasons.includes(reason)) return null;
  return {
    started_at: blocking?.started_at ?? new Date().toISOString(),
    reasons: [...(blocking?.reasons ?? []), reason],
  };
}

/** `blocking` without `reason`: undefined when it did not hold it, null when none are left. */
export function withoutReason(
  blocking: GcBlocking | null,
  reason: GcBlockReason,
): GcBlocking | null | undefined {
  if (!blocking?.reasons.includes(reason)) return undefined;
  const reasons = blocking.reasons.filter((r) => r !== reason);
  return reasons.length === 0 ? null : { ...blocking, reasons };
}

export function loadGcBlocking(timelineDirectory: string): GcBlocking | null {
  return loadJsonState(timelineDirectory, GC_BLOCKING_FILE_NAME, gcBlockingSchema);
}

export async function saveGcBlocking(
  timelineDirectory: string,
  blocking: GcBlocking | null,
): Promise<void> {
  await saveJsonState(timelineDirectory, GC_BLOCKING_FILE_NAME, blocking);
}

/** Neon's tenant-level summary, as its tenant list shows it (a Rust Debug string). */
export function gcBlockingSummary(blockings: readonly (GcBlocking | null)[]): string | null {
  const held = blockings.filter((b): b is GcBlocking => b !== null);
  if (held.length === 0) return null;
  const reasons = GC_BLOCK_REASONS.filter((reason) => held.some((b) => b.reasons.includes(reason)));
  return `BlockingReasons { timelines: ${held.length}, reasons: EnumSet(${reasons.join(" | ")}) }`;
}
