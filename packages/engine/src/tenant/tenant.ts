/**
 * A tenant: a directory of timelines sharing one config and one generation.
 *
 *     <workdir>/tenants/<tenant_id>/config-v1
 *     <workdir>/tenants/<tenant_id>/timelines/<timeline_id>/{metadata.json, wal_source.json, <layers>}
 *
 * The tenant owns timeline lifecycle (create, branch, delete, load in ancestor order), the WAL
 * sources feeding its timelines, its config, and a once-a-second tick (checkpoint_timeout).
 *
 * # Crash consistency
 * A timeline is created in `<id>___temp` and renamed into place once its metadata is durable;
 * loading removes leftovers. Deletion renames the directory to `<id>___temp` first, so a crash
 * mid-deletion leaves either the whole timeline or nothing.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { rm } from "node:fs/promises";
import path from "node:path";
import { assert } from "../assert.ts";
import {
  type CompactionRun,
  type CompactOptions,
  compactTimeline,
} from "../compaction/compaction.ts";
import {
  ConflictError,
  CorruptionError,
  InvalidBranchLsnError,
  NotFoundError,
  PageserverError,
  PreconditionError,
  UnavailableError,
} from "../errors.ts";
import { evictByThreshold } from "../eviction/eviction.ts";
import { emptyGcResult, type GcResult, gcTimeline } from "../gc/gc.ts";
import { gcBlockingSummary } from "../gc/gc_block.ts";
import { type Generation, parseTimelineId, type TenantId, type TimelineId } from "../ids.ts";
import { IngestLoop } from "../ingest/ingest_loop.ts";
import { fsyncDirectory, TEMP_FILE_SUFFIX, writeFileDurably } from "../io/durable_fs.ts";
import { alignLsn, formatLsn, type Lsn, parseLsn } from "../lsn.ts";
import type { DeletionQueue } from "../remote/deletion_queue.ts";
import { remoteLayerKey, timelinePrefix } from "../remote/remote_paths.ts";
import { type RemoteStorage, RemoteStorageError, withRetries } from "../remote/remote_storage.ts";
import { RemoteTimelineClient } from "../remote/remote_timeline_client.ts";
import type { LayerIo } from "../storage_layer/layer_file_reader.ts";
import {
  initialMetadata,
  loadMetadata,
  METADATA_FILE_NAME,
  saveMetadata,
  type TimelineMetadata,
} from "../timeline/metadata.ts";
import { Timeline } from "../timeline/timeline.ts";
import { abortableSleep } from "../util/abortable_sleep.ts";
import { type Logger, silentLogger } from "../util/logger.ts";
import { WalGenerator } from "../wal_generator/wal_generator.ts";
import {
  LOCATION_CONF_FILE_NAME,
  type LocationConf,
  loadLocationConf,
  saveLocationConf,
} from "./location_conf.ts";
import {
  effectiveTenantConfigJson,
  parseTenantConfig,
  patchTenantConfig,
  resolveTenantConfig,
  type TenantConfig,
  type TenantConfigKnobs,
} from "./tenant_config.ts";
import { checkTransition, type TenantState } from "./tenant_state.ts";

/** The LSN a bootstrapped timeline starts at (where initdb's WAL would end). */
export const BOOTSTRAP_INITDB_LSN = 0x0100_0028 as Lsn;
export const DEFAULT_PG_VERSION = 15;
export const WAL_SOURCE_FILE_NAME = "wal_source.json";
const TICK_INTERVAL_MS = 1000;

export interface CreateTimelineRequest {
  readonly newTimelineId: TimelineId;
  readonly ancestorTimelineId?: TimelineId | null;
  readonly ancestorStartLsn?: Lsn | null;
  readonly pgVersion?: number | null;
}

/**
 * What feeds a timeline, persisted next to it (our extension of Neon's API). The generator is
 * deterministic from its parameters and the LSN it started at, so a restart resumes it exactly.
 */
export interface WalSourceSpec {
  readonly kind: "generator";
  readonly params: Record<string, unknown>;
  /** The LSN the source started after (set when attached). */
  readonly start_lsn: string;
}

