/**
 * Runs every benchmark (`*.bench.ts` under packages/, apps/ and test/) one after another, each in
 * its own process so that one benchmark's heap does not disturb the next. Every benchmark prints
 * JSON lines `{"bench": "...", "value": N, "unit": "...", ...}` on stdout; anything else goes to
 * stderr.
 *
 * Usage: `npm run bench [-- --quick] [name-filter...]`. `--quick` (or BENCH_QUICK=1) shrinks every
 * benchmark so the whole run is a smoke check of under a minute.
 */
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import path from "node:path";

const root = path.resolve(import.meta.dirname, "..");
const args = process.argv.slice(2);
const quick = args.includes("--quick") || process.env.BENCH_QUICK === "1";
const filters = args.filter((a) => !a.startsWith("--"));

function findBenchFiles(directory: string, found: string[]): void {
  let entries: string[];
  try {
    entries = readdirSync(directory);
  } catch {
    return;
  }
  for (const entry of entries) {
    if (entry === "node_modules" || entry === ".next") continue;
    const full = path.join(directory, entry);
    if (statSync(full).isDirectory()) findBenchFiles(full, found);
    else if (entry.endsWith(".bench.ts")) found.push(full);
  }
}

const files: string[] = [];
for (const searchRoot of ["packages", "apps", "test"]) {
  findBenchFiles(path.join(root, searchRoot), files);
}
const selected = files
  .sort()
  .filter((f) => filters.length === 0 || filters.some((name) => f.includes(name)));
let failures = 0;
for (const file of selected) {
  process.stderr.write(`# ${path.relative(root, file)}${quick ? " (quick)" : ""}\n`);
  const result = spawnSync(
    process.execPath,
    ["--expose-gc", "--import", "tsx", file, ...(quick ? ["--quick"] : [])],
    { cwd: root, stdio: "inherit", env: { ...process.env, BENCH_QUICK: quick ? "1" : "0" } },
  );
  if (result.status !== 0) {
    failures++;
    process.stderr.write(`# FAILED: ${path.relative(root, file)} (exit ${result.status})\n`);
  }
}
process.exit(failures > 0 ? 1 : 0);
