/**
 * The console as a process for tests and benchmarks: `next build` once when the build is missing
 * or older than the console's sources, then `next start` on a free port with its own fleet
 * (`CONSOLE_PAGESERVERS`) and a fresh data directory (pageservers added from the UI).
 *
 * # Processes
 * `next start` runs in its own process group (spawned detached) and renames itself
 * `next-server`; some Next versions fork the server into a child that leaves the group. Stopping
 * therefore signals the group and every descendant found in /proc, by pid, then waits for the
 * main process to exit (SIGKILL after a grace period).
 *
 * # One build at a time
 * Test files run in separate processes; a lock directory in the temp dir serialises builds, and
 * the staleness check is repeated under the lock, so the second file finds the first's build.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { REPO_ROOT } from "./pageserver_process.ts";

export const WEB_DIR = path.join(REPO_ROOT, "apps/web");
const NEXT_BIN = path.join(REPO_ROOT, "node_modules/next/dist/bin/next");
const BUILD_ID = path.join(WEB_DIR, ".next/BUILD_ID");
const BUILD_LOCK = path.join(tmpdir(), "pageserver-console-build.lock");
/** A lock older than this belongs to a build that died without cleaning up. */
const STALE_LOCK_MS = 10 * 60 * 1000;
const BUILD_TIMEOUT_MS = 10 * 60 * 1000;
/** What the build is made from; anything newer than BUILD_ID means rebuild. */
const BUILD_INPUTS = ["src", "next.config.ts", "package.json", "tsconfig.json"];

function newestMtimeMs(entry: string): number {
  const stat = statSync(entry, { throwIfNoEntry: false });
  if (!stat) return 0;
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = stat.mtimeMs;
  for (const name of readdirSync(entry)) {
    newest = Math.max(newest, newestMtimeMs(path.join(entry, name)));
  }
  return newest;
}

/** True when `.next` is missing or older than a source of the console. */
export function consoleBuildIsStale(): boolean {
  const built = statSync(BUILD_ID, { throwIfNoEntry: false });
  if (!built) return true;
  const sources = Math.max(
    ...BUILD_INPUTS.map((entry) => newestMtimeMs(path.join(WEB_DIR, entry))),
  );
  return sources > built.mtimeMs;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function withBuildLock<T>(action: () => Promise<T>): Promise<T> {
  for (;;) {
    try {
      mkdirSync(BUILD_LOCK);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const since = statSync(BUILD_LOCK, { throwIfNoEntry: false });
      if (since && Date.now() - since.mtimeMs > STALE_LOCK_MS)
        rmSync(BUILD_LOCK, { recursive: true, force: true });
      await sleep(500);
    }
  }
  try {
    return await action();
  } finally {
    rmSync(BUILD_LOCK, { recursive: true, force: true });
  }
}

function runBuild(): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [NEXT_BIN, "build"], {
      cwd: WEB_DIR,
      env: { ...process.env, NEXT_TELEMETRY_DISABLED: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const output: string[] = [];
    child.stdout!.on("data", (chunk: Buffer) => output.push(chunk.toString()));
    child.stderr!.on("data", (chunk: Buffer) => output.push(chunk.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), BUILD_TIMEOUT_MS);
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`next build failed (${code ?? signal}):\n${output.join("")}`));
    });
  });
}

/** Builds the console unless an up-to-date build exists. */
export async function ensureConsoleBuilt(): Promise<void> {
  if (!consoleBuildIsStale()) return;
  await withBuildLock(async () => {
    if (consoleBuildIsStale()) await runBuild();
  });
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Pids of every descendant of `pid` (from /proc; empty where /proc is absent). */
function descendants(pid: number): number[] {
  const parentOf = new Map<number, number>();
  let entries: string[] = [];
  try {
    entries = readdirSync("/proc");
  } catch {
    return [];
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // The command name is in parentheses and may hold spaces: fields start after the last ')'.
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      parentOf.set(Number(entry), Number(fields[1]));
    } catch {}
  }
  const found: number[] = [];
  const frontier = [pid];
  while (frontier.length > 0) {
    const parent = frontier.pop()!;
    for (const [child, ppid] of parentOf) {
      if (ppid === parent && !found.includes(child)) {
        found.push(child);
        frontier.push(child);
      }
    }
  }
  return found;
}

function signal(pid: number, sig: NodeJS.Signals, group: boolean): void {
  try {
    process.kill(group ? -pid : pid, sig);
  } catch {}
}

export interface ConsoleHandle {
  readonly url: string;
  readonly port: number;
  readonly dataDirectory: string;
  readonly process: ChildProcess;
  readonly output: string[];
  stop(): Promise<void>;
}

export interface ConsoleOptions {
  /** The fleet, name → pageserver URL. */
  readonly pageservers?: Record<string, string>;
  readonly env?: Record<string, string>;
  readonly startTimeoutMs?: number;
}

export async function startConsole(options: ConsoleOptions = {}): Promise<ConsoleHandle> {
  await ensureConsoleBuilt();
  const port = await freePort();
  const dataDirectory = mkdtempSync(path.join(tmpdir(), "console-data-"));
  const fleet = Object.entries(options.pageservers ?? {})
    .map(([name, url]) => `${name}=${url}`)
    .join(",");
  const child = spawn(
    process.execPath,
    [NEXT_BIN, "start", "-p", String(port), "-H", "127.0.0.1"],
    {
      cwd: WEB_DIR,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
      env: {
        ...process.env,
        NEXT_TELEMETRY_DISABLED: "1",
        CONSOLE_PAGESERVERS: fleet,
        CONSOLE_DATA_DIR: dataDirectory,
        ...options.env,
      },
    },
  );
  const output: string[] = [];
  child.stdout!.on("data", (chunk: Buffer) => output.push(chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => output.push(chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const url = `http://127.0.0.1:${port}`;

  const stop = async () => {
    const pid = child.pid;
    if (pid === undefined || child.exitCode !== null || child.signalCode !== null) {
      rmSync(dataDirectory, { recursive: true, force: true });
      return;
    }
    const family = descendants(pid);
    signal(pid, "SIGTERM", true);
    for (const other of family) signal(other, "SIGTERM", false);
    const graceful = await Promise.race([exited.then(() => true), sleep(10_000).then(() => false)]);
    if (!graceful) {
      signal(pid, "SIGKILL", true);
      for (const other of family) signal(other, "SIGKILL", false);
      await exited;
    }
    rmSync(dataDirectory, { recursive: true, force: true });
  };

  // Ready once the console answers its own API (the page routes are compiled by then too).
  const deadline = Date.now() + (options.startTimeoutMs ?? 60_000);
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`the console exited with ${child.exitCode}:\n${output.join("")}`);
    try {
      const response = await fetch(`${url}/api/fleet`);
      if (response.ok) break;
    } catch {}
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`the console did not start in time:\n${output.join("")}`);
    }
    await sleep(200);
  }
  return { url, port, dataDirectory, process: child, output, stop };
}
