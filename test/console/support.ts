/**
 * Shared pieces of the console tests: a tRPC client straight to a pageserver (what the console's
 * numbers are checked against), ids, polling, and GetPage traffic through the real page service.
 */
import type { AppRouter } from "@pageserver/api";
import { LSN_MAX, type Lsn, parseLsn, type RelTag } from "@pageserver/engine";
import { createTRPCClient, httpBatchLink } from "@trpc/client";
import type { Locator, Page } from "playwright-core";
import { PageServiceClient } from "../../apps/pageserver/src/cli/page_service_client.ts";
import type { PageserverHandle } from "../harness/pageserver_process.ts";

export function trpcClient(pageserver: PageserverHandle) {
  return createTRPCClient<AppRouter>({
    links: [httpBatchLink({ url: `${pageserver.httpUrl}/trpc` })],
  });
}

export const randomId = () =>
  [...crypto.getRandomValues(new Uint8Array(16))]
    .map((b) => b.toString(16).padStart(2, "0"))
    .join("");

/**
 * Polls until `check` returns a value other than undefined. The timeout is a hang guard for a
 * condition that must eventually hold, not a speed requirement: it is generous on purpose.
 */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last ? ` (last error: ${last})` : ""}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/**
 * Waits until the element's text is `expected` (or matches it) and returns the text. A status
 * element that is reused (the same error slot after a second failing click) still shows the
 * previous message for a moment: reading it once would race.
 */
export async function textMatching(locator: Locator, expected: string | RegExp): Promise<string> {
  let last: string | null = null;
  try {
    return await waitFor(
      `text ${expected}`,
      async () => {
        last = await locator.textContent({ timeout: 1000 }).catch(() => null);
        if (last === null) return undefined;
        return (typeof expected === "string" ? last === expected : expected.test(last))
          ? last
          : undefined;
      },
      60_000,
    );
  } catch (error) {
    throw new Error(`${(error as Error).message}; the element showed ${JSON.stringify(last)}`);
  }
}

/** Reads a data attribute of the first element matching `selector` (null when absent). */
export function dataOf(page: Page, selector: string, attribute: string): Promise<string | null> {
  return page
    .locator(selector)
    .first()
    .getAttribute(`data-${attribute}`, { timeout: 1000 })
    .catch(() => null);
}

/** The uniform workload's table (wal_generator.ts: rel 16384 in db 5, tablespace 1663). */
export const UNIFORM_TABLE: RelTag = { spcNode: 1663, dbNode: 5, relNode: 16384, forkNum: 0 };

/**
 * Sends `count` GetPage requests at the latest LSN over pagestream v3, as a compute would; the
 * pageserver records each in its smgr latency (what the console's latency charts show).
 */
export async function driveGetPages(
  pageserver: PageserverHandle,
  tenantId: string,
  timelineId: string,
  count: number,
  blocks: number,
): Promise<void> {
  const detail = await pageserver.api<{ last_record_lsn: string }>(
    "GET",
    `/v1/tenant/${tenantId}/timeline/${timelineId}`,
  );
  const notModifiedSince = parseLsn(detail.body.last_record_lsn) as Lsn;
  const client = await PageServiceClient.connect({ host: "127.0.0.1", port: pageserver.pgPort });
  try {
    const stream = await client.pagestream(tenantId, timelineId, 3);
    // A few in flight at a time, as a compute's prefetch would have.
    const depth = 8;
    for (let sent = 0; sent < count; sent += depth) {
      const batch = [];
      for (let i = sent; i < Math.min(count, sent + depth); i++)
        batch.push(
          stream.getPage({
            rel: UNIFORM_TABLE,
            blkno: i % blocks,
            requestLsn: LSN_MAX,
            notModifiedSince,
          }),
        );
      await Promise.all(batch);
    }
    await stream.end();
  } finally {
    await client.close();
  }
}
