/**
 * Error reporting to Sentry, as Neon's pageserver does it (`utils::sentry_init`): off unless
 * `SENTRY_DSN` is set; then every error-level log line (a 5xx from the management API, a failed
 * background task, a failed shutdown step…) becomes a Sentry event — the logged `err` as an
 * exception, else the message — tagged with the node id and, when the line carries them, the
 * tenant and timeline; and an uncaught exception or unhandled rejection (our "panic") is
 * reported and flushed before the process exits, as Node would exit.
 *
 * Only the integrations that do this are enabled: no tracing, no OpenTelemetry auto-instrumenting
 * of http or fs, which would sit on the GetPage and ingest hot paths for nothing.
 * `SENTRY_ENVIRONMENT` and `SENTRY_RELEASE` are honoured (Neon reads them too).
 */
import * as Sentry from "@sentry/node";

export interface SentryOptions {
  readonly dsn: string | undefined;
  readonly nodeId?: number;
  readonly environment?: string;
  readonly release?: string;
}

let enabled = false;

/** Starts the SDK when a DSN is given; returns whether reporting is on. */
export function initSentry(options: SentryOptions): boolean {
  if (!options.dsn) return false;
  Sentry.init({
    dsn: options.dsn,
    environment: options.environment ?? "development",
    release: options.release ?? "pageserver-ts@0.1.0",
    defaultIntegrations: false,
    skipOpenTelemetrySetup: true,
    integrations: [
      Sentry.onUncaughtExceptionIntegration(),
      Sentry.onUnhandledRejectionIntegration({ mode: "strict" }),
      Sentry.linkedErrorsIntegration(),
      Sentry.nodeContextIntegration(),
      Sentry.dedupeIntegration(),
      Sentry.functionToStringIntegration(),
    ],
    initialScope: options.nodeId === undefined ? {} : { tags: { node_id: String(options.nodeId) } },
  });
  enabled = true;
  return true;
}

export function sentryEnabled(): boolean {
  return enabled;
}

/** Sets the node id tag once the config is read (the SDK may start before it). */
export function setSentryNodeId(nodeId: number): void {
  if (enabled) Sentry.setTag("node_id", String(nodeId));
}

/**
 * Reports one error-level log line: `fields` is the pino object argument (may hold `err`,
 * `tenant_id`, `timeline_id`), `message` the text.
 */
export function reportLogError(fields: Record<string, unknown> | null, message: string): void {
  if (!enabled) return;
  const tags: Record<string, string> = {};
  for (const name of ["tenant_id", "timeline_id", "step", "url", "method"]) {
    const value = fields?.[name];
    if (typeof value === "string") tags[name] = value;
  }
  const error = fields?.err;
  if (error instanceof Error) {
    Sentry.captureException(error, { tags, extra: { log_message: message } });
  } else {
    Sentry.captureMessage(message, { level: "error", tags });
  }
}

/** Waits (bounded) for queued events to be sent: on shutdown. */
export async function flushSentry(timeoutMs = 2000): Promise<void> {
  if (enabled) await Sentry.flush(timeoutMs);
}
