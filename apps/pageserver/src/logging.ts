/**
 * Structured logs (pino): JSON lines by default when `log_format = "json"`, a compact plain form
 * otherwise. Engine loggers are children carrying tenant_id and timeline_id.
 */
import pino from "pino";

export type ProcessLogger = pino.Logger;

export function createLogger(
  format: "plain" | "json" | "test",
  level = process.env.PAGESERVER_LOG_LEVEL ?? "info",
): ProcessLogger {
  if (format === "json") return pino({ level, base: { pid: process.pid } });
  // Plain: still one JSON object per line (machine-readable), without pid/hostname noise.
  return pino({ level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime });
}
