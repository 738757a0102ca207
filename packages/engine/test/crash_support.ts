/**
 * What the crash tests share: the ingest child process (fixtures/ingest_child.ts), the temp-file
 * scan, and the check of a loaded timeline against the generator's model at and below
 * disk_consistent_lsn.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import path from "node:path";
import { formatLsn, type Lsn } from "../src/lsn.ts";
import { BOOTSTRAP_INITDB_LSN } from "../src/tenant/tenant.ts";
import type { Timeline } from "../src/timeline/timeline.ts";
import type { GeneratorModel } from "./generator_model.ts";

const CHILD = path.join(import.meta.dirname, "fixtures", "ingest_child.ts");

export function startChild(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): {
  child: ChildProcess;
  started: Promise<void>;
  exited: Promise<number | null>;
  /** What the child wrote to stderr so far (also forwarded to ours). */
  stderr(): string;
} {
  const child = spawn(process.execPath, ["--import", "tsx", CHILD, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...env },
  });
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
    process.stderr.write(chunk);
  });
  const exited = new Promise<number | null>((resolve) =>
    child.on("close", (code) => resolve(code)),
  );
  // A child that dies before it has started (a load error) fails the test instead of hanging it.
  const started = new Promise<void>((resolve, reject) => {
    child.stdout!.on("data", (chunk: Buffer) => {
      if (chunk.toString().includes("started")) resolve();
    });
    void exited.then((code) =>
      reject(new Error(`ingest child exited with ${code} before starting`)),
    );
  });
  return { child, started, exited, stderr: () => stderr };
}

export function findTempFiles(directory: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(directory, { withFileTypes: true, recursive: true })) {
    if (entry.name.endsWith("___temp") || entry.name.startsWith("ephemeral-"))
      found.push(entry.name);
  }
  return found;
}

export async function checkTimeline(
  timeline: Timeline,
  model: GeneratorModel,
  random: () => number,
  seed: number,
): Promise<number> {
  const dcl = timeline.diskConsistentLsn;
  model.advanceTo(Math.max(0, model.generator.firstTransactionAfter(dcl)));
  let checked = 0;
  for (const key of model.versions.keys()) {
    const lsns = model.lsnsOf(key).filter((lsn) => lsn <= dcl);
    // Every key at disk_consistent_lsn, plus a few of its versions and the LSN just below each.
    const probes = new Set<Lsn>([dcl]);
    for (let i = 0; i < 3 && lsns.length > 0; i++) {
      const lsn = lsns[Math.floor(random() * lsns.length)]!;
      probes.add(lsn);
      probes.add((lsn - 1) as Lsn);
    }
    for (const lsn of probes) {
      if (lsn < BOOTSTRAP_INITDB_LSN) continue;
      const expected = model.valueAt(key, lsn);
      const actual = (await timeline.getVectored([key], lsn)).get(key)!;
      const where = `seed ${seed}: key ${key} at ${formatLsn(lsn)} (disk_consistent_lsn ${formatLsn(dcl)})`;
      if (expected === null) assert.ok(actual instanceof Error, `${where}: expected no value`);
      else {
        assert.ok(!(actual instanceof Error), `${where}: ${(actual as Error).message}`);
        assert.ok(actual.equals(expected), `${where}: bytes differ`);
      }
      checked++;
    }
  }
  return checked;
}