export interface TenantOptions {
  readonly tenantId: TenantId;
  readonly directory: string;
  readonly io: LayerIo;
  readonly conf: LocationConf;
  readonly logger?: Logger;
  readonly waitLsnTimeoutMs?: number;
  /** The pageserver's `tenant_config` section: defaults under this tenant's overrides. */
  readonly configDefaults?: TenantConfigKnobs;
  /** Remote storage and the deletion queue, when configured. */
  readonly remote?: TenantRemote | null;
}

export interface TenantRemote {
  readonly storage: RemoteStorage;
  readonly deletionQueue: DeletionQueue;
  /** Back-off cap of the upload queues (default 10 s); tests shorten it. */
  readonly retryDelayMsMax?: number;
}

export class Tenant {
  readonly tenantId: TenantId;
  readonly directory: string;
  readonly io: LayerIo;
  readonly log: Logger;
  private stateValue: TenantState = { slug: "Attaching" };
  private location: LocationConf;
  private resolved: TenantConfig;
  private readonly timelinesById = new Map<TimelineId, Timeline>();
  private readonly ingestLoops = new Map<TimelineId, IngestLoop>();
  private readonly creating = new Set<TimelineId>();
  private tickTimer: NodeJS.Timeout | null = null;
  private readonly background = new AbortController();
  private readonly backgroundLoops: Promise<void>[] = [];
  /** GC waits until then after a load or attach: leases held before are gone (Neon's lease deadline). */
  private gcBlockedUntilMs = 0;
  readonly waitLsnTimeoutMs: number;
  readonly configDefaults: TenantConfigKnobs;
  readonly remote: TenantRemote | null;
  readonly attachedAtMs = Date.now();

  constructor(options: TenantOptions) {
    this.tenantId = options.tenantId;
    this.directory = options.directory;
    this.io = options.io;
    this.location = options.conf;
    this.configDefaults = options.configDefaults ?? {};
    this.remote = options.remote ?? null;
    this.resolved = resolveTenantConfig(options.conf.tenantConf, this.configDefaults);
    this.log = (options.logger ?? silentLogger).child({ tenant_id: this.tenantId });
    this.waitLsnTimeoutMs = options.waitLsnTimeoutMs ?? 300_000;
  }

  get state(): TenantState {
    return this.stateValue;
  }

  get generation(): Generation {
    return this.location.generation;
  }

  get config(): TenantConfig {
    return this.resolved;
  }

  get configOverrides(): TenantConfigKnobs {
    return this.location.tenantConf;
  }

  /** The effective config in Neon's JSON shape. */
  effectiveConfigJson(): Record<string, unknown> {
    return effectiveTenantConfigJson(this.location.tenantConf, this.configDefaults);
  }

  get timelinesDirectory(): string {
    return path.join(this.directory, "timelines");
  }

  private setState(state: TenantState): void {
    checkTransition(this.stateValue, state);
    this.stateValue = state;
    this.log.info({ state: state.slug }, "tenant state changed");
  }

  setBroken(reason: string): void {
    if (this.stateValue.slug === "Stopping" || this.stateValue.slug === "Broken") return;
    this.setState({ slug: "Broken", reason });
  }

  // --- Creation and loading ----------------------------------------------------------------

  /** Writes the tenant directory and config (a new tenant, or one attached from elsewhere). */
  static async create(options: TenantOptions): Promise<Tenant> {
    mkdirSync(path.join(options.directory, "timelines"), { recursive: true });
    await saveLocationConf(path.join(options.directory, LOCATION_CONF_FILE_NAME), options.conf);
    await fsyncDirectory(path.dirname(options.directory));
    const tenant = new Tenant(options);
    tenant.setState({ slug: "Activating" });
    tenant.activate();
    return tenant;
  }

  /**
   * Loads a tenant directory: its config, then its timelines in ancestor order, reconciled with
   * remote storage when configured (evicted layers known, missing uploads scheduled).
   */
  static async load(options: Omit<TenantOptions, "conf">): Promise<Tenant> {
    const conf = loadLocationConf(path.join(options.directory, LOCATION_CONF_FILE_NAME));
    const tenant = new Tenant({ ...options, conf });
    tenant.gcBlockedUntilMs = Date.now() + tenant.config.lsnLeaseLengthMs;
    try {
      tenant.loadTimelines();
      for (const timeline of tenant.timelines()) await tenant.connectLoadedTimeline(timeline);
      tenant.setState({ slug: "Activating" });
      tenant.activate();
    } catch (error) {
      const reason = error instanceof PageserverError ? error.message : String(error);
      tenant.log.error({ err: error }, "tenant failed to load");
      tenant.setBroken(reason);
    }
    return tenant;
  }

