/**
 * The tenants of one pageserver: loaded from `<workdir>/tenants/` at start-up, created and
 * detached through location configs (Neon's `location_config`), deleted, shut down together.
 *
 * Generations come from a counter persisted in `<workdir>/generation` (there is no control plane
 * to issue them): every attach takes the next value, so a tenant's generation only grows. With
 * remote storage, an attach also takes a generation above every one the tenant's objects carry:
 * another pageserver's counter knows nothing of ours, and reusing a generation would overwrite an
 * earlier attachment's objects.
 *
 * A detach first waits until remote storage holds everything (Tenant.flushToRemote): the local
 * files are the only copy of what is not uploaded yet.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { rm } from "node:fs/promises";
import path from "node:path";
import {
  CorruptionError,
  InvalidArgumentError,
  NotFoundError,
  PageserverError,
  PreconditionError,
} from "../errors.ts";
import { saveGcBlocking } from "../gc/gc_block.ts";
import { asGeneration, type Generation, isId, type TenantId } from "../ids.ts";
import { fsyncDirectory, TEMP_FILE_SUFFIX, writeFileDurably } from "../io/durable_fs.ts";
import {
  downloadLatestIndex,
  highestRemoteGeneration,
  listRemoteTimelines,
} from "../remote/remote_index.ts";
import { tenantPrefix } from "../remote/remote_paths.ts";
import type { LayerIo } from "../storage_layer/layer_file_reader.ts";
import { localLayerFileName } from "../storage_layer/layer_name.ts";
import { saveArchivedAt } from "../timeline/archival.ts";
import { METADATA_FILE_NAME, saveMetadata } from "../timeline/metadata.ts";
import { Timeline } from "../timeline/timeline.ts";
import { type Logger, silentLogger } from "../util/logger.ts";
import {
  LOCATION_CONF_FILE_NAME,
  type LocationMode,
  loadLocationConf,
  saveLocationConf,
} from "./location_conf.ts";
import { Tenant, type TenantRemote } from "./tenant.ts";
import { parseTenantConfig, type TenantConfigKnobs } from "./tenant_config.ts";

export interface TenantManagerOptions {
  readonly workdir: string;
  readonly io: LayerIo;
  readonly logger?: Logger;
  readonly waitLsnTimeoutMs?: number;
  readonly tenantConfigDefaults?: TenantConfigKnobs;
  /** Remote storage and the deletion queue, when configured. */
  readonly remote?: TenantRemote | null;
  /** How long a detach waits for uploads before refusing (default 60 s). */
  readonly detachUploadTimeoutMs?: number;
}

export interface LocationRequest {
  readonly mode: LocationMode;
  readonly generation?: number | null;
  readonly tenantConf?: unknown;
}

const GENERATION_FILE = "generation";

export class TenantManager {
  readonly workdir: string;
  readonly io: LayerIo;
  readonly log: Logger;
  private readonly tenants = new Map<TenantId, Tenant>();
  private readonly waitLsnTimeoutMs: number | undefined;
  private readonly tenantConfigDefaults: TenantConfigKnobs;
  readonly remote: TenantRemote | null;
  private readonly detachUploadTimeoutMs: number;
  private generationCounter = 0;
  /** Serialises operations per tenant (create/detach/delete must not interleave). */
  private readonly locks = new Map<TenantId, Promise<unknown>>();

  constructor(options: TenantManagerOptions) {
    this.workdir = options.workdir;
    this.io = options.io;
    this.log = options.logger ?? silentLogger;
    this.waitLsnTimeoutMs = options.waitLsnTimeoutMs;
    this.tenantConfigDefaults = options.tenantConfigDefaults ?? {};
    this.remote = options.remote ?? null;
    this.detachUploadTimeoutMs = options.detachUploadTimeoutMs ?? 60_000;
  }

  private tenantOptions(): {
    logger: Logger;
    configDefaults: TenantConfigKnobs;
    remote: TenantRemote | null;
    waitLsnTimeoutMs?: number;
  } {
    return {
      logger: this.log,
      configDefaults: this.tenantConfigDefaults,
      remote: this.remote,
      ...(this.waitLsnTimeoutMs === undefined ? {} : { waitLsnTimeoutMs: this.waitLsnTimeoutMs }),
    };
  }

  get tenantsDirectory(): string {
    return path.join(this.workdir, "tenants");
  }

  tenantDirectory(tenantId: TenantId): string {
    return path.join(this.tenantsDirectory, tenantId);
  }

