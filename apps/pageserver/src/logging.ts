/**
 * Structured logs (pino): JSON lines by default when `log_format = "json"`, a compact plain form
 * otherwise. Engine loggers are children carrying tenant_id and timeline_id. Error-level lines
 * also go to Sentry when it is enabled (sentry.ts); the hook costs a level comparison otherwise.
 */
import pino from "pino";
import { reportLogError, sentryEnabled } from "./sentry.ts";

export type ProcessLogger = pino.Logger;

const ERROR_LEVEL = 50;

const hooks: pino.LoggerOptions["hooks"] = {
  logMethod(args, method, level) {
    if (level >= ERROR_LEVEL && sentryEnabled()) {
      const [first, second] = args as unknown[];
      const fields = typeof first === "object" && first !== null ? first : null;
      const message =
        typeof first === "string" ? first : typeof second === "string" ? second : "error";
      const bindings = (this as pino.Logger).bindings();
      reportLogError({ ...bindings, ...(fields as Record<string, unknown> | null) }, message);
    }
    return method.apply(this, args);
  },
};

/**
 * Log lines are written synchronously to stdout: a line is out before the next statement (so a
 * SIGKILL or a crash loses none), nothing is buffered, and nothing is left to flush at exit. The
 * buffered default flushes at exit with a loop that retries EPIPE forever, so a pageserver whose
 * stdout reader had gone away could not exit on SIGTERM; a broken stdout now just drops lines
 * (pino's destination turns EPIPE into a no-op writer).
 */
function stdoutDestination(): pino.DestinationStream {
  return pino.destination({ dest: 1, sync: true, minLength: 0 });
}

export function createLogger(
  format: "plain" | "json" | "test",
  level = process.env.PAGESERVER_LOG_LEVEL ?? "info",
): ProcessLogger {
  if (format === "json")
    return pino({ level, base: { pid: process.pid }, hooks }, stdoutDestination());
  // Plain: still one JSON object per line (machine-readable), without pid/hostname noise.
  return pino(
    { level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime, hooks },
    stdoutDestination(),
  );
}