  private loadTimelines(): void {
    mkdirSync(this.timelinesDirectory, { recursive: true });
    const pending = new Map<TimelineId, TimelineMetadata>();
    for (const entry of readdirSync(this.timelinesDirectory)) {
      const dir = path.join(this.timelinesDirectory, entry);
      if (entry.endsWith(TEMP_FILE_SUFFIX)) {
        rmSync(dir, { recursive: true, force: true });
        continue;
      }
      const timelineId = parseTimelineId(entry);
      pending.set(timelineId, loadMetadata(path.join(dir, METADATA_FILE_NAME)));
    }
    // Parents before children.
    while (pending.size > 0) {
      let progressed = false;
      for (const [timelineId, metadata] of pending) {
        if (
          metadata.ancestorTimeline !== null &&
          !this.timelinesById.has(metadata.ancestorTimeline)
        )
          continue;
        const timeline = this.makeTimeline(timelineId, metadata);
        timeline.loadLayers();
        this.timelinesById.set(timelineId, timeline);
        pending.delete(timelineId);
        progressed = true;
      }
      if (!progressed) {
        const [orphan, metadata] = pending.entries().next().value as [TimelineId, TimelineMetadata];
        throw new CorruptionError(
          `timeline ${orphan} names ancestor ${metadata.ancestorTimeline}, which does not exist`,
          {
            tenantId: this.tenantId,
            timelineId: orphan,
          },
        );
      }
    }
  }

  /**
   * Gives a timeline its upload queue, starting from the newest remote index at or below our
   * generation: local layers it names (same generation) are uploaded; local ones it does not
   * name get uploaded; ones it names that the layer map no longer holds are stale, deleted once
   * the new index is up.
   */
  private async connectRemote(
    timeline: Timeline,
    isNew: boolean,
    retry: { attemptsMax?: number } = {},
  ): Promise<void> {
    if (!this.remote) return;
    const client = new RemoteTimelineClient({
      storage: this.remote.storage,
      deletionQueue: this.remote.deletionQueue,
      tenantId: this.tenantId,
      timelineId: timeline.timelineId,
      generation: this.generation,
      log: timeline.log,
      ...(this.remote.retryDelayMsMax === undefined
        ? {}
        : { retryDelayMsMax: this.remote.retryDelayMsMax }),
    });
    const found = isNew
      ? null
      : await client.downloadLatestIndex(retry.attemptsMax, this.background.signal);
    const index = found?.index ?? null;
    // Connected in the background: the timeline may have stopped meanwhile.
    if (timeline.remote || timeline.state.kind === "Stopping" || timeline.state.kind === "Broken")
      return;
    const local = new Map(
      [...timeline.layers.historicLayers()].map((layer) => [layer.nameText, layer]),
    );
    client.initialize(
      index,
      (name) => local.get(name)?.generation === index?.layers.get(name)?.generation,
    );
    // A new attachment uploads an index of its own generation at once: the generation is then
    // visible in remote storage, and the next attachment will take a higher one.
    let changed = index === null || found?.generation !== this.generation;
    for (const layer of local.values()) {
      if (client.isProjected(layer)) {
        layer.uploaded = true;
      } else if (layer.resident) {
        client.scheduleUpload(layer);
        changed = true;
      } else {
        timeline.log.error(
          { layer: layer.fileName, object: client.remoteKeyOf(layer) },
          "evicted layer is not in the remote index: reads that need it will fail",
        );
      }
    }
    const stale: string[] = [];
    for (const [name, entry] of index?.layers ?? []) {
      if (local.get(name)?.generation === entry.generation) continue;
      stale.push(remoteLayerKey(this.tenantId, timeline.timelineId, entry.name, entry.generation));
      changed = true;
    }
    // The local gc_blocking.json and archival.json are what this attachment decided last; the
    // index follows them.
    if (JSON.stringify(index?.gcBlocking ?? null) !== JSON.stringify(timeline.gcBlocking)) {
      client.setGcBlocking(timeline.gcBlocking);
      changed = true;
    }
    if ((index?.archivedAt ?? null) !== timeline.archivedAt) {
      client.setArchivedAt(timeline.archivedAt);
      changed = true;
    }
    if (changed) client.scheduleIndexUpload(timeline.metadata());
    client.scheduleDeletion(stale);
    timeline.remote = client;
  }

