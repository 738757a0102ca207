/**
 * `pagebench` — load generator for the page service, after Neon's pagebench (reference §15):
 *
 *     pagebench get-page-latest-lsn [<tenant_id>/<timeline_id>...]
 *         [--mgmt-api-endpoint http://localhost:9898]
 *         [--page-service-connstring postgres://postgres@localhost:64000]
 *         [--pageserver-jwt TOKEN] [--num-clients 1] [--queue-depth 1] [--runtime 10s]
 *         [--per-client-rate R] [--req-latest-probability 1] [--limit-to-first-n-targets N]
 *         [--keyspace-cache FILE] [--seed N]
 *
 * Prints one JSON document on stdout (see pagebench/get_page_latest_lsn.ts). Exit codes: 0 ok,
 * 1 failure (unreachable server, empty keyspace, failed requests), 2 bad usage.
 *
 * Run: `node --import tsx apps/pageserver/src/cli/pagebench.ts <command> …`
 * (or `apps/pageserver/bin/pagebench`).
 */
import { runCli, UsageError } from "./cli_support.ts";
import { getPageLatestLsnCommand } from "./pagebench/get_page_latest_lsn.ts";

export const PAGEBENCH_USAGE = `usage: pagebench <command> [arguments]

  get-page-latest-lsn [<tenant_id>/<timeline_id>...]   random GetPage@latest load
      --mgmt-api-endpoint URL          management API (default http://localhost:9898)
      --page-service-connstring URL    page service (default postgres://postgres@localhost:64000)
      --pageserver-jwt TOKEN           JWT for both, when auth is on
      --num-clients N                  connections per target (default 1)
      --queue-depth N                  pipelined requests per connection (default 1)
      --runtime DURATION               e.g. 10s, 1m (default: until Ctrl-C)
      --per-client-rate R              requests/s per client; late ones count as missed
      --req-latest-probability P       share of requests at u64::MAX, else at the keyspace LSN (1)
      --limit-to-first-n-targets N     only the first N timelines
      --keyspace-cache FILE            reuse (or save) the keyspaces
      --seed N                         reproducible block choice

exit codes: 0 ok, 1 failure, 2 usage`;

const COMMANDS: Record<string, (args: string[]) => Promise<void>> = {
  "get-page-latest-lsn": getPageLatestLsnCommand,
};

async function main(args: string[]): Promise<void> {
  const [command, ...rest] = args;
  if (command === "-h" || command === "--help" || command === "help") {
    process.stdout.write(`${PAGEBENCH_USAGE}\n`);
    return;
  }
  if (command === undefined) throw new UsageError("missing command");
  const run = COMMANDS[command];
  if (!run) throw new UsageError(`unknown command '${command}'`);
  await run(rest);
}

await runCli("pagebench", PAGEBENCH_USAGE, main);
