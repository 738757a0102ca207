/**
 * What the HTTP routes, the page service and the background tasks share: the process's config,
 * tenants, logger, metrics and task registry. Built once by `Pageserver.start`.
 */
import type { DeletionQueue, Lsn, TenantManager, Timeline } from "@pageserver/engine";
import type { PageserverConfig } from "./config/pageserver_config.ts";
import type { ProcessLogger } from "./logging.ts";
import type { PageserverMetrics } from "./metrics/metrics.ts";
import type { TaskRegistry } from "./tasks/task_registry.ts";

export interface PageserverContext {
  readonly config: PageserverConfig;
  readonly tenants: TenantManager;
  readonly log: ProcessLogger;
  readonly metrics: PageserverMetrics;
  readonly tasks: TaskRegistry;
  readonly startedAtMs: number;
  /** The remote_consistent_lsn of a timeline (null without remote storage). */
  remoteConsistentLsn(timeline: Timeline): Lsn | null;
  /** The remote deletion queue (null without remote storage). */
  readonly deletionQueue: DeletionQueue | null;
}