  /**
   * Connects a loaded timeline to remote storage: a few quick attempts, then — remote storage is
   * down — in the background until it answers. Until then the timeline serves reads and ingests
   * locally; nothing is evicted and its new layers are reconciled (uploaded) once connected.
   */
  private async connectLoadedTimeline(timeline: Timeline): Promise<void> {
    try {
      await this.connectRemote(timeline, false, { attemptsMax: 2 });
      return;
    } catch (error) {
      if (!(error instanceof RemoteStorageError)) throw error;
      timeline.log.warn(
        { err: error.message, object: error.key },
        "remote storage unreachable at load; connecting in the background",
      );
    }
    this.backgroundLoops.push(
      this.connectRemote(timeline, false).catch((error) => {
        if (!this.background.signal.aborted)
          timeline.log.error({ err: error }, "cannot connect the timeline to remote storage");
      }),
    );
  }

  private makeTimeline(
    timelineId: TimelineId,
    metadata: TimelineMetadata,
    directory?: string,
  ): Timeline {
    const ancestor =
      metadata.ancestorTimeline === null
        ? null
        : this.timelinesById.get(metadata.ancestorTimeline)!;
    return new Timeline({
      tenantId: this.tenantId,
      timelineId,
      directory: directory ?? path.join(this.timelinesDirectory, timelineId),
      io: this.io,
      generation: this.generation,
      config: () => this.resolved,
      ancestor: ancestor ?? null,
      metadata,
      logger: this.log,
    });
  }

  private activate(): void {
    this.setState({ slug: "Active" });
    for (const timeline of this.timelinesById.values()) this.resumeWalSource(timeline);
    this.tickTimer = setInterval(() => {
      for (const timeline of this.timelinesById.values()) timeline.tick();
    }, TICK_INTERVAL_MS);
    this.tickTimer.unref();
    this.backgroundLoops.push(
      this.periodic(
        "compaction",
        () => this.config.compactionPeriodMs,
        () => this.compactAll(),
      ),
      this.periodic(
        "gc",
        () => this.config.gcPeriodMs,
        () => this.gcAll(),
      ),
      this.thresholdEvictionLoop(),
    );
  }

  /**
   * The per-tenant eviction task (`eviction_policy = LayerAccessThreshold {period, threshold}`):
   * every period, evict layers idle for longer than the policy allows. The first sleep is a random
   * part of the period, as in Neon, so tenants loaded together do not evict in lockstep.
   */
  private async thresholdEvictionLoop(): Promise<void> {
    const signal = this.background.signal;
    let first = true;
    while (!signal.aborted) {
      const policy = this.config.evictionPolicy;
      const periodMs = policy.kind === "LayerAccessThreshold" ? policy.periodMs : 0;
      if (periodMs === 0) {
        // Disabled: look again later, the policy may be changed through the tenant config.
        await abortableSleep(10_000, signal);
        continue;
      }
      await abortableSleep(first ? Math.random() * periodMs : periodMs, signal);
      first = false;
      if (signal.aborted || this.stateValue.slug !== "Active") continue;
      try {
        const evicted = await evictByThreshold(this);
        if (evicted > 0) this.log.info({ evicted }, "threshold eviction");
      } catch (error) {
        if (!signal.aborted)
          this.log.error({ err: error, task: "eviction" }, "background task failed");
      }
    }
  }

