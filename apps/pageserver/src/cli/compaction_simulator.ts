/**
 * `compaction-simulator` — Neon's compaction simulator CLI (reference §5), over the engine's
 * simulator (`packages/engine/src/compaction/simulator`): a mock timeline ingests records, flushes
 * L0s and runs tiered compaction with the engine's level identification; the run reports write
 * and storage amplification and can write an HTML page replaying the layers step by step.
 *
 *     compaction-simulator simulate <uniform|hot-cold> <records> <record_len> <logical_MB>
 *                          [--html out.html] [--seed N] [--target-file-size 256MiB]
 *                          [--fanout 4] [--json]
 *     compaction-simulator run-suite [--out DIR] [--seed N]
 *
 * `run-suite` runs Neon's suite (20 M records of 1000 B, 5000 MB logical; we add the hot-cold
 * variant) into `compaction-suite-results.<unix time>/<workload>/{stats.txt,
 * compaction-animation.html}`. Exit codes: 0 ok, 1 failure, 2 bad usage.
 *
 * Run: `node --import tsx apps/pageserver/src/cli/compaction_simulator.ts simulate …`.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import {
  DISTRIBUTIONS,
  type Distribution,
  formatSimulatorStats,
  renderReplayHtml,
  type SimulationOptions,
  type SimulationResult,
  simulate,
} from "../../../../packages/engine/src/compaction/simulator/index.ts";
import { parseBytes, parseCliArgs, parseCount, runCli, UsageError } from "./cli_support.ts";

const USAGE = `usage:
  compaction-simulator simulate <uniform|hot-cold> <records> <record_len> <logical_MB>
                       [--html out.html] [--seed N] [--target-file-size 256MiB] [--fanout 4] [--json]
  compaction-simulator run-suite [--out DIR] [--seed N]`;

const SIMULATE_OPTIONS = {
  html: { type: "string" },
  seed: { type: "string", default: "1" },
  "target-file-size": { type: "string", default: "256MiB" },
  fanout: { type: "string", default: "4" },
  json: { type: "boolean", default: false },
} as const;

/** Neon's suite: 20 GB of WAL over a 5 GB database. */
const SUITE_RECORDS = 20_000_000;
const SUITE_RECORD_LENGTH_BYTES = 1000;
const SUITE_LOGICAL_SIZE_MB = 5000;

function progress(total: number, recordLength: number): ((ingested: number) => void) | undefined {
  if (!process.stderr.isTTY) return undefined;
  const mb = (records: number) => Math.floor((records * recordLength) / 1_000_000);
  return (ingested) => {
    process.stderr.write(
      `\ringested ${ingested} / ${total} records, ${mb(ingested)} MB / ${mb(total)} MB...`,
    );
    if (ingested === total) process.stderr.write("\n");
  };
}

function runSimulation(options: SimulationOptions): SimulationResult {
  return simulate({
    ...options,
    onProgress: progress(options.records, options.recordLengthBytes),
    progressEvery: 100_000,
  });
}

function replayHtml(title: string, result: SimulationResult): string {
  return renderReplayHtml({
    title,
    layers: result.timeline.layers,
    steps: result.timeline.steps,
    stats: result.stats,
    keyspaceEnd: result.keyspaceKeys,
  });
}

async function simulateCommand(args: string[]): Promise<void> {
  const { values, positionals } = parseCliArgs(args, SIMULATE_OPTIONS, { min: 4, max: 4 });
  const [distribution, recordsText, lengthText, logicalText] = positionals;
  if (!DISTRIBUTIONS.includes(distribution as Distribution)) {
    throw new UsageError(`distribution must be uniform or hot-cold, got '${distribution}'`);
  }
  const options: SimulationOptions = {
    distribution: distribution as Distribution,
    records: parseCount(recordsText, "records"),
    recordLengthBytes: parseCount(lengthText, "record_len", 1),
    logicalSizeMb: parseCount(logicalText, "logical_MB", 1),
    seed: parseCount(values.seed as string, "--seed"),
    timeline: {
      targetFileSizeBytes: parseBytes(values["target-file-size"] as string, "--target-file-size"),
      tiersPerLevel: parseCount(values.fanout as string, "--fanout", 1),
    },
  };
  if ((options.timeline?.targetFileSizeBytes ?? 0) < 1) {
    throw new UsageError("--target-file-size must be at least 1 byte");
  }
  const title = `${distribution}: ${options.records} records × ${options.recordLengthBytes} B, ${options.logicalSizeMb} MB logical`;
  process.stderr.write(`starting simulation: ${title}, seed ${options.seed}\n`);
  const result = runSimulation(options);
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ workload: title, ...result.stats })}\n`);
  } else {
    process.stdout.write(`${formatSimulatorStats(result.stats)}\n`);
  }
  if (typeof values.html === "string") {
    writeFileSync(values.html, replayHtml(title, result));
    process.stderr.write(`animation: file://${path.resolve(values.html)}\n`);
  }
}

async function runSuiteCommand(args: string[]): Promise<void> {
  const { values } = parseCliArgs(
    args,
    { out: { type: "string" }, seed: { type: "string", default: "1" } },
    { min: 0, max: 0 },
  );
  const seed = parseCount(values.seed as string, "--seed");
  const top =
    (values.out as string | undefined) ??
    `compaction-suite-results.${Math.floor(Date.now() / 1000)}`;
  mkdirSync(top, { recursive: true });
  const workloads: Array<{ name: string; distribution: Distribution }> = [
    { name: "uniform-20GB-5GB", distribution: "uniform" },
    { name: "hot-cold-20GB-5GB", distribution: "hot-cold" },
  ];
  for (const workload of workloads) {
    const directory = path.join(top, workload.name);
    mkdirSync(directory, { recursive: true });
    process.stderr.write(`running ${workload.name}\n`);
    const result = runSimulation({
      distribution: workload.distribution,
      records: SUITE_RECORDS,
      recordLengthBytes: SUITE_RECORD_LENGTH_BYTES,
      logicalSizeMb: SUITE_LOGICAL_SIZE_MB,
      seed,
    });
    const stats = formatSimulatorStats(result.stats);
    process.stdout.write(`${workload.name}\n${stats}\n`);
    writeFileSync(path.join(directory, "stats.txt"), `${stats}\n`);
    writeFileSync(path.join(directory, "stats.json"), `${JSON.stringify(result.stats)}\n`);
    writeFileSync(
      path.join(directory, "compaction-animation.html"),
      replayHtml(workload.name, result),
    );
  }
  process.stdout.write(`All tests finished. Results in ${top}\n`);
}

async function main(args: string[]): Promise<void> {
  const [command, ...rest] = args;
  switch (command) {
    case "simulate":
      return simulateCommand(rest);
    case "run-suite":
      return runSuiteCommand(rest);
    case "-h":
    case "--help":
      process.stdout.write(`${USAGE}\n`);
      return;
    case undefined:
      throw new UsageError("missing command");
    default:
      throw new UsageError(`unknown command '${command}'`);
  }
}

await runCli("compaction-simulator", USAGE, main);