  /** Scans the tenants directory; a tenant that fails to load is Broken, not fatal. */
  async load(): Promise<void> {
    mkdirSync(this.tenantsDirectory, { recursive: true });
    const counterFile = path.join(this.workdir, GENERATION_FILE);
    if (existsSync(counterFile)) {
      const value = Number(readFileSync(counterFile, "utf8").trim());
      if (!Number.isInteger(value) || value < 0)
        throw new CorruptionError(`${counterFile} does not hold a generation`, {
          file: counterFile,
        });
      this.generationCounter = value;
    }
    for (const entry of readdirSync(this.tenantsDirectory)) {
      const directory = path.join(this.tenantsDirectory, entry);
      if (entry.endsWith(TEMP_FILE_SUFFIX)) {
        rmSync(directory, { recursive: true, force: true });
        continue;
      }
      if (!isId(entry)) {
        this.log.warn({ entry }, "ignoring unexpected entry in tenants directory");
        continue;
      }
      const tenantId = entry as TenantId;
      const tenant = await Tenant.load({
        tenantId,
        directory,
        io: this.io,
        ...this.tenantOptions(),
      });
      if (tenant.generation !== null && tenant.generation > this.generationCounter)
        this.generationCounter = tenant.generation;
      this.tenants.set(tenantId, tenant);
    }
    this.log.info({ tenants: this.tenants.size }, "tenants loaded");
  }

  list(): Tenant[] {
    return [...this.tenants.values()];
  }

  get(tenantId: TenantId): Tenant {
    const tenant = this.tenants.get(tenantId);
    if (!tenant) throw new NotFoundError(`tenant ${tenantId} not found`, { tenantId });
    return tenant;
  }

  tryGet(tenantId: TenantId): Tenant | undefined {
    return this.tenants.get(tenantId);
  }

  private async exclusive<T>(tenantId: TenantId, work: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(tenantId) ?? Promise.resolve();
    const next = previous.catch(() => {}).then(work);
    this.locks.set(tenantId, next);
    try {
      return await next;
    } finally {
      if (this.locks.get(tenantId) === next) this.locks.delete(tenantId);
    }
  }

  /** The next generation, persisted before it is used. */
  async nextGeneration(requested?: number | null): Promise<Generation> {
    const next = Math.max(this.generationCounter + 1, requested ?? 0);
    await writeFileDurably(path.join(this.workdir, GENERATION_FILE), `${next}\n`);
    this.generationCounter = next;
    return asGeneration(next);
  }

  /**
   * Neon's location_config: AttachedSingle/Multi/Stale create the tenant if absent (with a new
   * generation) or update its config; Detached removes it locally (idempotent). Secondary
   * locations are not supported.
   */
  async setLocation(tenantId: TenantId, request: LocationRequest): Promise<Tenant | null> {
    const tenantConf: TenantConfigKnobs = parseTenantConfig(request.tenantConf ?? {});
    return this.exclusive(tenantId, async () => {
      const existing = this.tenants.get(tenantId);
      if (request.mode === "Detached") {
        if (existing) await this.detachLocked(tenantId, existing);
        return null;
      }
      if (request.mode === "Secondary") {
        throw new PageserverError(
          "PS_ERR_UNSUPPORTED",
          "Secondary locations are not supported by this pageserver",
          { tenantId },
        );
      }
      if (existing) {
        await existing.setConfig(tenantConf);
        return existing;
      }
      let requested = request.generation ?? null;
      if (this.remote) {
        const highest = await highestRemoteGeneration(this.remote.storage, tenantId);
        if (highest !== null) requested = Math.max(requested ?? 0, highest + 1);
      }
      const generation = await this.nextGeneration(requested);
      if (
        this.remote &&
        (await this.prepareFromRemote(tenantId, generation, request.mode, tenantConf))
      ) {
        const attached = await Tenant.load({
          tenantId,
          directory: this.tenantDirectory(tenantId),
          io: this.io,
          ...this.tenantOptions(),
        });
        this.tenants.set(tenantId, attached);
        this.log.info(
          { tenant_id: tenantId, generation, timelines: attached.timelines().length },
          "tenant attached from remote storage",
        );
        return attached;
      }
      const tenant = await Tenant.create({
        tenantId,
        directory: this.tenantDirectory(tenantId),
        io: this.io,
        conf: { mode: request.mode, generation, tenantConf },
        ...this.tenantOptions(),
      });
      this.tenants.set(tenantId, tenant);
      this.log.info({ tenant_id: tenantId, generation }, "tenant attached");
      return tenant;
    });
  }

