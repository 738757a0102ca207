/**
 * The pageserver process: start-up and shutdown in Neon's order (reference §13).
 *
 * Start-up: config and identity → logging → descriptor and page caches → pid-file lock → bind the
 * page service → auth keys → load tenants → background tasks → HTTP → accept page connections.
 *
 * Shutdown (SIGINT/SIGTERM): stop accepting page connections → shut every tenant down, flushing
 * in-memory layers → close the remaining page connections → stop background tasks → close HTTP
 * last → release the pid file. A second signal exits at once (data is safe up to
 * disk_consistent_lsn, and ingest resumes from there).
 */
import type { KeyObject } from "node:crypto";
import {
  configureFailpointsFromEnv,
  DeletionQueue,
  FileDescriptorCache,
  type Lsn,
  PageCache,
  parseDuration,
  TenantManager,
  type Timeline,
} from "@pageserver/engine";
import type { FastifyInstance } from "fastify";
import { loadPublicKeys } from "../auth/jwt.ts";
import { loadConfig, type PageserverConfig } from "../config/pageserver_config.ts";
import { buildHttpApp } from "../http/app.ts";
import { registerTrpc } from "../http/trpc_plugin.ts";
import { createLogger, type ProcessLogger } from "../logging.ts";
import { PageserverMetrics } from "../metrics/metrics.ts";
import { PageService } from "../page_service/page_service.ts";
import type { PageserverContext } from "../pageserver_context.ts";
import { createRemoteStorage } from "../remote/remote_setup.ts";
import { ConsumptionMetrics } from "../tasks/consumption_metrics.ts";
import { runDiskUsageEviction } from "../tasks/disk_usage_eviction.ts";
import { TaskRegistry } from "../tasks/task_registry.ts";
import { PidFile } from "./pid_file.ts";

export interface StartOptions {
  readonly workdir: string;
  readonly overrides?: Record<string, unknown>;
  readonly logger?: ProcessLogger;
  /** Extra HTTP plugins (the console's tRPC router). */
  readonly httpPlugins?: ReadonlyArray<
    (app: FastifyInstance, context: PageserverContext) => Promise<void> | void
  >;
}

export class Pageserver {
  readonly config: PageserverConfig;
  readonly context: PageserverContext;
  readonly http: FastifyInstance;
  readonly pageService: PageService;
  private readonly pidFile: PidFile;
  private readonly io: { files: FileDescriptorCache; pages: PageCache };
  private stopping: Promise<void> | null = null;
  httpPort = 0;
  pgPort = 0;

  private constructor(parts: {
    config: PageserverConfig;
    context: PageserverContext;
    http: FastifyInstance;
    pageService: PageService;
    pidFile: PidFile;
    io: { files: FileDescriptorCache; pages: PageCache };
  }) {
    this.config = parts.config;
    this.context = parts.context;
    this.http = parts.http;
    this.pageService = parts.pageService;
    this.pidFile = parts.pidFile;
    this.io = parts.io;
  }

  get log(): ProcessLogger {
    return this.context.log;
  }

  static async start(options: StartOptions): Promise<Pageserver> {
    const { config, warnings } = loadConfig(options.workdir, options.overrides);
    const log = options.logger ?? createLogger(config.logFormat);
    for (const warning of warnings) log.warn({ key: warning.key }, warning.message);
    configureFailpointsFromEnv(process.env.FAILPOINTS);
    const io = {
      files: new FileDescriptorCache(config.maxFileDescriptors),
      pages: new PageCache(config.pageCacheSize),
    };
    const pidFile = new PidFile(config.workdir);
    pidFile.acquire();
    try {
      const authKeys: KeyObject[] | null = config.authValidationPublicKeyPath
        ? loadPublicKeys(config.authValidationPublicKeyPath)
        : null;
      const storage = createRemoteStorage(config);
      const deletionQueue = storage ? new DeletionQueue(config.workdir, storage, log) : null;
      deletionQueue?.recover();
      if (storage) log.info({ remote_storage: storage.description }, "remote storage configured");
      else
        log.warn({}, "no remote_storage configured: layers stay local only and cannot be evicted");
      const tenants = new TenantManager({
        workdir: config.workdir,
        io,
        logger: log,
        waitLsnTimeoutMs: config.waitLsnTimeoutMs,
        tenantConfigDefaults: config.tenantConfigDefaults,
        remote: storage && deletionQueue ? { storage, deletionQueue } : null,
      });
      const metrics = new PageserverMetrics(tenants);
      const context: PageserverContext = {
        config,
        tenants,
        log,
        metrics,
        tasks: new TaskRegistry(),
        startedAtMs: Date.now(),
        remoteConsistentLsn: (timeline: Timeline): Lsn | null =>
          timeline.remote?.remoteConsistentLsn ?? null,
        deletionQueue,
      };
      const pageService = new PageService(
        context,
        config.pgAuthType === "NeonJWT" ? authKeys : null,
      );
      const pgPort = await pageService.bind(config.listenPgAddr.host, config.listenPgAddr.port);
      await tenants.load();
      const http = await buildHttpApp({
        context,
        authKeys: config.httpAuthType === "NeonJWT" ? authKeys : null,
        plugins: [registerTrpc, ...(options.httpPlugins ?? [])].map(
          (plugin) => (app: FastifyInstance) => plugin(app, context),
        ),
      });
      await http.listen({ host: config.listenHttpAddr.host, port: config.listenHttpAddr.port });
      const server = new Pageserver({ config, context, http, pageService, pidFile, io });
      server.httpPort = (http.server.address() as { port: number }).port;
      server.pgPort = pgPort;
      pageService.startAccepting();
      server.startBackgroundTasks();
      log.info(
        {
          node_id: config.nodeId,
          http: `${config.listenHttpAddr.host}:${server.httpPort}`,
          pg: `${config.listenPgAddr.host}:${pgPort}`,
        },
        "pageserver started",
      );
      return server;
    } catch (error) {
      pidFile.release();
      throw error;
    }
  }

