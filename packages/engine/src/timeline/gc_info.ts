/**
 * What GC must respect on a timeline: LSN leases (promises not to GC the history at an LSN until
 * a deadline; in memory only, as in Neon), the planned cutoff of the last GC run, and the grace
 * period after attach during which GC holds off (leases were lost with the previous process).
 */
import type { Lsn } from "../lsn.ts";

export class GcInfo {
  /** LSN → valid until (ms since epoch). */
  private readonly leases = new Map<Lsn, number>();
  /** The cutoff the last GC computed (min of space and time cutoffs), or null before any. */
  plannedCutoff: Lsn | null = null;
  /** Until when GC must not run (attach time + lsn_lease_length). */
  leaseDeadlineMs = 0;

  /** Creates or extends a lease; returns its deadline (existing leases are only extended). */
  lease(lsn: Lsn, lengthMs: number, nowMs = Date.now()): number {
    const validUntil = nowMs + lengthMs;
    const existing = this.leases.get(lsn);
    const deadline = existing === undefined ? validUntil : Math.max(existing, validUntil);
    this.leases.set(lsn, deadline);
    return deadline;
  }

  hasLeaseAt(lsn: Lsn, nowMs = Date.now()): boolean {
    const deadline = this.leases.get(lsn);
    return deadline !== undefined && deadline > nowMs;
  }

  /** Valid leases, expired ones culled. */
  validLeases(nowMs = Date.now()): Array<{ lsn: Lsn; validUntilMs: number }> {
    const out: Array<{ lsn: Lsn; validUntilMs: number }> = [];
    for (const [lsn, deadline] of this.leases) {
      if (deadline <= nowMs) this.leases.delete(lsn);
      else out.push({ lsn, validUntilMs: deadline });
    }
    return out.sort((a, b) => a.lsn - b.lsn);
  }

  /** The highest leased LSN, or null. */
  maxLeaseLsn(nowMs = Date.now()): Lsn | null {
    let max: Lsn | null = null;
    for (const { lsn } of this.validLeases(nowMs)) if (max === null || lsn > max) max = lsn;
    return max;
  }
}
