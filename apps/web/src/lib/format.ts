/**
 * Small formatting helpers shared by the pages: durations, latencies, rates, ages.
 */
import { formatBytes } from "./lsn";

export function formatSeconds(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "–";
  if (seconds < 1e-3) return `${(seconds * 1e6).toFixed(0)} µs`;
  if (seconds < 1) return `${(seconds * 1e3).toFixed(seconds < 0.01 ? 2 : 1)} ms`;
  return `${seconds.toFixed(2)} s`;
}

export function formatDurationMs(ms: number): string {
  if (ms < 1000) return `${ms.toFixed(0)} ms`;
  const seconds = ms / 1000;
  if (seconds < 120) return `${seconds.toFixed(1)} s`;
  const minutes = seconds / 60;
  if (minutes < 120) return `${minutes.toFixed(0)} min`;
  const hours = minutes / 60;
  if (hours < 48) return `${hours.toFixed(1)} h`;
  return `${(hours / 24).toFixed(1)} days`;
}

export function formatRate(bytesPerSecond: number): string {
  return `${formatBytes(bytesPerSecond)}/s`;
}

export function formatAge(ms: number | null, nowMs = Date.now()): string {
  if (ms === null) return "never";
  return `${formatDurationMs(Math.max(0, nowMs - ms))} ago`;
}

export function formatTime(ms: number): string {
  return new Date(ms).toLocaleTimeString();
}

export function shortId(id: string): string {
  return id.slice(0, 8);
}
