/**
 * `pagectl get-page`: fetches one page through the page service, as a compute would, and prints
 * its header fields and a hex dump (or writes the raw 8 KiB with `--out`).
 *
 *     pagectl get-page --pg host:port --tenant T --timeline TL --rel spc/db/rel[_fork] --blk N
 *                      [--lsn X/Y | --url http://host:port] [--jwt TOKEN] [--protocol 3]
 *                      [--full] [--out page.bin]
 *
 * At `--lsn X/Y` the request is `request_lsn = not_modified_since = X/Y`. Without it the page is
 * read at the latest LSN (`request_lsn = u64::MAX`), and `not_modified_since` is the timeline's
 * last_record_lsn from the management API (`--url`), as pagebench does with the keyspace LSN.
 * A pagestream Error response (missing relation, LSN below the GC cutoff, …) exits 1 with the
 * server's message.
 */
import { writeFileSync } from "node:fs";
import {
  formatLsn,
  formatRelTag,
  LSN_MAX,
  type Lsn,
  parseLsn,
  parseRelTag,
  parseTenantId,
  parseTimelineId,
  type RelTag,
} from "@pageserver/engine";
import {
  CliError,
  fetchJson,
  parseCliArgs,
  parseCount,
  parseHostPort,
  UsageError,
} from "../cli_support.ts";
import { PageServiceClient } from "../page_service_client.ts";
import { describePage, hexDump } from "./page_format.ts";

/** Bytes of the hex dump shown without `--full`. */
const HEX_PREVIEW_BYTES = 256;

interface GetPageArgs {
  readonly pg: { host: string; port: number };
  readonly tenant: string;
  readonly timeline: string;
  readonly rel: RelTag;
  readonly blkno: number;
  readonly lsn: Lsn | null;
  readonly url: string | null;
  readonly jwt: string | null;
  readonly protocol: 2 | 3;
}

function required(values: Record<string, unknown>, name: string): string {
  const value = values[name];
  if (typeof value !== "string") throw new UsageError(`--${name} is required`);
  return value;
}

function parseGetPageArgs(values: Record<string, unknown>): GetPageArgs {
  try {
    const blkno = parseCount(required(values, "blk"), "--blk");
    if (blkno > 0xffff_ffff) throw new UsageError("--blk must fit in a u32");
    const protocol = Number(values.protocol ?? "3");
    if (protocol !== 2 && protocol !== 3) throw new UsageError("--protocol must be 2 or 3");
    const lsn = typeof values.lsn === "string" ? parseLsn(values.lsn) : null;
    const url = typeof values.url === "string" ? values.url : null;
    if (lsn === null && url === null) {
      throw new UsageError("give --lsn X/Y, or --url to read at the latest LSN");
    }
    return {
      pg: parseHostPort(required(values, "pg"), "--pg"),
      tenant: parseTenantId(required(values, "tenant")),
      timeline: parseTimelineId(required(values, "timeline")),
      rel: parseRelTag(required(values, "rel")),
      blkno,
      lsn,
      url,
      jwt: typeof values.jwt === "string" ? values.jwt : null,
      protocol,
    };
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError((error as Error).message);
  }
}

/** request_lsn and not_modified_since for the request (see the module comment). */
async function requestLsns(args: GetPageArgs): Promise<{ request: Lsn; notModifiedSince: Lsn }> {
  if (args.lsn !== null) return { request: args.lsn, notModifiedSince: args.lsn };
  const base = args.url!.replace(/\/+$/, "");
  const headers: Record<string, string> = args.jwt ? { authorization: `Bearer ${args.jwt}` } : {};
  const detail = await fetchJson<{ last_record_lsn: string }>(
    `${base}/v1/tenant/${args.tenant}/timeline/${args.timeline}`,
    { headers },
  );
  return { request: LSN_MAX, notModifiedSince: parseLsn(detail.last_record_lsn) };
}

export async function getPageCommand(args: string[]): Promise<void> {
  const { values } = parseCliArgs(
    args,
    {
      pg: { type: "string" },
      url: { type: "string" },
      tenant: { type: "string" },
      timeline: { type: "string" },
      rel: { type: "string" },
      blk: { type: "string" },
      lsn: { type: "string" },
      jwt: { type: "string" },
      protocol: { type: "string", default: "3" },
      full: { type: "boolean", default: false },
      out: { type: "string" },
    },
    { min: 0, max: 0 },
  );
  const parsed = parseGetPageArgs(values);
  const lsns = await requestLsns(parsed);
  const client = await PageServiceClient.connect({
    ...parsed.pg,
    ...(parsed.jwt ? { password: parsed.jwt } : {}),
  });
  try {
    const stream = await client.pagestream(parsed.tenant, parsed.timeline, parsed.protocol);
    const response = await stream.request({
      kind: "GetPage",
      rel: parsed.rel,
      blkno: parsed.blkno,
      requestLsn: lsns.request,
      notModifiedSince: lsns.notModifiedSince,
    });
    if (response.kind === "Error") {
      throw new CliError(
        `page service refused GetPage ${formatRelTag(parsed.rel)} blk ${parsed.blkno}: ${response.message}`,
      );
    }
    if (response.kind !== "GetPage") throw new CliError(`unexpected ${response.kind} response`);
    await stream.end();
    const page = Buffer.from(response.page);
    const at =
      lsns.request === LSN_MAX
        ? `latest (not modified since ${formatLsn(lsns.notModifiedSince)})`
        : formatLsn(lsns.request);
    process.stdout.write(
      `page ${formatRelTag(parsed.rel)} blk ${parsed.blkno} at ${at} from ${client.address}\n` +
        `  ${describePage(page)}\n`,
    );
    if (typeof values.out === "string") {
      writeFileSync(values.out, page);
      process.stdout.write(`  written to ${values.out}\n`);
    } else {
      process.stdout.write(`${hexDump(page, values.full ? page.length : HEX_PREVIEW_BYTES)}\n`);
    }
  } finally {
    await client.close();
  }
}
