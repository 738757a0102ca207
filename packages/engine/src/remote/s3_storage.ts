/**
 * Remote storage in S3 (or any S3 API: MinIO, s3rver) through @aws-sdk/client-s3.
 *
 * - Keys live under `prefix_in_bucket` when set.
 * - At most `concurrency_limit` requests run at once (a semaphore); each has a timeout
 *   (`timeout` for transfers, `small_timeout` for list and delete).
 * - The SDK's own retries are off (maxAttempts 1): the caller's back-off sees every failure and
 *   can stop on shutdown.
 * - Checksums are computed only when required: with the SDK's default, a streamed PutObject is
 *   sent with aws-chunked framing, which some S3 implementations store verbatim (stack-notes).
 */

import { randomBytes } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { open, rename, rm, stat } from "node:fs/promises";
import path from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import {
  DeleteObjectsCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type StorageClass,
} from "@aws-sdk/client-s3";
import { fsyncDirectory } from "../io/durable_fs.ts";
import {
  LocalSourceError,
  RemoteNotFoundError,
  type RemoteObject,
  type RemoteStorage,
  RemoteStorageError,
} from "./remote_storage.ts";

export interface S3StorageOptions {
  readonly bucketName: string;
  readonly bucketRegion: string;
  readonly prefixInBucket?: string | undefined;
  readonly endpoint?: string | undefined;
  readonly concurrencyLimit?: number;
  readonly timeoutMs?: number;
  readonly smallTimeoutMs?: number;
  /** Neon's max_keys_per_list_response: the page size of ListObjectsV2 (S3 caps it at 1000). */
  readonly maxKeysPerList?: number | undefined;
  /** Neon's upload_storage_class: the StorageClass of uploaded objects. */
  readonly uploadStorageClass?: string | undefined;
  /** Static credentials; otherwise the SDK's default chain (AWS_ACCESS_KEY_ID…). */
  readonly credentials?: { accessKeyId: string; secretAccessKey: string };
}

const SILENT_SDK_LOGGER = {
  trace() {},
  debug() {},
  info() {},
  warn() {},
  error() {},
};

class Semaphore {
  private available: number;
  private readonly waiting: Array<() => void> = [];
  constructor(permits: number) {
    this.available = permits;
  }
  async acquire(): Promise<() => void> {
    if (this.available > 0) this.available--;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next) next();
      else this.available++;
    };
  }
}

function classify(key: string, error: unknown, timedOut: boolean): RemoteStorageError {
  if (error instanceof RemoteStorageError) return error;
  const e = error as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const status = e.$metadata?.httpStatusCode;
  if (e.name === "NoSuchKey" || e.name === "NotFound" || status === 404)
    return new RemoteNotFoundError(key, error);
  const transient =
    timedOut ||
    status === undefined ||
    status >= 500 ||
    status === 429 ||
    e.name === "SlowDown" ||
    e.name === "RequestTimeout";
  const why = timedOut
    ? "timed out"
    : `${e.name ?? "error"}${status ? ` (HTTP ${status})` : ""}: ${e.message ?? String(error)}`;
  return new RemoteStorageError(`S3 request for ${key} failed: ${why}`, {
    key,
    transient,
    cause: error,
  });
}

export class S3RemoteStorage implements RemoteStorage {
  private readonly client: S3Client;
  private readonly options: S3StorageOptions;
  private readonly semaphore: Semaphore;
  private readonly prefix: string;

  constructor(options: S3StorageOptions) {
    this.options = options;
    this.prefix = options.prefixInBucket ? `${options.prefixInBucket.replace(/\/+$/, "")}/` : "";
    this.semaphore = new Semaphore(options.concurrencyLimit ?? 100);
    this.client = new S3Client({
      region: options.bucketRegion,
      ...(options.endpoint ? { endpoint: options.endpoint, forcePathStyle: true } : {}),
      ...(options.credentials ? { credentials: options.credentials } : {}),
      maxAttempts: 1,
      // The SDK would print its own warnings to the console; our retry loop logs every failure.
      logger: SILENT_SDK_LOGGER,
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
    });
  }

  get description(): string {
    return `s3://${this.options.bucketName}/${this.prefix}${this.options.endpoint ? ` at ${this.options.endpoint}` : ""}`;
  }

