/**
 * Workloads for the compaction simulator (Neon's `compaction-simulator simulate`, reference §5):
 * `uniform` writes records to random keys of the whole keyspace; `hot-cold` sends 90 % of them to
 * the first 10 % of the keys. The keyspace is the logical size in 8 KiB pages. Randomness comes
 * from a seeded generator, so `(seed, parameters)` replays a run exactly.
 */
import { assert } from "../../assert.ts";
import {
  MOCK_KEY_MAX,
  MockTimeline,
  type MockTimelineOptions,
  type SimulatorStats,
} from "./mock_timeline.ts";
import { SIMULATOR_PAGE_BYTES } from "./tiered.ts";

export const DISTRIBUTIONS = ["uniform", "hot-cold"] as const;
export type Distribution = (typeof DISTRIBUTIONS)[number];

/** Share of the writes that go to the hot keys, and the hot share of the keyspace. */
const HOT_WRITE_SHARE = 0.9;
const HOT_KEY_SHARE = 0.1;

/** A seeded PRNG (mulberry32): 32 random bits per call, deterministic per seed. */
export class SimulatorRng {
  private state: number;

  constructor(seed: number) {
    assert(Number.isInteger(seed), `seed ${seed} must be an integer`);
    this.state = seed >>> 0;
  }

  /** A uniform number in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** A uniform integer in [start, end), exact for spans up to 2^53 (two draws when needed). */
  integer(start: number, end: number): number {
    const span = end - start;
    assert(span >= 1, `empty range ${start}..${end}`);
    if (span <= 0x1_0000_0000) return start + Math.floor(this.next() * span);
    const wide = Math.floor(this.next() * 0x20_0000) * 0x1_0000_0000 + this.next() * 0x1_0000_0000;
    return start + Math.floor((wide / 2 ** 53) * span);
  }
}

export interface SimulationOptions {
  readonly distribution: Distribution;
  readonly records: number;
  readonly recordLengthBytes: number;
  /** Logical database size in MiB (Neon: "MB" = 2^20 bytes): the keyspace is that in pages. */
  readonly logicalSizeMb: number;
  readonly seed: number;
  readonly timeline?: MockTimelineOptions;
  /** Called every `progressEvery` records with the number ingested so far. */
  readonly onProgress?: (ingested: number) => void;
  readonly progressEvery?: number;
}

export interface SimulationResult {
  readonly timeline: MockTimeline;
  readonly stats: SimulatorStats;
  readonly keyspaceKeys: number;
}

/** The keyspace of a logical size: [0, size / 8 KiB). */
export function keyspaceOf(logicalSizeMb: number): { start: number; end: number } {
  const keys = Math.floor((logicalSizeMb * 1024 * 1024) / SIMULATOR_PAGE_BYTES);
  assert(keys >= 1 && keys < MOCK_KEY_MAX, `logical size ${logicalSizeMb} MB gives ${keys} keys`);
  return { start: 0, end: keys };
}

/**
 * Runs one simulation: ingest, compacting after every `tiersPerLevel` flushes; at the end flush
 * the rest and compact once more if due, as Neon's simulator does.
 */
export function simulate(options: SimulationOptions): SimulationResult {
  const { records, recordLengthBytes } = options;
  assert(Number.isSafeInteger(records) && records >= 0, `bad record count ${records}`);
  assert(Number.isSafeInteger(recordLengthBytes) && recordLengthBytes >= 1, "bad record length");
  const timeline = new MockTimeline(options.timeline);
  const rng = new SimulatorRng(options.seed);
  const keyspace = keyspaceOf(options.logicalSizeMb);
  timeline.addKeyRange(keyspace);
  const split = Math.max(
    keyspace.start + 1,
    Math.floor(keyspace.start + (keyspace.end - keyspace.start) * HOT_KEY_SHARE),
  );
  const hotCold = options.distribution === "hot-cold" && split < keyspace.end;
  const progressEvery = options.progressEvery ?? 100_000;
  for (let i = 0; i < records; i++) {
    let key: number;
    if (!hotCold) key = rng.integer(keyspace.start, keyspace.end);
    else if (rng.next() < HOT_WRITE_SHARE) key = rng.integer(keyspace.start, split);
    else key = rng.integer(split, keyspace.end);
    timeline.ingestRecord(key, recordLengthBytes);
    timeline.compactIfNeeded();
    if (options.onProgress && (i + 1) % progressEvery === 0) options.onProgress(i + 1);
  }
  timeline.flushL0();
  timeline.compactIfNeeded();
  return { timeline, stats: timeline.stats(), keyspaceKeys: keyspace.end - keyspace.start };
}
