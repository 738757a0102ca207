/**
 * `pagectl` — the pageserver's debugging tool, after Neon's pagectl (its subcommands, adapted to
 * our layer format and our API):
 *
 *     pagectl layer print <file> [--values] [--limit N]   a layer file's summary and entries
 *     pagectl layer verify <file>                         full scrub; damage exits 1
 *     pagectl index-part dump <file> [--json]             an index_part.json (ours or Neon's)
 *     pagectl draw-timeline <names|-> [-o out.svg]         SVG of layers over key × LSN
 *     pagectl analyze-layer-map <names|->                  levels, L0s, read amplification, sizes
 *     pagectl key <hex> | --rel spc/db/rel[_fork] --blk N  decode / encode a key
 *     pagectl get-page --pg host:port --tenant T --timeline TL --rel R --blk N [--lsn X/Y|--url U]
 *     pagectl wal-dump <segment[.zst]> [--start X/Y] [--limit N] [--stats] [--json]
 *
 * draw-timeline and analyze-layer-map also read a running pageserver (`--url --tenant
 * --timeline`) or an index_part.json (`--index-part`). Exit codes: 0 ok, 1 failure (the message
 * on stderr names the file, server or value at fault), 2 bad usage.
 *
 * Run: `node --import tsx apps/pageserver/src/cli/pagectl.ts <subcommand> …`
 * (or `apps/pageserver/bin/pagectl`).
 */
import { runCli, UsageError } from "./cli_support.ts";
import { analyzeLayerMapCommand } from "./pagectl/analyze_layer_map.ts";
import { drawTimelineCommand } from "./pagectl/draw_timeline.ts";
import { getPageCommand } from "./pagectl/get_page.ts";
import { indexPartCommand } from "./pagectl/index_part.ts";
import { keyCommand } from "./pagectl/key_command.ts";
import { layerCommand } from "./pagectl/layer_commands.ts";
import { walDumpCommand } from "./pagectl/wal_dump.ts";

export const PAGECTL_USAGE = `usage: pagectl <command> [arguments]

  layer print <file> [--values] [--limit N]     print a layer file's summary and entries
  layer verify <file>                           read and check every node and value
  index-part dump <file> [--json]               summarize an index_part.json
  draw-timeline <names.txt|-> [-o out.svg]      draw layers over key × LSN as SVG
  draw-timeline --url URL --tenant T --timeline TL | --index-part FILE [-o out.svg]
  analyze-layer-map <names.txt|-> [--fanout 10] [--target-height 256MiB] [--json]
  analyze-layer-map --url URL --tenant T --timeline TL | --index-part FILE
  key <36 hex digits> | key --rel spc/db/rel[_fork] --blk N [--json]
  get-page --pg HOST:PORT --tenant T --timeline TL --rel spc/db/rel[_fork] --blk N
           [--lsn X/Y | --url http://HOST:PORT] [--jwt TOKEN] [--protocol 2|3] [--full] [--out FILE]
  wal-dump <segment[.zst]> [--start X/Y] [--limit N] [--stats] [--json]
                                                decode a PostgreSQL 15 WAL segment

exit codes: 0 ok, 1 failure, 2 usage`;

const COMMANDS: Record<string, (args: string[]) => Promise<void>> = {
  layer: layerCommand,
  "index-part": indexPartCommand,
  "draw-timeline": drawTimelineCommand,
  "analyze-layer-map": analyzeLayerMapCommand,
  key: keyCommand,
  "get-page": getPageCommand,
  "wal-dump": walDumpCommand,
};

async function main(args: string[]): Promise<void> {
  const [command, ...rest] = args;
  if (command === "-h" || command === "--help" || command === "help") {
    process.stdout.write(`${PAGECTL_USAGE}\n`);
    return;
  }
  if (command === undefined) throw new UsageError("missing command");
  const run = COMMANDS[command];
  if (!run) throw new UsageError(`unknown command '${command}'`);
  await run(rest);
}

await runCli("pagectl", PAGECTL_USAGE, main);
