/**
 * A real S3 API server for tests (s3rver on 127.0.0.1, a temp directory, bucket `pageserver`).
 * `stop()` drops it with its connections (an S3 outage); `start()` brings it back on the same
 * port and data.
 */

import { mkdtempSync, rmSync } from "node:fs";
import type { Server } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import S3rver from "s3rver";
import { S3RemoteStorage } from "../../packages/engine/src/remote/s3_storage.ts";

export const S3_BUCKET = "pageserver";
export const S3_CREDENTIALS = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" };

export class TestS3Server {
  readonly directory: string;
  port = 0;
  private server: S3rver | null = null;

  private constructor(directory: string) {
    this.directory = directory;
  }

  static async start(): Promise<TestS3Server> {
    const s3 = new TestS3Server(mkdtempSync(path.join(tmpdir(), "s3rver-")));
    await s3.start();
    return s3;
  }

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const server = new S3rver({
      address: "127.0.0.1",
      port: this.port,
      directory: this.directory,
      silent: true,
      configureBuckets: [{ name: S3_BUCKET, configs: [] }],
    });
    const address = (await server.run()) as { port: number };
    this.port = address.port;
    this.server = server;
  }

  /** Stops serving at once (open connections are cut). */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    const http = (server as unknown as { httpServer: Server } | null)?.httpServer;
    http?.closeAllConnections();
    await server?.close().catch(() => {});
  }

  /** A client of this server, as the pageserver would configure it. */
  storage(prefixInBucket = "ps"): S3RemoteStorage {
    return new S3RemoteStorage({
      bucketName: S3_BUCKET,
      bucketRegion: "us-east-1",
      endpoint: this.endpoint,
      prefixInBucket,
      credentials: S3_CREDENTIALS,
      timeoutMs: 5000,
      smallTimeoutMs: 5000,
    });
  }

  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.directory, { recursive: true, force: true });
  }
}