  /**
   * Attach onto an empty disk: writes the tenant directory from remote storage — each timeline's
   * metadata from its newest index, every layer recorded as evicted (downloaded on demand).
   * Returns false when remote storage holds nothing for the tenant.
   */
  private async prepareFromRemote(
    tenantId: TenantId,
    generation: Generation,
    mode: LocationMode,
    tenantConf: TenantConfigKnobs,
  ): Promise<boolean> {
    const storage = this.remote!.storage;
    const timelineIds = await listRemoteTimelines(storage, tenantId);
    if (timelineIds.length === 0) return false;
    const directory = this.tenantDirectory(tenantId);
    const staging = `${directory}${TEMP_FILE_SUFFIX}`;
    rmSync(staging, { recursive: true, force: true });
    for (const timelineId of timelineIds) {
      // Our generation is above every remote one, so this is the newest index.
      const found = await downloadLatestIndex(storage, tenantId, timelineId, generation);
      if (!found || found.index.deletedAt !== null) continue;
      const timelineDirectory = path.join(staging, "timelines", timelineId);
      mkdirSync(timelineDirectory, { recursive: true });
      const { index } = found;
      await saveMetadata(path.join(timelineDirectory, METADATA_FILE_NAME), {
        ...index.metadata,
        diskConsistentLsn: index.diskConsistentLsn,
      });
      // Every layer starts evicted: the first read that needs one downloads it.
      await saveGcBlocking(timelineDirectory, index.gcBlocking);
      await saveArchivedAt(timelineDirectory, index.archivedAt);
      await Timeline.writeEvictedNames(
        timelineDirectory,
        [...index.layers.values()].map((layer) => ({
          file: localLayerFileName(layer.name, layer.generation),
          size: layer.fileSize,
        })),
      );
      await fsyncDirectory(path.dirname(timelineDirectory));
    }
    await saveLocationConf(path.join(staging, LOCATION_CONF_FILE_NAME), {
      mode,
      generation,
      tenantConf,
    });
    renameSync(staging, directory);
    await fsyncDirectory(this.tenantsDirectory);
    return true;
  }

  private async detachLocked(tenantId: TenantId, tenant: Tenant): Promise<void> {
    if (tenant.state.slug === "Active") await tenant.flushToRemote(this.detachUploadTimeoutMs);
    await tenant.shutdown({ flush: true });
    this.tenants.delete(tenantId);
    await this.removeDirectory(tenantId);
    this.log.info({ tenant_id: tenantId }, "tenant detached");
  }

  private async removeDirectory(tenantId: TenantId): Promise<void> {
    const directory = this.tenantDirectory(tenantId);
    if (!existsSync(directory)) return;
    const doomed = `${directory}${TEMP_FILE_SUFFIX}`;
    renameSync(directory, doomed);
    await fsyncDirectory(this.tenantsDirectory);
    await rm(doomed, { recursive: true, force: true });
  }

  /**
   * Neon's tenant reset: shuts the tenant down (open layers flushed) and loads it again, as a
   * process restart would — the way out of a Broken state whose cause was fixed. With
   * `dropCache`, the local copy is dropped too and the tenant attaches afresh from remote storage
   * (every layer evicted, downloaded on demand), under a new generation; it first waits until
   * remote storage holds everything, so nothing is lost, and is refused without remote storage,
   * where the local copy is the only one.
   */
  async reset(tenantId: TenantId, options: { dropCache: boolean }): Promise<Tenant> {
    return this.exclusive(tenantId, async () => {
      const tenant = this.get(tenantId);
      const directory = this.tenantDirectory(tenantId);
      if (options.dropCache) {
        if (!this.remote)
          throw new InvalidArgumentError(
            `cannot reset tenant ${tenantId} with drop_cache: no remote_storage is configured, the local copy is the only one`,
            { tenantId },
          );
        if (tenant.state.slug !== "Active")
          throw new PreconditionError(
            `cannot reset tenant ${tenantId} with drop_cache: it is ${tenant.state.slug}, so its uploads cannot be confirmed`,
            { tenantId },
          );
        const { mode, tenantConf } = loadLocationConf(
          path.join(directory, LOCATION_CONF_FILE_NAME),
        );
        await tenant.flushToRemote(this.detachUploadTimeoutMs);
        await tenant.shutdown({ flush: true });
        this.tenants.delete(tenantId);
        await this.removeDirectory(tenantId);
        const generation = await this.nextGeneration(
          ((await highestRemoteGeneration(this.remote.storage, tenantId)) ?? 0) + 1,
        );
        if (!(await this.prepareFromRemote(tenantId, generation, mode, tenantConf)))
          throw new CorruptionError(
            `tenant ${tenantId} was flushed to remote storage but has no timelines there`,
            { tenantId },
          );
      } else {
        await tenant.shutdown({ flush: true });
        this.tenants.delete(tenantId);
      }
      const loaded = await Tenant.load({
        tenantId,
        directory,
        io: this.io,
        ...this.tenantOptions(),
      });
      this.tenants.set(tenantId, loaded);
      this.log.info(
        { tenant_id: tenantId, drop_cache: options.dropCache, state: loaded.state.slug },
        "tenant reset",
      );
      return loaded;
    });
  }

  /** Deletes a tenant and all its data, local and remote. */
  async delete(tenantId: TenantId): Promise<void> {
    await this.exclusive(tenantId, async () => {
      const tenant = this.get(tenantId);
      await tenant.shutdown({ flush: false });
      this.tenants.delete(tenantId);
      await tenant.deleteRemotePrefix(tenantPrefix(tenantId), "*");
      await this.removeDirectory(tenantId);
      this.log.info({ tenant_id: tenantId }, "tenant deleted");
    });
  }

  /** Shuts every tenant down (in parallel). */
  async shutdown(options: { flush: boolean }): Promise<void> {
    await Promise.all(this.list().map((tenant) => tenant.shutdown(options)));
  }
}