  /**
   * Before a detach removes the local files: stops ingest, flushes every timeline and waits until
   * remote storage has all of it. On a timeout (remote storage down) ingest resumes and the error
   * says what is missing: the tenant stays attached and nothing is lost.
   */
  async flushToRemote(timeoutMs: number): Promise<void> {
    if (!this.remote) return;
    this.checkActive();
    const stopped: Timeline[] = [];
    for (const [timelineId, loop] of this.ingestLoops) {
      await loop.stop();
      this.ingestLoops.delete(timelineId);
      stopped.push(this.getTimeline(timelineId));
    }
    try {
      for (const timeline of this.timelines()) {
        await timeline.checkpoint();
        if (!timeline.remote) {
          throw new UnavailableError(
            `timeline ${timeline.timelineId} is not connected to remote storage yet`,
            { tenantId: this.tenantId, timelineId: timeline.timelineId },
          );
        }
      }
      await Promise.all(this.timelines().map((timeline) => timeline.remote!.drain(timeoutMs)));
    } catch (error) {
      for (const timeline of stopped) this.resumeWalSource(timeline);
      throw error;
    }
  }

  /** Runs `work` every `periodMs()` (0 = disabled) until shutdown; a failure is logged. */
  private async periodic(
    name: string,
    periodMs: () => number,
    work: () => Promise<void>,
  ): Promise<void> {
    const signal = this.background.signal;
    while (!signal.aborted) {
      const period = periodMs();
      await abortableSleep(period === 0 ? 10_000 : period, signal);
      if (signal.aborted || period === 0 || this.stateValue.slug !== "Active") continue;
      try {
        await work();
      } catch (error) {
        if (!signal.aborted) this.log.error({ err: error, task: name }, "background task failed");
      }
    }
  }

  private async compactAll(): Promise<void> {
    for (const timeline of this.timelines()) {
      if (timeline.state.kind !== "Active" || this.background.signal.aborted) continue;
      await this.compact(timeline.timelineId, {});
    }
  }

  private async gcAll(): Promise<void> {
    if (Date.now() < this.gcBlockedUntilMs) {
      this.log.info({}, "skipping GC: the LSN lease deadline after attach has not passed");
      return;
    }
    for (const timeline of this.timelines()) {
      if (timeline.state.kind !== "Active" || this.background.signal.aborted) continue;
      await this.gc(timeline.timelineId, null);
    }
  }

  /** Compacts one timeline now (the `compact` API and the background loop). */
  async compact(timelineId: TimelineId, options: CompactOptions): Promise<CompactionRun> {
    const timeline = this.getTimeline(timelineId);
    const signal = AbortSignal.any([
      this.background.signal,
      timeline.cancel.signal,
      ...(options.signal ? [options.signal] : []),
    ]);
    return compactTimeline(timeline, { ...options, signal });
  }

  /**
   * Garbage-collects one timeline now, respecting its children's branch points and its leases.
   * While GC of the tenant is blocked (see gc/gc_block.ts) nothing is removed and the result
   * counts nothing, as Neon answers.
   */
  async gc(timelineId: TimelineId, horizonBytes: number | null): Promise<GcResult> {
    const timeline = this.getTimeline(timelineId);
    const blocking = this.gcBlocking;
    if (blocking !== null) {
      this.log.info({ timeline_id: timelineId, gc_blocking: blocking }, "skipping GC: blocked");
      const cutoff = timeline.latestGcCutoffLsn;
      return emptyGcResult(cutoff, cutoff, cutoff);
    }
    const started = Date.now();
    const result = await timeline.gate.run(() =>
      timeline.layerRewriteLock.run(() =>
        gcTimeline(timeline, {
          horizonBytes,
          retainLsns: this.children(timelineId).map((child) => child.ancestorLsn),
        }),
      ),
    );
    timeline.recordRun("gc", { ...result, startedAtMs: started, durationMs: result.elapsed });
    return result;
  }

  /** Neon's tenant `gc_blocking` summary: null unless some timeline blocks GC. */
  get gcBlocking(): string | null {
    return gcBlockingSummary(this.timelines().map((timeline) => timeline.gcBlocking));
  }

  /** Whether GC is held off by the lease deadline after load. */
  get gcBlockedUntil(): number {
    return this.gcBlockedUntilMs;
  }

  private checkActive(): void {
    const state = this.stateValue;
    if (state.slug === "Broken")
      throw new UnavailableError(`tenant is broken: ${state.reason}`, { tenantId: this.tenantId });
    if (state.slug !== "Active")
      throw new UnavailableError(`tenant is ${state.slug}, not Active`, {
        tenantId: this.tenantId,
      });
  }

