/**
 * What pagebench reads pages from: a timeline's keyspace (`GET …/keyspace`, Neon's shape
 * `{keys: [[start, end]…], sparse_keys, at_lsn}`) reduced to runs of relation blocks, and a
 * sampler that picks a block with probability proportional to run length, so every relation block
 * of the keyspace is equally likely (Neon's pagebench weights its key ranges by size the same way).
 *
 * A keyspace range may cross relation boundaries (a fork's size key is adjacent to the next
 * fork's block 0, and ranges are merged when adjacent), so each range is cut at every
 * relation-and-fork prefix it crosses; only relation block keys (field1 0, relnode ≠ 0, block ≠
 * 0xFFFFFFFF) are kept. Walking prefixes is bounded: a range spanning more prefixes than
 * `PREFIXES_PER_RANGE_MAX` is not a keyspace a pageserver reports and is refused.
 */
import {
  type Key,
  keyField1,
  keyField2,
  keyField3,
  keyField4,
  keyField5,
  keyField6,
  type Lsn,
  parseKey,
  parseLsn,
  type RelTag,
  seededRandom,
} from "@pageserver/engine";
import { CliError } from "../cli_support.ts";

const REL_SIZE_BLOCK = 0xffff_ffff;
const PREFIXES_PER_RANGE_MAX = 100_000;

export interface KeyspaceJson {
  readonly at_lsn: string;
  readonly keys: ReadonlyArray<readonly [string, string]>;
  readonly sparse_keys?: unknown;
}

/** Blocks [startBlock, endBlock) of one relation fork. */
export interface BlockRun {
  readonly rel: RelTag;
  readonly startBlock: number;
  readonly endBlock: number;
}

export interface RelationBlocks {
  readonly atLsn: Lsn;
  readonly runs: readonly BlockRun[];
  readonly blocks: number;
}

interface Prefix {
  f1: number;
  f2: number;
  f3: number;
  f4: number;
  f5: number;
}

function prefixOf(key: Key): Prefix {
  return {
    f1: keyField1(key),
    f2: keyField2(key),
    f3: keyField3(key),
    f4: keyField4(key),
    f5: keyField5(key),
  };
}

function samePrefix(a: Prefix, b: Prefix): boolean {
  return a.f1 === b.f1 && a.f2 === b.f2 && a.f3 === b.f3 && a.f4 === b.f4 && a.f5 === b.f5;
}

/** The next prefix in key order (field5 is a byte, fields 2–4 are u32). */
function nextPrefix(p: Prefix): Prefix | null {
  if (p.f5 < 0xff) return { ...p, f5: p.f5 + 1 };
  if (p.f4 < 0xffff_ffff) return { ...p, f4: p.f4 + 1, f5: 0 };
  if (p.f3 < 0xffff_ffff) return { ...p, f3: p.f3 + 1, f4: 0, f5: 0 };
  if (p.f2 < 0xffff_ffff) return { ...p, f2: p.f2 + 1, f3: 0, f4: 0, f5: 0 };
  if (p.f1 < 0xff) return { f1: p.f1 + 1, f2: 0, f3: 0, f4: 0, f5: 0 };
  return null;
}

function isRelationPrefix(p: Prefix): boolean {
  return p.f1 === 0 && p.f4 !== 0;
}

/** Cuts [start, end) into relation block runs, appending them to `runs`. */
function addRange(start: Key, end: Key, runs: BlockRun[], where: string): void {
  const endPrefix = prefixOf(end);
  let prefix: Prefix | null = prefixOf(start);
  let fromBlock = keyField6(start);
  for (let walked = 0; prefix !== null; walked++) {
    if (walked > PREFIXES_PER_RANGE_MAX) {
      throw new CliError(`${where}: key range ${start}..${end} spans too many relations`);
    }
    // Relation keys have field1 0; past them nothing is a relation block.
    if (prefix.f1 > 0) return;
    const last = samePrefix(prefix, endPrefix);
    const toBlock = Math.min(last ? keyField6(end) : REL_SIZE_BLOCK, REL_SIZE_BLOCK);
    if (isRelationPrefix(prefix) && toBlock > fromBlock) {
      runs.push({
        rel: { spcNode: prefix.f2, dbNode: prefix.f3, relNode: prefix.f4, forkNum: prefix.f5 },
        startBlock: fromBlock,
        endBlock: toBlock,
      });
    }
    if (last) return;
    prefix = nextPrefix(prefix);
    fromBlock = 0;
  }
}

/** The relation block runs of a keyspace answer; errors name `where` (the URL or file). */
export function relationBlocks(json: KeyspaceJson, where: string): RelationBlocks {
  if (typeof json !== "object" || json === null || !Array.isArray(json.keys)) {
    throw new CliError(`${where}: not a keyspace (expected {keys: [[start, end]…], at_lsn})`);
  }
  let atLsn: Lsn;
  try {
    atLsn = parseLsn(json.at_lsn);
  } catch (error) {
    throw new CliError(`${where}: at_lsn: ${(error as Error).message}`);
  }
  const runs: BlockRun[] = [];
  for (const range of json.keys) {
    let start: Key;
    let end: Key;
    try {
      start = parseKey(range[0]);
      end = parseKey(range[1]);
    } catch (error) {
      throw new CliError(`${where}: ${(error as Error).message}`);
    }
    if (end <= start) continue;
    addRange(start, end, runs, where);
  }
  let blocks = 0;
  for (const run of runs) blocks += run.endBlock - run.startBlock;
  return { atLsn, runs, blocks };
}

/** Picks relation blocks uniformly over all blocks of the runs (weighted by run length). */
export class BlockSampler {
  private readonly runs: readonly BlockRun[];
  /** cumulative[i] = blocks in runs[0..i]. */
  private readonly cumulative: Float64Array;
  readonly blocks: number;
  private readonly random: () => number;

  constructor(runs: readonly BlockRun[], random: () => number) {
    if (runs.length === 0) throw new CliError("no relation blocks to read");
    this.runs = runs;
    this.random = random;
    this.cumulative = new Float64Array(runs.length);
    let total = 0;
    runs.forEach((run, index) => {
      total += run.endBlock - run.startBlock;
      this.cumulative[index] = total;
    });
    this.blocks = total;
  }

  /** A random block; `out` is filled (no allocation per pick). */
  pick(out: { run: BlockRun; block: number }): void {
    const target = Math.floor(this.random() * this.blocks);
    // The first run whose cumulative count exceeds target.
    let low = 0;
    let high = this.cumulative.length - 1;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (this.cumulative[mid]! > target) high = mid;
      else low = mid + 1;
    }
    const run = this.runs[low]!;
    const before = low === 0 ? 0 : this.cumulative[low - 1]!;
    out.run = run;
    out.block = run.startBlock + (target - before);
  }
}

/** Reproducible request sequences with `--seed`. */
export { seededRandom };
