/**
 * The API package: JSON views of engine objects shared by the HTTP API and the tRPC router, the
 * telemetry the console reads, and the tRPC router whose `AppRouter` type the console imports
 * (the console imports types only: nothing here reaches the browser bundle).
 */
export * from "./views/timeline_info.ts";
export * from "./views/layer_info.ts";
export * from "./views/tenant_info.ts";
export * from "./telemetry/latency_recorder.ts";
export * from "./context.ts";
export { appRouter, type AppRouter } from "./root.ts";
export { createCallerFactory, describeIssues, toTrpcError } from "./trpc.ts";
export type { LayerChanges } from "./live/layer_changes.ts";
export type { TimelineWatchEvent } from "./live/timeline_watch.ts";
export type { IngestPoint } from "./telemetry/ingest_sampler.ts";
export type { EvictionState } from "./views/eviction_state.ts";
export type { InMemoryRow, LayerRow, LayerTier } from "./views/layer_snapshot.ts";
export type { LsnMarks } from "./views/lsn_marks.ts";
export type { TimelineSummary } from "./views/timeline_summary.ts";