  // --- Timelines ---------------------------------------------------------------------------

  timelines(): Timeline[] {
    return [...this.timelinesById.values()];
  }

  getTimeline(timelineId: TimelineId): Timeline {
    const timeline = this.timelinesById.get(timelineId);
    if (!timeline) {
      throw new NotFoundError(`timeline ${timelineId} not found in tenant ${this.tenantId}`, {
        tenantId: this.tenantId,
        timelineId,
      });
    }
    return timeline;
  }

  children(timelineId: TimelineId): Timeline[] {
    return this.timelines().filter((t) => t.ancestor?.timelineId === timelineId);
  }

  /**
   * Creates a timeline: bootstrapped (empty, at the initdb LSN) or a branch of an ancestor at an
   * LSN. Idempotent when a timeline with the same id and parameters exists (`created: false`).
   */
  async createTimeline(
    request: CreateTimelineRequest,
  ): Promise<{ timeline: Timeline; created: boolean }> {
    this.checkActive();
    const id = request.newTimelineId;
    const existing = this.timelinesById.get(id);
    if (existing) return { timeline: this.checkSameParameters(existing, request), created: false };
    if (this.creating.has(id))
      throw new ConflictError(`timeline ${id} is being created`, {
        tenantId: this.tenantId,
        timelineId: id,
      });
    this.creating.add(id);
    try {
      const metadata =
        request.ancestorTimelineId == null
          ? initialMetadata({
              ancestorTimeline: null,
              ancestorLsn: 0 as Lsn,
              startLsn: BOOTSTRAP_INITDB_LSN,
              initdbLsn: BOOTSTRAP_INITDB_LSN,
              pgVersion: request.pgVersion ?? DEFAULT_PG_VERSION,
            })
          : await this.branchMetadata(request);
      const timeline = await this.writeNewTimeline(id, metadata);
      await this.connectRemote(timeline, true);
      this.timelinesById.set(id, timeline);
      timeline.activate();
      this.log.info(
        {
          timeline_id: id,
          ancestor: metadata.ancestorTimeline,
          ancestor_lsn: formatLsn(metadata.ancestorLsn),
        },
        "timeline created",
      );
      return { timeline, created: true };
    } finally {
      this.creating.delete(id);
    }
  }

  private checkSameParameters(existing: Timeline, request: CreateTimelineRequest): Timeline {
    const sameAncestor =
      (existing.ancestor?.timelineId ?? null) === (request.ancestorTimelineId ?? null);
    const sameLsn =
      request.ancestorStartLsn == null ||
      request.ancestorTimelineId == null ||
      alignLsn(request.ancestorStartLsn) === existing.ancestorLsn;
    const sameVersion = request.pgVersion == null || request.pgVersion === existing.pgVersion;
    if (!sameAncestor || !sameLsn || !sameVersion) {
      throw new ConflictError(
        `timeline ${existing.timelineId} already exists with different parameters`,
        {
          tenantId: this.tenantId,
          timelineId: existing.timelineId,
        },
      );
    }
    return existing;
  }

