/**
 * The compaction simulator (Neon's `pageserver/compaction` simulator, reference §5): a mock
 * timeline with numeric keys, tiered compaction driven by the engine's own level identification,
 * seeded workloads, amplification statistics and an HTML replay. Used by the
 * `compaction-simulator` CLI (apps/pageserver) and by the engine's tests.
 */
export * from "./draw_html.ts";
export * from "./mock_timeline.ts";
export * from "./records.ts";
export * from "./tiered.ts";
export * from "./workloads.ts";