  /** Process-wide background tasks: consumption metrics, disk-usage-based eviction. */
  private startBackgroundTasks(): void {
    const { config, tenants, log, tasks } = this.context;
    if (config.metricCollectionEndpoint) {
      const collector = new ConsumptionMetrics({
        endpoint: config.metricCollectionEndpoint,
        intervalMs: config.metricCollectionIntervalMs,
        nodeId: config.nodeId,
        workdir: config.workdir,
        tenants,
        log,
      });
      tasks.spawn(
        { kind: "consumption_metrics", name: "consumption metrics collection" },
        (signal) => collector.run(signal),
      );
    }
    const eviction = config.diskUsageBasedEviction;
    if (eviction?.enabled && this.context.deletionQueue) {
      const periodMs = parseDuration(eviction.period);
      tasks.spawn(
        { kind: "disk_usage_eviction", name: "disk usage based eviction" },
        async (signal) => {
          while (!signal.aborted) {
            await new Promise<void>((resolve) => {
              const timer = setTimeout(resolve, periodMs);
              const abort = () => {
                clearTimeout(timer);
                resolve();
              };
              signal.addEventListener("abort", abort, { once: true });
            });
            if (signal.aborted) return;
            try {
              await runDiskUsageEviction(config, tenants, log);
            } catch (error) {
              log.error({ err: error }, "disk usage based eviction failed");
            }
          }
        },
      );
    }
  }

  /** Installs SIGINT/SIGTERM handlers: the first shuts down gracefully, a second exits at once. */
  handleSignals(onExit: (code: number) => void = (code) => process.exit(code)): void {
    let signals = 0;
    const handler = (signal: NodeJS.Signals) => {
      signals++;
      if (signals > 1) {
        this.log.warn({ signal }, "second signal: exiting immediately");
        onExit(1);
        return;
      }
      this.log.info({ signal }, "shutting down");
      this.shutdown().then(
        () => onExit(0),
        (error) => {
          this.log.error({ err: error }, "shutdown failed");
          onExit(1);
        },
      );
    };
    process.on("SIGINT", handler);
    process.on("SIGTERM", handler);
  }

  shutdown(): Promise<void> {
    this.stopping ??= this.shutdownInOrder();
    return this.stopping;
  }

  private async shutdownInOrder(): Promise<void> {
    const step = async (name: string, work: () => Promise<void>) => {
      const started = performance.now();
      try {
        await work();
      } catch (error) {
        this.log.error({ err: error, step: name }, "shutdown step failed");
      }
      this.log.info(
        { step: name, elapsed_ms: Math.round(performance.now() - started) },
        "shutdown step done",
      );
    };
    await step("stop accepting page service connections", () => this.pageService.stopAccepting());
    await step("shut down tenants (flush)", () => this.context.tenants.shutdown({ flush: true }));
    await step("close page service connections", () => this.pageService.closeConnections());
    await step("flush the deletion queue", async () => {
      await Promise.race([
        this.context.deletionQueue?.flush(),
        new Promise((resolve) => setTimeout(resolve, 5000)),
      ]);
      await this.context.deletionQueue?.shutdown();
    });
    await step("stop background tasks", () => this.context.tasks.shutdown());
    await step("close HTTP", () => this.http.close());
    this.io.files.closeAll();
    this.pidFile.release();
    this.log.info({}, "pageserver stopped");
  }
}
