/**
 * Remote storage from `pageserver.toml`: `remote_storage = { local_path = … }` (relative to the
 * workdir) or S3 `{ bucket_name, bucket_region, prefix_in_bucket, endpoint, concurrency_limit,
 * max_keys_per_list_response, upload_storage_class, timeout, small_timeout }`, credentials from
 * the usual AWS environment variables.
 */
import path from "node:path";
import {
  LocalFsRemoteStorage,
  parseDuration,
  type RemoteStorage,
  S3RemoteStorage,
} from "@pageserver/engine";
import type { PageserverConfig } from "../config/pageserver_config.ts";

export function createRemoteStorage(config: PageserverConfig): RemoteStorage | null {
  const settings = config.remoteStorage;
  if (!settings) return null;
  if ("local_path" in settings)
    return new LocalFsRemoteStorage(path.resolve(config.workdir, settings.local_path));
  const accessKeyId = process.env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = process.env.AWS_SECRET_ACCESS_KEY;
  return new S3RemoteStorage({
    bucketName: settings.bucket_name,
    bucketRegion: settings.bucket_region,
    prefixInBucket: settings.prefix_in_bucket,
    endpoint: settings.endpoint,
    concurrencyLimit: settings.concurrency_limit,
    maxKeysPerList: settings.max_keys_per_list_response,
    uploadStorageClass: settings.upload_storage_class,
    timeoutMs: parseDuration(settings.timeout),
    smallTimeoutMs: parseDuration(settings.small_timeout),
    ...(accessKeyId && secretAccessKey ? { credentials: { accessKeyId, secretAccessKey } } : {}),
  });
}
