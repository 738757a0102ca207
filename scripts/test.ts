/**
 * The one test command: finds every `*.test.ts` in the workspace (packages, apps and the
 * cross-process tests in `test/`), runs them with node's test runner, and ends with a plain
 * `N passed, N failed` line that CI reads. Node 20 does not expand globs itself, hence this file.
 *
 * Usage: `npm test [-- <path-prefix>...]` runs only the files under the given prefixes.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

const root = path.resolve(import.meta.dirname, "..");
const searchRoots = ["packages", "apps", "test"];
const skippedDirectories = new Set(["node_modules", ".next", ".neon", "artifacts"]);

function findTestFiles(directory: string, found: string[]): void {
  let entries: string[];
  try {
    entries = readdirSync(directory);
  } catch {
    return;
  }
  for (const entry of entries) {
    if (skippedDirectories.has(entry)) continue;
    const full = path.join(directory, entry);
    if (statSync(full).isDirectory()) findTestFiles(full, found);
    else if (entry.endsWith(".test.ts")) found.push(full);
  }
}

const prefixes = process.argv.slice(2).map((p) => path.resolve(root, p));
const files: string[] = [];
for (const searchRoot of searchRoots) findTestFiles(path.join(root, searchRoot), files);
const selected = files
  .filter((f) => prefixes.length === 0 || prefixes.some((p) => f.startsWith(p)))
  .sort();
if (selected.length === 0) {
  console.error(`no test files found under ${prefixes.join(", ") || searchRoots.join(", ")}`);
  process.exit(1);
}

const tapDirectory = mkdtempSync(path.join(tmpdir(), "pageserver-test-"));
const tapFile = path.join(tapDirectory, "results.tap");
const concurrency = process.env.TEST_CONCURRENCY ?? "1";
const args = [
  "--import",
  "tsx",
  "--test",
  `--test-concurrency=${concurrency}`,
  "--test-timeout=900000",
  "--test-reporter=spec",
  "--test-reporter-destination=stdout",
  "--test-reporter=tap",
  `--test-reporter-destination=${tapFile}`,
  ...selected.map((f) => path.relative(root, f)),
];
const child = spawn(process.execPath, args, { cwd: root, stdio: "inherit" });
const exitCode: number = await new Promise((resolve) => {
  child.on("exit", (code, signal) => resolve(code ?? (signal ? 1 : 0)));
});

// The TAP stream ends with `# pass N` / `# fail N`; repeat them as one plain line.
const tap = readFileSync(tapFile, "utf8");
const count = (name: string): number => {
  const match = tap.match(new RegExp(`^# ${name} (\\d+)$`, "m"));
  return match ? Number(match[1]) : 0;
};
const passed = count("pass");
const failed = count("fail") + count("cancelled");
rmSync(tapDirectory, { recursive: true, force: true });
console.log(`\n${passed} passed, ${failed} failed`);
process.exit(exitCode !== 0 || failed > 0 ? 1 : 0);
