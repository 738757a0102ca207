/**
 * Sentry reporting against a local HTTP server standing in for the DSN's host (the SDK's real
 * transport, real envelopes): a pageserver process with SENTRY_DSN reports a 5xx of the
 * management API as an exception tagged with its node id, and does not report a 4xx; a process
 * that panics reports the uncaught exception before exiting with code 1; without SENTRY_DSN
 * nothing is sent.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer, type Server } from "node:http";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { gunzipSync } from "node:zlib";
import {
  REPO_ROOT,
  removeWorkdir,
  startPageserver,
} from "../../../test/harness/pageserver_process.ts";
import { randomId, waitFor } from "./helpers.ts";

interface SentryEvent {
  level?: string;
  message?: string;
  tags?: Record<string, string>;
  exception?: { values: Array<{ type: string; value: string; mechanism?: { handled?: boolean } }> };
}

/** Receives envelopes at `/api/<project>/envelope/` and keeps their event items. */
class SentryIngest {
  readonly events: SentryEvent[] = [];
  readonly paths: string[] = [];
  private readonly server: Server;
  port = 0;

  constructor() {
    this.server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on("data", (chunk: Buffer) => chunks.push(chunk));
      request.on("end", () => {
        this.paths.push(request.url ?? "");
        let body = Buffer.concat(chunks);
        if (request.headers["content-encoding"] === "gzip") body = gunzipSync(body);
        // An envelope: a header line, then (item header, payload) line pairs.
        const lines = body.toString("utf8").split("\n").filter(Boolean);
        for (let i = 1; i + 1 < lines.length; i += 2) {
          const item = JSON.parse(lines[i]!) as { type: string };
          if (item.type === "event") this.events.push(JSON.parse(lines[i + 1]!));
        }
        response.writeHead(200, { "content-type": "application/json" }).end("{}");
      });
    });
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    this.port = (this.server.address() as { port: number }).port;
  }

  get dsn(): string {
    return `http://0123456789abcdef0123456789abcdef@127.0.0.1:${this.port}/42`;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

describe("sentry", () => {
  const ingest = new SentryIngest();
  before(() => ingest.start());
  after(() => ingest.close());

  test("a pageserver with SENTRY_DSN reports a 5xx as an exception with its node id, not a 4xx", async () => {
    const server = await startPageserver({ nodeId: 23, env: { SENTRY_DSN: ingest.dsn } });
    try {
      const tenant = randomId();
      const timeline = randomId();
      await server.api("PUT", `/v1/tenant/${tenant}/location_config`, { mode: "AttachedSingle" });
      await server.api("POST", `/v1/tenant/${tenant}/timeline`, { new_timeline_id: timeline });
      // A 4xx is the client's mistake: logged at info, never reported.
      const missing = await server.api("GET", `/v1/tenant/${randomId()}`);
      assert.equal(missing.status, 404);
      // A key no layer holds: the read path fails and the API answers 500.
      const key = "000000067F000000050000FFFF0000000000";
      const failed = await server.api<{ msg: string }>(
        "GET",
        `/v1/tenant/${tenant}/timeline/${timeline}/getpage?key=${key}`,
      );
      assert.equal(failed.status, 500, JSON.stringify(failed.body));
      await waitFor(() => ingest.events.length > 0, 15_000, "a Sentry event");
      assert.equal(ingest.events.length, 1, "exactly the one 5xx");
      const event = ingest.events[0]!;
      assert.equal(event.level, "error");
      assert.equal(event.tags?.node_id, "23");
      assert.equal(event.tags?.method, "GET");
      const exception = event.exception!.values.at(-1)!;
      assert.equal(exception.type, "MissingKeyError");
      assert.equal(exception.value, failed.body.msg);
      assert.ok(
        ingest.paths.every((p) => p.startsWith("/api/42/envelope/")),
        ingest.paths[0],
      );
    } finally {
      assert.equal(await server.stop("SIGTERM"), 0);
      removeWorkdir(server.workdir);
    }
  });

  test("a panic (uncaught exception) is reported before the process exits with 1", async () => {
    ingest.events.length = 0;
    const child = spawn(
      process.execPath,
      ["--import", "tsx", path.join(import.meta.dirname, "fixtures/sentry_panic.ts")],
      { cwd: REPO_ROOT, env: { ...process.env, SENTRY_DSN: ingest.dsn }, stdio: "pipe" },
    );
    let stderr = "";
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
    });
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    assert.equal(code, 1, stderr);
    assert.equal(ingest.events.length, 1);
    const exception = ingest.events[0]!.exception!.values.at(-1)!;
    assert.equal(exception.type, "TypeError");
    assert.equal(exception.value, "panic in a background task");
    assert.equal(exception.mechanism?.handled, false);
    assert.equal(ingest.events[0]!.tags?.node_id, "9");
  });

  test("without SENTRY_DSN nothing is sent", async () => {
    ingest.events.length = 0;
    ingest.paths.length = 0;
    const server = await startPageserver({ env: { SENTRY_DSN: "" } });
    try {
      const tenant = randomId();
      const timeline = randomId();
      await server.api("PUT", `/v1/tenant/${tenant}/location_config`, { mode: "AttachedSingle" });
      await server.api("POST", `/v1/tenant/${tenant}/timeline`, { new_timeline_id: timeline });
      const failed = await server.api(
        "GET",
        `/v1/tenant/${tenant}/timeline/${timeline}/getpage?key=000000067F000000050000FFFF0000000000`,
      );
      assert.equal(failed.status, 500);
    } finally {
      assert.equal(await server.stop("SIGTERM"), 0);
      removeWorkdir(server.workdir);
    }
    assert.deepEqual(ingest.paths, []);
  });
});