  /** Neon's branch checks: ancestor active, LSN not below its branch point nor the GC cutoff. */
  private async branchMetadata(request: CreateTimelineRequest): Promise<TimelineMetadata> {
    const ancestor = this.getTimeline(request.ancestorTimelineId!);
    if (ancestor.state.kind !== "Active") {
      throw new UnavailableError(
        `ancestor timeline ${ancestor.timelineId} is not active (${ancestor.state.kind})`,
        {
          tenantId: this.tenantId,
          timelineId: ancestor.timelineId,
        },
      );
    }
    // Neon answers 406 for an archived ancestor, as for a bad start LSN.
    if (ancestor.archivedAt !== null) {
      throw new InvalidBranchLsnError(
        `cannot branch from timeline ${ancestor.timelineId}: it is archived (since ${ancestor.archivedAt})`,
        { tenantId: this.tenantId, timelineId: ancestor.timelineId },
      );
    }
    const startLsn =
      request.ancestorStartLsn == null
        ? ancestor.lastRecordLsn
        : alignLsn(request.ancestorStartLsn);
    const context = {
      tenantId: this.tenantId,
      timelineId: ancestor.timelineId,
      lsn: formatLsn(startLsn),
    };
    if (ancestor.ancestor !== null && startLsn < ancestor.ancestorLsn) {
      throw new InvalidBranchLsnError(
        `invalid start lsn ${formatLsn(startLsn)} for ancestor timeline ${ancestor.timelineId}: less than timeline ancestor lsn ${formatLsn(ancestor.ancestorLsn)}`,
        context,
      );
    }
    if (startLsn < ancestor.latestGcCutoffLsn && !ancestor.gc.hasLeaseAt(startLsn)) {
      throw new InvalidBranchLsnError(
        `invalid branch start lsn: less than latest GC cutoff ${formatLsn(ancestor.latestGcCutoffLsn)}`,
        context,
      );
    }
    const planned = ancestor.gc.plannedCutoff;
    if (planned !== null && startLsn < planned && !ancestor.gc.hasLeaseAt(startLsn)) {
      throw new InvalidBranchLsnError(
        `invalid branch start lsn: less than planned GC cutoff ${formatLsn(planned)}`,
        context,
      );
    }
    if (startLsn < ancestor.initdbLsn) {
      throw new InvalidBranchLsnError(
        `invalid branch start lsn ${formatLsn(startLsn)}: below the ancestor's initdb LSN ${formatLsn(ancestor.initdbLsn)}`,
        context,
      );
    }
    await ancestor.waitLsn(startLsn, this.waitLsnTimeoutMs);
    return {
      ...initialMetadata({
        ancestorTimeline: ancestor.timelineId,
        ancestorLsn: startLsn,
        startLsn,
        initdbLsn: ancestor.initdbLsn,
        pgVersion: request.pgVersion ?? ancestor.pgVersion,
        latestGcCutoffLsn: startLsn,
      }),
      prevRecordLsn: startLsn === ancestor.lastRecordLsn ? ancestor.prevRecordLsn : null,
    };
  }

  private async writeNewTimeline(
    timelineId: TimelineId,
    metadata: TimelineMetadata,
  ): Promise<Timeline> {
    const finalDirectory = path.join(this.timelinesDirectory, timelineId);
    const tempDirectory = `${finalDirectory}${TEMP_FILE_SUFFIX}`;
    rmSync(tempDirectory, { recursive: true, force: true });
    mkdirSync(tempDirectory, { recursive: true });
    await saveMetadata(path.join(tempDirectory, METADATA_FILE_NAME), metadata);
    renameSync(tempDirectory, finalDirectory);
    await fsyncDirectory(this.timelinesDirectory);
    return this.makeTimeline(timelineId, metadata, finalDirectory);
  }

  /** Deletes a timeline that has no children; its files go first, then its entry. */
  async deleteTimeline(timelineId: TimelineId): Promise<void> {
    const timeline = this.getTimeline(timelineId);
    const children = this.children(timelineId);
    if (children.length > 0) {
      throw new PreconditionError(
        `Cannot delete timeline which has child timelines: ${children.map((c) => c.timelineId).join(", ")}`,
        { tenantId: this.tenantId, timelineId },
      );
    }
    await this.ingestLoops.get(timelineId)?.stop();
    this.ingestLoops.delete(timelineId);
    await timeline.shutdown({ flush: false });
    this.timelinesById.delete(timelineId);
    await this.deleteRemotePrefix(timelinePrefix(this.tenantId, timelineId), timelineId);
    const doomed = `${timeline.directory}${TEMP_FILE_SUFFIX}`;
    renameSync(timeline.directory, doomed);
    await fsyncDirectory(this.timelinesDirectory);
    await rm(doomed, { recursive: true, force: true });
    this.log.info({ timeline_id: timelineId }, "timeline deleted");
  }

  /** Deletes every remote object under `prefix` (through the persistent deletion queue). */
  async deleteRemotePrefix(prefix: string, timelineId: TimelineId | "*"): Promise<void> {
    if (!this.remote) return;
    const { storage, deletionQueue } = this.remote;
    const objects = await withRetries(() => storage.list(prefix), { attemptsMax: 8 });
    await deletionQueue.push(
      this.tenantId,
      timelineId,
      this.generation,
      objects.map((o) => o.key),
    );
  }

