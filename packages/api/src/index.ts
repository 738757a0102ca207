/**
 * The API package: JSON views of engine objects shared by the HTTP API and the tRPC router, the
 * telemetry the console reads, and (once written) the tRPC router whose `AppRouter` type the
 * console imports.
 */
export * from "./views/timeline_info.ts";
export * from "./views/layer_info.ts";
export * from "./views/tenant_info.ts";
export * from "./telemetry/latency_recorder.ts";
export * from "./context.ts";
export { appRouter, type AppRouter } from "./root.ts";
export { createCallerFactory, toTrpcError } from "./trpc.ts";
