/**
 * `pageserver` — the process entry point.
 *
 *     pageserver [-D <workdir>] [-c key=value]...     run (default workdir: .neon)
 *     pageserver --init [-D <workdir>] [--id N]        write identity.toml and pageserver.toml
 *
 * Exit codes: 0 after a clean shutdown, 1 on a start-up error (the message names the cause), 2 on
 * bad usage.
 */
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import {
  defaultConfigToml,
  IDENTITY_FILE,
  PAGESERVER_CONFIG_FILE,
  parseOverride,
} from "./config/pageserver_config.ts";
import { Pageserver } from "./lifecycle/pageserver.ts";
import { flushSentry, initSentry, reportLogError, setSentryNodeId } from "./sentry.ts";

const USAGE = `usage: pageserver [-D <workdir>] [-c key=value]... | pageserver --init [-D <workdir>] [--id N]`;

function init(workdir: string, id: number): void {
  mkdirSync(workdir, { recursive: true });
  const identity = path.join(workdir, IDENTITY_FILE);
  const config = path.join(workdir, PAGESERVER_CONFIG_FILE);
  if (existsSync(identity) || existsSync(config)) {
    console.error(
      `pageserver --init: ${workdir} is already initialised (${IDENTITY_FILE} or ${PAGESERVER_CONFIG_FILE} exists)`,
    );
    process.exit(1);
  }
  writeFileSync(identity, `id = ${id}\n`);
  writeFileSync(config, defaultConfigToml());
  console.log(`initialised pageserver workdir ${workdir} (node id ${id})`);
}

async function main(): Promise<void> {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      options: {
        workdir: { type: "string", short: "D", default: ".neon" },
        config: { type: "string", short: "c", multiple: true },
        init: { type: "boolean", default: false },
        id: { type: "string", default: "1" },
        help: { type: "boolean", short: "h", default: false },
      },
      allowPositionals: false,
    });
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    process.exit(2);
  }
  const values = parsed.values as {
    workdir: string;
    config?: string[];
    init: boolean;
    id: string;
    help: boolean;
  };
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const workdir = path.resolve(values.workdir);
  if (values.init) {
    const id = Number(values.id);
    if (!Number.isInteger(id) || id < 0) {
      console.error(`--id must be a non-negative integer, got '${values.id}'`);
      process.exit(2);
    }
    init(workdir, id);
    return;
  }
  let overrides: Record<string, unknown> = {};
  for (const text of values.config ?? []) overrides = { ...overrides, ...parseOverride(text) };
  // Before anything else can fail: a start-up error is reported too.
  initSentry({
    dsn: process.env.SENTRY_DSN,
    environment: process.env.SENTRY_ENVIRONMENT,
    release: process.env.SENTRY_RELEASE,
  });
  let server: Pageserver;
  try {
    server = await Pageserver.start({ workdir, overrides });
  } catch (error) {
    console.error(`pageserver: ${(error as Error).message}`);
    reportLogError({ err: error }, "pageserver start-up failed");
    await flushSentry();
    process.exit(1);
  }
  setSentryNodeId(server.config.nodeId);
  server.handleSignals((code) => {
    void flushSentry().finally(() => process.exit(code));
  });
}

await main();
