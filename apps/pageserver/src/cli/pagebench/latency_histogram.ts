/**
 * A latency histogram for pagebench, in the spirit of Neon's HDR histogram (1 µs to 1000 s):
 * log-linear buckets — each power of two of microseconds split into 128 sub-buckets — so a
 * recorded value is off by at most 1/128 (0.8 %) of itself, memory is fixed (40 × 128 counters)
 * and recording is a few arithmetic operations with no allocation. Per-client histograms merge by
 * adding counters, so clients never share state while running.
 *
 * Percentiles report the midpoint of the bucket holding the wanted rank; the mean is exact
 * (kept as a running sum).
 */

/** Sub-buckets per power of two: the relative resolution is 1 / SUB_BUCKETS. */
const SUB_BUCKETS = 128;
const SUB_BUCKET_BITS = 7;
/** Powers of two of µs covered: 2^0 .. 2^40 µs ≈ 12.7 days, well past Neon's 1000 s. */
const OCTAVES = 40;
/** Values are clamped into [LOWEST_US, HIGHEST_US], as an HDR histogram's bounds clamp. */
const LOWEST_US = 1;
const HIGHEST_US = 1_000_000_000;

export class LatencyHistogram {
  private readonly counts = new Float64Array(OCTAVES * SUB_BUCKETS);
  private total = 0;
  private sumUs = 0;
  private minUs = Number.POSITIVE_INFINITY;
  private maxUs = 0;

  get count(): number {
    return this.total;
  }

  /** Records one latency in microseconds. */
  record(latencyUs: number): void {
    const us = latencyUs < LOWEST_US ? LOWEST_US : latencyUs > HIGHEST_US ? HIGHEST_US : latencyUs;
    this.counts[bucketOf(us)]!++;
    this.total++;
    this.sumUs += us;
    if (us < this.minUs) this.minUs = us;
    if (us > this.maxUs) this.maxUs = us;
  }

  /** Adds another histogram's counts into this one. */
  merge(other: LatencyHistogram): void {
    for (let i = 0; i < this.counts.length; i++) this.counts[i]! += other.counts[i]!;
    this.total += other.total;
    this.sumUs += other.sumUs;
    if (other.minUs < this.minUs) this.minUs = other.minUs;
    if (other.maxUs > this.maxUs) this.maxUs = other.maxUs;
  }

  meanUs(): number {
    return this.total === 0 ? 0 : this.sumUs / this.total;
  }

  minimumUs(): number {
    return this.total === 0 ? 0 : this.minUs;
  }

  maximumUs(): number {
    return this.maxUs;
  }

  /** The latency at quantile `q` (0 < q ≤ 1) in µs; 0 for an empty histogram. */
  percentileUs(q: number): number {
    if (this.total === 0) return 0;
    // The rank of the q-quantile, 1-based, as HDR histograms count it.
    const rank = Math.max(1, Math.ceil(q * this.total));
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) {
        const mid = bucketMidpoint(i);
        // The midpoint may lie outside what was seen; never report beyond the extremes.
        return Math.min(this.maxUs, Math.max(this.minUs, mid));
      }
    }
    return this.maxUs;
  }
}

function bucketOf(us: number): number {
  // us ≥ 1: octave = floor(log2(us)), then the top SUB_BUCKET_BITS of the mantissa.
  let octave = Math.min(OCTAVES - 1, Math.floor(Math.log2(us)));
  // log2 may round up just below a power of two.
  if (2 ** octave > us) octave--;
  const base = 2 ** octave;
  const sub = Math.min(SUB_BUCKETS - 1, Math.floor(((us - base) / base) * SUB_BUCKETS));
  return (octave << SUB_BUCKET_BITS) | sub;
}

function bucketMidpoint(index: number): number {
  const octave = index >>> SUB_BUCKET_BITS;
  const sub = index & (SUB_BUCKETS - 1);
  const base = 2 ** octave;
  return base + ((sub + 0.5) * base) / SUB_BUCKETS;
}

/**
 * A duration in humantime's text form, as Neon's pagebench serialises latencies
 * (`humantime_serde`): the non-zero units from largest to smallest, e.g. `1ms 234us 567ns`.
 */
export function formatHumantime(microseconds: number): string {
  let ns = Math.round(microseconds * 1000);
  if (ns <= 0) return "0s";
  const units: Array<[string, number]> = [
    ["h", 3_600_000_000_000],
    ["m", 60_000_000_000],
    ["s", 1_000_000_000],
    ["ms", 1_000_000],
    ["us", 1000],
    ["ns", 1],
  ];
  const parts: string[] = [];
  for (const [unit, size] of units) {
    if (ns < size) continue;
    const amount = Math.floor(ns / size);
    ns -= amount * size;
    parts.push(`${amount}${unit}`);
  }
  return parts.join(" ");
}