  // --- WAL sources -------------------------------------------------------------------------

  private makeSource(spec: WalSourceSpec): WalGenerator {
    assert(spec.kind === "generator", "unknown WAL source kind");
    return WalGenerator.fromJson(spec.params, parseLsn(spec.start_lsn));
  }

  /**
   * Attaches a WAL source (replacing any) starting after the timeline's last_record_lsn, and
   * persists it so a restart resumes it.
   */
  async attachWalSource(
    timelineId: TimelineId,
    request: { kind: "generator"; params: Record<string, unknown> },
  ): Promise<IngestLoop> {
    this.checkActive();
    const timeline = this.getTimeline(timelineId);
    const spec: WalSourceSpec = { ...request, start_lsn: formatLsn(timeline.lastRecordLsn) };
    const source = this.makeSource(spec);
    await this.ingestLoops.get(timelineId)?.stop();
    await writeFileDurably(
      path.join(timeline.directory, WAL_SOURCE_FILE_NAME),
      `${JSON.stringify(spec, null, 2)}\n`,
    );
    const loop = new IngestLoop(timeline, source);
    this.ingestLoops.set(timelineId, loop);
    loop.start();
    return loop;
  }

  async detachWalSource(timelineId: TimelineId): Promise<void> {
    const timeline = this.getTimeline(timelineId);
    await this.ingestLoops.get(timelineId)?.stop();
    this.ingestLoops.delete(timelineId);
    rmSync(path.join(timeline.directory, WAL_SOURCE_FILE_NAME), { force: true });
  }

  ingestLoop(timelineId: TimelineId): IngestLoop | undefined {
    return this.ingestLoops.get(timelineId);
  }

  private resumeWalSource(timeline: Timeline): void {
    const file = path.join(timeline.directory, WAL_SOURCE_FILE_NAME);
    if (!existsSync(file)) return;
    try {
      const spec = JSON.parse(readFileSync(file, "utf8")) as WalSourceSpec;
      const loop = new IngestLoop(timeline, this.makeSource(spec));
      this.ingestLoops.set(timeline.timelineId, loop);
      loop.start();
    } catch (error) {
      this.log.error({ err: error, timeline_id: timeline.timelineId }, "cannot resume WAL source");
    }
  }

  // --- Config ------------------------------------------------------------------------------

  /** Replaces every override (PUT). */
  async setConfig(overrides: unknown): Promise<void> {
    const tenantConf = parseTenantConfig(overrides);
    await this.saveConf({ ...this.location, tenantConf });
  }

  /** Changes some overrides; null resets one (PATCH). */
  async patchConfig(patch: Record<string, unknown>): Promise<void> {
    const tenantConf = patchTenantConfig(this.location.tenantConf, patch);
    await this.saveConf({ ...this.location, tenantConf });
  }

  private async saveConf(conf: LocationConf): Promise<void> {
    const resolved = resolveTenantConfig(conf.tenantConf, this.configDefaults);
    await saveLocationConf(path.join(this.directory, LOCATION_CONF_FILE_NAME), conf);
    this.location = conf;
    this.resolved = resolved;
  }

  // --- Shutdown ----------------------------------------------------------------------------

  /** Stops ingest, then every timeline (children first); with `flush`, in-memory data is flushed. */
  async shutdown(options: { flush: boolean }): Promise<void> {
    if (this.stateValue.slug === "Stopping") return;
    this.setState({ slug: "Stopping" });
    if (this.tickTimer) clearInterval(this.tickTimer);
    this.background.abort();
    await Promise.all(this.backgroundLoops);
    await Promise.all([...this.ingestLoops.values()].map((loop) => loop.stop()));
    this.ingestLoops.clear();
    const ordered = this.timelines().sort((a, b) => depth(b) - depth(a));
    await Promise.all(ordered.map((timeline) => timeline.shutdown(options)));
  }
}

function depth(timeline: Timeline): number {
  let d = 0;
  for (let t = timeline.ancestor; t; t = t.ancestor) d++;
  return d;
}
