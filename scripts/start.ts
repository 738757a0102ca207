/**
 * `npm start`: the pageserver (workdir `.neon`), a demo tenant fed by the built-in WAL generator
 * with a branch, and the console when it is built; prints the URLs. Ctrl-C stops every process
 * this started, pageserver last (it flushes on SIGINT).
 *
 * Environment: PAGESERVER_WORKDIR (default .neon), CONSOLE_PORT (default 3000),
 * DEMO_RATE (generator transactions per second, default 50: each writes a few pages, about 3 MB/s of WAL), NO_CONSOLE=1, NO_DEMO=1.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";

const root = path.resolve(import.meta.dirname, "..");
const workdir = path.resolve(root, process.env.PAGESERVER_WORKDIR ?? ".neon");
const consolePort = Number(process.env.CONSOLE_PORT ?? 3000);
const demoRate = Number(process.env.DEMO_RATE ?? 50);
const DEMO_TENANT = "de000000000000000000000000000001";
const DEMO_MAIN = "de0000000000000000000000000000a1";
const DEMO_BRANCH = "de0000000000000000000000000000b1";
const children: ChildProcess[] = [];

function log(message: string): void {
  process.stdout.write(`[start] ${message}\n`);
}

function run(
  command: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv } = {},
): ChildProcess {
  const child = spawn(command, args, {
    cwd: root,
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, ...options.env },
  });
  children.push(child);
  return child;
}

async function startPageserver(): Promise<{ http: string; pg: string }> {
  if (!existsSync(path.join(workdir, "identity.toml"))) {
    const init = spawnSync(
      process.execPath,
      ["--import", "tsx", "apps/pageserver/src/main.ts", "--init", "-D", workdir],
      { cwd: root, stdio: "inherit" },
    );
    if (init.status !== 0) throw new Error("pageserver --init failed");
  }
  const child = run(process.execPath, [
    "--import",
    "tsx",
    "apps/pageserver/src/main.ts",
    "-D",
    workdir,
  ]);
  return new Promise((resolve, reject) => {
    let pending = "";
    child.stdout!.on("data", (chunk: Buffer) => {
      pending += chunk.toString();
      const lines = pending.split("\n");
      pending = lines.pop()!;
      for (const line of lines) {
        if (line.includes('"level":50') || line.includes('"level":40'))
          process.stdout.write(`[pageserver] ${line}\n`);
        if (line.includes('"pageserver started"')) {
          const entry = JSON.parse(line) as { http: string; pg: string };
          resolve({ http: `http://${entry.http}`, pg: entry.pg });
        }
      }
    });
    child.once("exit", (code) => reject(new Error(`pageserver exited with ${code}`)));
  });
}

async function api(
  base: string,
  method: string,
  route: string,
  body?: unknown,
): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${base}${route}`, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

/** A demo tenant with a generator-fed main timeline and a branch; idempotent across restarts. */
async function setUpDemo(http: string): Promise<void> {
  const tenantConf = {
    checkpoint_distance: 16 * 1024 * 1024,
    compaction_period: "10s",
    compaction_threshold: 4,
    gc_period: "30s",
    gc_horizon: 64 * 1024 * 1024,
    // A short window, so that a demo left running keeps its disk use bounded.
    pitr_interval: "2m",
  };
  if ((await api(http, "GET", `/v1/tenant/${DEMO_TENANT}`)).status === 404) {
    await api(http, "PUT", `/v1/tenant/${DEMO_TENANT}/location_config`, {
      mode: "AttachedSingle",
      tenant_conf: tenantConf,
    });
    log(`created demo tenant ${DEMO_TENANT}`);
  }
  const timelines = `/v1/tenant/${DEMO_TENANT}/timeline`;
  if ((await api(http, "GET", `${timelines}/${DEMO_MAIN}`)).status === 404) {
    await api(http, "POST", timelines, { new_timeline_id: DEMO_MAIN, pg_version: 15 });
  }
  if ((await api(http, "GET", `${timelines}/${DEMO_MAIN}/wal_source`)).status === 404) {
    await api(http, "PUT", `${timelines}/${DEMO_MAIN}/wal_source`, {
      kind: "generator",
      params: { workload: "pgbench", size: 2, rate: demoRate, seed: 1 },
    });
    log(`attached the WAL generator (pgbench-like, ${demoRate} tx/s) to ${DEMO_MAIN}`);
  }
  if ((await api(http, "GET", `${timelines}/${DEMO_BRANCH}`)).status === 404) {
    await new Promise((resolve) => setTimeout(resolve, 2000));
    await api(http, "POST", timelines, {
      new_timeline_id: DEMO_BRANCH,
      ancestor_timeline_id: DEMO_MAIN,
    });
    await api(http, "PUT", `${timelines}/${DEMO_BRANCH}/wal_source`, {
      kind: "generator",
      params: {
        workload: "hot-cold",
        size: 2000,
        rate: Math.max(1, Math.floor(demoRate / 4)),
        seed: 2,
      },
    });
    log(`created branch ${DEMO_BRANCH} of ${DEMO_MAIN}`);
  }
}

async function startConsole(pageserver: { http: string }): Promise<string | null> {
  const web = path.join(root, "apps/web");
  if (process.env.NO_CONSOLE === "1" || !existsSync(path.join(web, "package.json"))) return null;
  log("building the console (next build)…");
  const build = spawnSync("npm", ["run", "build", "-w", "apps/web"], {
    cwd: root,
    stdio: "inherit",
    env: { ...process.env, NEXT_TELEMETRY_DISABLED: "1" },
  });
  if (build.status !== 0) throw new Error("console build failed");
  const child = run("npm", ["run", "start", "-w", "apps/web"], {
    env: {
      PORT: String(consolePort),
      CONSOLE_PAGESERVERS: `local=${pageserver.http}`,
      NEXT_TELEMETRY_DISABLED: "1",
    },
  });
  child.stdout!.on("data", () => {});
  return `http://127.0.0.1:${consolePort}`;
}

let stopping = false;
async function stopAll(): Promise<void> {
  if (stopping) return;
  stopping = true;
  log("stopping…");
  // Everything but the pageserver first, then the pageserver (which flushes).
  for (const child of [...children].reverse()) {
    if (child.exitCode !== null) continue;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGINT");
    await exited;
  }
  process.exit(0);
}

process.on("SIGINT", () => void stopAll());
process.on("SIGTERM", () => void stopAll());

try {
  const pageserver = await startPageserver();
  log(
    `pageserver: HTTP ${pageserver.http}  page service postgres://${pageserver.pg}  workdir ${workdir}`,
  );
  if (process.env.NO_DEMO !== "1") await setUpDemo(pageserver.http);
  const consoleUrl = await startConsole(pageserver);
  if (consoleUrl) log(`console: ${consoleUrl}`);
  else
    log(`console not built yet; the API is at ${pageserver.http}/v1 and ${pageserver.http}/trpc`);
  log("Ctrl-C stops everything.");
} catch (error) {
  log(`failed: ${(error as Error).message}`);
  await stopAll();
}
