/**
 * Shared helpers for the pageserver's in-process tests: a PageserverContext over a temp workdir
 * (real engine, real files), the HTTP app without listening (`inject()`), JWT keys and tokens.
 */
import { generateKeyPairSync, type KeyObject, sign } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { FileDescriptorCache, type NodeId, PageCache, TenantManager } from "@pageserver/engine";
import type { FastifyInstance } from "fastify";
import pino from "pino";
import { resolveConfig } from "../src/config/pageserver_config.ts";
import { buildHttpApp } from "../src/http/app.ts";
import { PageserverMetrics } from "../src/metrics/metrics.ts";
import type { PageserverContext } from "../src/pageserver_context.ts";
import { TaskRegistry } from "../src/tasks/task_registry.ts";

export interface TestNode {
  readonly workdir: string;
  readonly context: PageserverContext;
  readonly app: FastifyInstance;
  request<T = unknown>(
    method: string,
    url: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<{ status: number; body: T }>;
  close(): Promise<void>;
}

export async function testNode(
  options: { config?: Record<string, unknown>; authKeys?: KeyObject[] | null } = {},
): Promise<TestNode> {
  const workdir = mkdtempSync(path.join(tmpdir(), "pageserver-http-"));
  const { config } = resolveConfig(workdir, 7 as NodeId, options.config ?? {});
  const log = pino({ level: "silent" });
  const tenants = new TenantManager({
    workdir,
    io: { files: new FileDescriptorCache(64), pages: new PageCache(256) },
    logger: log,
    waitLsnTimeoutMs: 2000,
    tenantConfigDefaults: config.tenantConfigDefaults,
  });
  await tenants.load();
  const context: PageserverContext = {
    config,
    tenants,
    log,
    metrics: new PageserverMetrics(tenants),
    tasks: new TaskRegistry(),
    startedAtMs: Date.now(),
    remoteConsistentLsn: (timeline) => timeline.remote?.remoteConsistentLsn ?? null,
    deletionQueue: null,
  };
  const app = await buildHttpApp({ context, authKeys: options.authKeys ?? null });
  return {
    workdir,
    context,
    app,
    async request<T>(
      method: string,
      url: string,
      body?: unknown,
      headers: Record<string, string> = {},
    ) {
      const response = await app.inject({
        method: method as "GET",
        url,
        headers: body === undefined ? headers : { "content-type": "application/json", ...headers },
        payload:
          body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
      });
      const text = response.body;
      let parsed: unknown = text;
      try {
        parsed = text === "" ? null : JSON.parse(text);
      } catch {}
      return { status: response.statusCode, body: parsed as T };
    },
    async close() {
      await tenants.shutdown({ flush: false });
      await app.close();
      rmSync(workdir, { recursive: true, force: true });
    },
  };
}

/** An Ed25519 key pair; the public key also written as PEM to `directory`. */
export function jwtKeys(directory: string): {
  privateKey: KeyObject;
  publicKey: KeyObject;
  publicKeyPath: string;
} {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const publicKeyPath = path.join(directory, "auth_public_key.pem");
  writeFileSync(publicKeyPath, publicKey.export({ type: "spki", format: "pem" }));
  return { privateKey, publicKey, publicKeyPath };
}

export function signToken(privateKey: KeyObject, claims: Record<string, unknown>): string {
  const header = Buffer.from(JSON.stringify({ alg: "EdDSA", typ: "JWT" })).toString("base64url");
  const payload = Buffer.from(JSON.stringify(claims)).toString("base64url");
  const signature = sign(null, Buffer.from(`${header}.${payload}`), privateKey).toString(
    "base64url",
  );
  return `${header}.${payload}.${signature}`;
}

export function randomId(): string {
  return [...crypto.getRandomValues(new Uint8Array(16))]
    .map((b) => b.toString(16).padStart(2, "0"))
    .join("");
}

export async function waitFor(
  check: () => Promise<boolean> | boolean,
  timeoutMs = 20_000,
  what = "condition",
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
