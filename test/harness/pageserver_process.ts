/**
 * Starts a real pageserver process for tests: a fresh temp workdir, identity and config written,
 * ports chosen by the OS (port 0), the actual ports read from the "pageserver started" log line.
 * Stop it with a signal (graceful) or kill it (SIGKILL, a crash).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { stringify } from "smol-toml";

export const REPO_ROOT = path.resolve(import.meta.dirname, "../..");
const MAIN = path.join(REPO_ROOT, "apps/pageserver/src/main.ts");

export interface PageserverHandle {
  readonly workdir: string;
  readonly httpUrl: string;
  readonly httpPort: number;
  readonly pgPort: number;
  readonly process: ChildProcess;
  /** Every line the process wrote (stdout and stderr). */
  readonly output: string[];
  /** Sends a signal and waits for the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** Calls the management API; parses JSON answers. */
  api<T = unknown>(
    method: string,
    route: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<{ status: number; body: T }>;
}

export interface StartOptions {
  readonly workdir?: string;
  readonly nodeId?: number;
  readonly config?: Record<string, unknown>;
  readonly env?: Record<string, string>;
  /** Flags for node itself, e.g. `--cpu-prof` to profile the pageserver under a benchmark. */
  readonly nodeArgs?: readonly string[];
  readonly startTimeoutMs?: number;
}

export function makeWorkdir(prefix = "pageserver-e2e-"): string {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

export function writePageserverConfig(
  workdir: string,
  nodeId: number,
  config: Record<string, unknown>,
): void {
  mkdirSync(workdir, { recursive: true });
  writeFileSync(path.join(workdir, "identity.toml"), `id = ${nodeId}\n`);
  writeFileSync(
    path.join(workdir, "pageserver.toml"),
    stringify({ listen_http_addr: "127.0.0.1:0", listen_pg_addr: "127.0.0.1:0", ...config }),
  );
}

export async function startPageserver(options: StartOptions = {}): Promise<PageserverHandle> {
  const workdir = options.workdir ?? makeWorkdir();
  writePageserverConfig(workdir, options.nodeId ?? 1, options.config ?? {});
  const nodeArgs = options.nodeArgs ?? [];
  const child = spawn(process.execPath, [...nodeArgs, "--import", "tsx", MAIN, "-D", workdir], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const ports = await new Promise<{ http: number; pg: number }>((resolve, reject) => {
    const timer = setTimeout(() => {
      // Do not leave a half-started process behind (it would hold its ports and workdir).
      child.kill("SIGKILL");
      reject(new Error(`pageserver did not start in time:\n${output.join("\n")}`));
    }, options.startTimeoutMs ?? 30_000);
    const onLine = (line: string) => {
      output.push(line);
      if (!line.includes('"pageserver started"')) return;
      const entry = JSON.parse(line) as { http: string; pg: string };
      clearTimeout(timer);
      resolve({ http: Number(entry.http.split(":").pop()), pg: Number(entry.pg.split(":").pop()) });
    };
    let pending = "";
    const onData = (chunk: Buffer) => {
      pending += chunk.toString();
      const lines = pending.split("\n");
      pending = lines.pop()!;
      for (const line of lines) onLine(line);
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`pageserver exited with ${code} before starting:\n${output.join("\n")}`));
    });
  });
  const httpUrl = `http://127.0.0.1:${ports.http}`;
  return {
    workdir,
    httpUrl,
    httpPort: ports.http,
    pgPort: ports.pg,
    process: child,
    output,
    async stop(signal: NodeJS.Signals = "SIGTERM") {
      if (child.exitCode === null) child.kill(signal);
      return exited;
    },
    async api<T>(
      method: string,
      route: string,
      body?: unknown,
      headers: Record<string, string> = {},
    ) {
      const response = await fetch(`${httpUrl}${route}`, {
        method,
        headers: body === undefined ? headers : { "content-type": "application/json", ...headers },
        body:
          body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
      });
      const text = await response.text();
      let parsed: unknown = text;
      try {
        parsed = text === "" ? null : JSON.parse(text);
      } catch {}
      return { status: response.status, body: parsed as T };
    },
  };
}

export function removeWorkdir(workdir: string): void {
  rmSync(workdir, { recursive: true, force: true });
}
