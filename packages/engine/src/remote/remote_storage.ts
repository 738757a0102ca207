/**
 * Remote storage behind one interface, with two backends: a local directory (the embedded
 * default, Neon's `remote_storage = { local_path = … }`) and S3. Objects are whole files named
 * by `/`-separated keys (Neon's layout, see remote_paths.ts).
 *
 * Errors: a `RemoteStorageError` names the object key and says whether retrying may help
 * (`transient`: network errors, timeouts, 5xx, throttling) or not (missing object, access
 * denied). Callers that must eventually succeed (the upload queue) retry transient errors with
 * back-off until shutdown.
 */
import { PageserverError } from "../errors.ts";

export interface RemoteObject {
  readonly key: string;
  readonly size: number;
}

export interface RemoteStorage {
  /** A description for logs ("local /path", "s3://bucket/prefix"). */
  readonly description: string;
  /** Uploads a local file (streamed) or a buffer to `key`, replacing any object there. */
  upload(
    key: string,
    source: { file: string } | { data: Buffer },
    signal?: AbortSignal,
  ): Promise<void>;
  /** Downloads `key` into a local file (written to a temp name, fsynced, renamed). Returns its size. */
  downloadToFile(key: string, file: string, signal?: AbortSignal): Promise<number>;
  /** Downloads `key` into memory (small objects: index_part.json). */
  download(key: string, signal?: AbortSignal): Promise<Buffer>;
  /** Every object whose key starts with `prefix`. */
  list(prefix: string, signal?: AbortSignal): Promise<RemoteObject[]>;
  /** Deletes objects; missing ones are not an error. */
  delete(keys: readonly string[], signal?: AbortSignal): Promise<void>;
}

export class RemoteStorageError extends PageserverError {
  readonly transient: boolean;
  readonly key: string;

  constructor(message: string, options: { key: string; transient: boolean; cause?: unknown }) {
    super(
      options.transient ? "PS_ERR_REMOTE_TRANSIENT" : "PS_ERR_REMOTE",
      message,
      { object: options.key },
      options.cause,
    );
    this.transient = options.transient;
    this.key = options.key;
  }
}

/** The object does not exist. */
export class RemoteNotFoundError extends RemoteStorageError {
  constructor(key: string, cause?: unknown) {
    super(`remote object ${key} not found`, { key, transient: false, cause });
  }
}

/** A local file an upload reads is missing or unreadable: retrying the upload cannot help. */
export class LocalSourceError extends RemoteStorageError {
  constructor(key: string, file: string, cause: unknown) {
    super(`cannot upload ${key}: local file ${file}: ${(cause as Error).message}`, {
      key,
      transient: false,
      cause,
    });
  }
}

export interface RetryOptions {
  readonly signal?: AbortSignal;
  /** First back-off (default 100 ms); each retry doubles it up to `delayMsMax`. */
  readonly delayMsBase?: number;
  readonly delayMsMax?: number;
  /** Give up after this many attempts (default: never, until the signal aborts). */
  readonly attemptsMax?: number;
  /**
   * Retry permanent errors too, at the maximum back-off (the upload queue: an operator can fix
   * access rights or a bucket, and dropping an operation would break the queue's ordering).
   */
  readonly retryPermanent?: boolean;
  readonly onRetry?: (error: RemoteStorageError, attempt: number, delayMs: number) => void;
}

/** Sleeps `ms`, or less if `signal` aborts. */
export function abortableDelay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}

/**
 * Runs `operation`, retrying transient RemoteStorageErrors with exponential back-off
 * (`delayMsBase` × 2ⁿ, capped at `delayMsMax`). Anything that is not a RemoteStorageError is a
 * bug or a local problem and is thrown at once.
 */
export async function withRetries<T>(
  operation: () => Promise<T>,
  options: RetryOptions = {},
): Promise<T> {
  const delayMsMax = options.delayMsMax ?? 10_000;
  const delayMsBase = options.delayMsBase ?? 100;
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation();
    } catch (error) {
      if (!(error instanceof RemoteStorageError)) throw error;
      const retryable = error.transient || options.retryPermanent === true;
      if (
        !retryable ||
        options.signal?.aborted ||
        attempt >= (options.attemptsMax ?? Number.POSITIVE_INFINITY)
      )
        throw error;
      const delayMs = error.transient
        ? Math.min(delayMsMax, delayMsBase * 2 ** Math.min(attempt - 1, 16))
        : delayMsMax;
      options.onRetry?.(error, attempt, delayMs);
      await abortableDelay(delayMs, options.signal);
      if (options.signal?.aborted) throw error;
    }
  }
}