  /** Runs one request under the semaphore with a timeout, mapping errors. */
  private async request<T>(
    key: string,
    small: boolean,
    signal: AbortSignal | undefined,
    send: (abortSignal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    const release = await this.semaphore.acquire();
    const timeout = small
      ? (this.options.smallTimeoutMs ?? 30_000)
      : (this.options.timeoutMs ?? 120_000);
    const timer = new AbortController();
    const handle = setTimeout(() => timer.abort(), timeout);
    const abortSignal = signal ? AbortSignal.any([signal, timer.signal]) : timer.signal;
    try {
      return await send(abortSignal);
    } catch (error) {
      throw classify(key, error, timer.signal.aborted);
    } finally {
      clearTimeout(handle);
      release();
    }
  }

  async upload(
    key: string,
    source: { file: string } | { data: Buffer },
    signal?: AbortSignal,
  ): Promise<void> {
    let length: number;
    if ("file" in source) {
      // Checked before the request: a missing source is permanent, a refused connection is not.
      try {
        length = (await stat(source.file)).size;
      } catch (error) {
        throw new LocalSourceError(key, source.file, error);
      }
    } else length = source.data.length;
    await this.request(key, false, signal, async (abortSignal) => {
      const body = "file" in source ? createReadStream(source.file) : source.data;
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.options.bucketName,
          Key: this.prefix + key,
          Body: body,
          ContentLength: length,
          ...(this.options.uploadStorageClass
            ? { StorageClass: this.options.uploadStorageClass as StorageClass }
            : {}),
        }),
        { abortSignal },
      );
    });
  }

  async downloadToFile(key: string, file: string, signal?: AbortSignal): Promise<number> {
    const temp = `${file}.${randomBytes(6).toString("hex")}.___temp`;
    try {
      await this.request(key, false, signal, async (abortSignal) => {
        const response = await this.client.send(
          new GetObjectCommand({ Bucket: this.options.bucketName, Key: this.prefix + key }),
          {
            abortSignal,
          },
        );
        await pipeline(response.Body as Readable, createWriteStream(temp));
      });
      const handle = await open(temp, "r");
      await handle.sync();
      await handle.close();
      await rename(temp, file);
      await fsyncDirectory(path.dirname(file));
      return (await stat(file)).size;
    } catch (error) {
      await rm(temp, { force: true }).catch(() => {});
      throw error instanceof RemoteStorageError ? error : classify(key, error, false);
    }
  }

  async download(key: string, signal?: AbortSignal): Promise<Buffer> {
    return this.request(key, false, signal, async (abortSignal) => {
      const response = await this.client.send(
        new GetObjectCommand({ Bucket: this.options.bucketName, Key: this.prefix + key }),
        {
          abortSignal,
        },
      );
      return Buffer.from(await response.Body!.transformToByteArray());
    });
  }

  /**
   * ListObjectsV2, page by page. (s3rver 3.7.1 on Node 20 answers 500 to any truncated page: it
   * builds continuation tokens with DES, which OpenSSL 3 refuses. Tests stay under 1000 keys.)
   */
  async list(prefix: string, signal?: AbortSignal): Promise<RemoteObject[]> {
    const out: RemoteObject[] = [];
    let token: string | undefined;
    do {
      const page = await this.request(prefix, true, signal, (abortSignal) =>
        this.client.send(
          new ListObjectsV2Command({
            Bucket: this.options.bucketName,
            Prefix: this.prefix + prefix,
            ContinuationToken: token,
            ...(this.options.maxKeysPerList ? { MaxKeys: this.options.maxKeysPerList } : {}),
          }),
          { abortSignal },
        ),
      );
      for (const object of page.Contents ?? []) {
        if (object.Key)
          out.push({ key: object.Key.slice(this.prefix.length), size: object.Size ?? 0 });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out;
  }

  async delete(keys: readonly string[], signal?: AbortSignal): Promise<void> {
    for (let at = 0; at < keys.length; at += 1000) {
      const batch = keys.slice(at, at + 1000);
      const result = await this.request(batch[0]!, true, signal, (abortSignal) =>
        this.client.send(
          new DeleteObjectsCommand({
            Bucket: this.options.bucketName,
            Delete: { Objects: batch.map((key) => ({ Key: this.prefix + key })), Quiet: true },
          }),
          { abortSignal },
        ),
      );
      const failed = (result.Errors ?? []).filter((e) => e.Code !== "NoSuchKey");
      if (failed.length > 0) {
        const first = failed[0]!;
        throw new RemoteStorageError(
          `S3 delete of ${first.Key} failed: ${first.Code}: ${first.Message}`,
          {
            key: first.Key ?? batch[0]!,
            transient: first.Code === "InternalError" || first.Code === "SlowDown",
          },
        );
      }
    }
  }

  destroy(): void {
    this.client.destroy();
  }
}
