/**
 * Time → LSN, from the commit timestamps the CLOG carries: each CLOG page ends with the timestamp
 * of the last commit applied to it (Neon's trailer), so "the newest commit time at LSN L" is the
 * trailer of the newest CLOG page at L. It only grows with L, so a binary search over LSNs finds
 * the last LSN whose newest commit is at or before a time (Neon's find_lsn_for_timestamp).
 */
import { getOptional, listSlruSegments, slruSegmentSize } from "../datadir/datadir_reader.ts";
import { slruBlockKey } from "../key/key.ts";
import { SlruKind } from "../key/rel_tag.ts";
import { LSN_ALIGNMENT, type Lsn } from "../lsn.ts";
import { BLCKSZ } from "../redo/pg_constants.ts";
import type { Timeline } from "../timeline/timeline.ts";
import { fromPostgresTimestamp } from "../wal_generator/wal_generator.ts";

export type LsnForTimestamp =
  | { kind: "present"; lsn: Lsn }
  | { kind: "future"; lsn: Lsn }
  | { kind: "past"; lsn: Lsn }
  | { kind: "nodata"; lsn: Lsn };

/** The newest commit time (ms since epoch) visible at `lsn`, or null. */
export async function newestCommitTimeAt(timeline: Timeline, lsn: Lsn): Promise<number | null> {
  const segments = await listSlruSegments(timeline, SlruKind.Clog, lsn);
  if (segments.length === 0) return null;
  const segno = Math.max(...segments);
  const nblocks = await slruSegmentSize(timeline, SlruKind.Clog, segno, lsn);
  for (let block = nblocks - 1; block >= 0; block--) {
    const page = await getOptional(timeline, slruBlockKey(SlruKind.Clog, segno, block), lsn);
    if (page && page.length === BLCKSZ + 8)
      return fromPostgresTimestamp(Number(page.readBigInt64BE(BLCKSZ)));
  }
  return null;
}

export async function findLsnForTimestamp(
  timeline: Timeline,
  timestampMs: number,
): Promise<LsnForTimestamp> {
  const lowest = Math.max(
    timeline.initdbLsn,
    timeline.latestGcCutoffLsn,
    timeline.ancestorLsn,
  ) as Lsn;
  const highest = timeline.lastRecordLsn;
  const newest = await newestCommitTimeAt(timeline, highest);
  if (newest === null) return { kind: "nodata", lsn: lowest };
  if (newest <= timestampMs) return { kind: "future", lsn: highest };
  const oldest = await newestCommitTimeAt(timeline, lowest);
  if (oldest !== null && oldest > timestampMs) return { kind: "past", lsn: lowest };
  // Invariant: time(low) ≤ timestamp (or unknown) and time(high) > timestamp.
  let low = Math.floor(lowest / LSN_ALIGNMENT);
  let high = Math.floor(highest / LSN_ALIGNMENT);
  while (high - low > 1) {
    const mid = Math.floor((low + high) / 2);
    const time = await newestCommitTimeAt(timeline, (mid * LSN_ALIGNMENT) as Lsn);
    if (time === null || time <= timestampMs) low = mid;
    else high = mid;
  }
  const found = (low * LSN_ALIGNMENT) as Lsn;
  // No commit at or before the time at all: it is before the first commit.
  if ((await newestCommitTimeAt(timeline, found)) === null) return { kind: "past", lsn: lowest };
  return { kind: "present", lsn: found };
}
