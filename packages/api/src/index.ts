/**
 * The API package: JSON views of engine objects shared by the HTTP API and the tRPC router, the
 * telemetry the console reads, and the tRPC router whose `AppRouter` type the console imports
 * (the console imports types only: nothing here reaches the browser bundle).
 */

export * from "./context.ts";
export type { LayerChanges } from "./live/layer_changes.ts";
export type { TimelineWatchEvent } from "./live/timeline_watch.ts";
export * from "./operations/timeline_operations.ts";
export { type AppRouter, appRouter } from "./root.ts";
export type { IngestPoint } from "./telemetry/ingest_sampler.ts";
export * from "./telemetry/latency_recorder.ts";
export { createCallerFactory, describeIssues, toTrpcError } from "./trpc.ts";
export type { EvictionState } from "./views/eviction_state.ts";
export * from "./views/layer_info.ts";
export type { InMemoryRow, LayerRow, LayerTier } from "./views/layer_snapshot.ts";
export type { LsnMarks } from "./views/lsn_marks.ts";
export * from "./views/tenant_info.ts";
export * from "./views/timeline_info.ts";
export type { TimelineSummary } from "./views/timeline_summary.ts";
