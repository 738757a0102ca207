/**
 * Running this package's CLIs as the processes a user starts (`node --import tsx <cli>.ts …`),
 * and a small pageserver process with one generator-fed timeline for them to talk to.
 */
import { spawn } from "node:child_process";
import path from "node:path";
import {
  type PageserverHandle,
  REPO_ROOT,
  startPageserver,
} from "../../../test/harness/pageserver_process.ts";
import { randomId, waitFor } from "./helpers.ts";

export const CLI_DIR = path.join(REPO_ROOT, "apps/pageserver/src/cli");

export interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly stdoutBytes: Buffer;
}

/** Runs `cli` (a file name under src/cli) with `args`; never throws on a non-zero exit. */
export function runCliProcess(
  cli: string,
  args: readonly string[],
  options: { input?: string; timeoutMs?: number } = {},
): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", path.join(CLI_DIR, cli), ...args], {
      cwd: REPO_ROOT,
      stdio: ["pipe", "pipe", "pipe"],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (chunk: Buffer) => out.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => err.push(chunk));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${cli} ${args.join(" ")} did not finish in time`));
    }, options.timeoutMs ?? 60_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      const stdoutBytes = Buffer.concat(out);
      resolve({
        code,
        stdout: stdoutBytes.toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8"),
        stdoutBytes,
      });
    });
    child.stdin.end(options.input ?? "");
  });
}

export interface ServedTimeline {
  readonly server: PageserverHandle;
  readonly tenant: string;
  readonly timeline: string;
}

/**
 * A pageserver process with one timeline holding a small uniform table (relation
 * 1663/5/16384, `blocks` blocks), checkpointed so that its layers are files.
 */
export async function servedTimeline(blocks = 64, transactions = 300): Promise<ServedTimeline> {
  const server = await startPageserver();
  const tenant = randomId();
  const timeline = randomId();
  await server.api("PUT", `/v1/tenant/${tenant}/location_config`, {
    mode: "AttachedSingle",
    tenant_conf: { compaction_period: "0s", gc_period: "0s" },
  });
  await server.api("POST", `/v1/tenant/${tenant}/timeline`, { new_timeline_id: timeline });
  const base = `/v1/tenant/${tenant}/timeline/${timeline}`;
  await server.api("PUT", `${base}/wal_source`, {
    kind: "generator",
    params: { workload: "uniform", size: blocks, transactions, seed: 5 },
  });
  await waitFor(
    async () =>
      (await server.api<{ state: string }>("GET", `${base}/wal_source`)).body.state === "finished",
    30_000,
    "the generator to finish",
  );
  await server.api("PUT", `${base}/checkpoint`);
  return { server, tenant, timeline };
}
