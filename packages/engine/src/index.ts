/**
 * The storage engine's public surface. Everything the pageserver process, the API package and
 * the CLIs use is exported here; the rest of `src/` is internal.
 */
export * from "./assert.ts";
export * from "./errors.ts";
export * from "./ids.ts";
export * from "./lsn.ts";
export * from "./limits.ts";
export * from "./key/key.ts";
export * from "./key/key_space.ts";
export * from "./key/rel_tag.ts";
export * from "./value/value.ts";
export * from "./redo/walredo.ts";
export { BLCKSZ } from "./redo/pg_constants.ts";
export * from "./io/file_descriptor_cache.ts";
export * from "./io/page_cache.ts";
export * from "./io/durable_fs.ts";
export * from "./storage_layer/layer_name.ts";
export * from "./storage_layer/layer_file_format.ts";
export * from "./storage_layer/layer_file_reader.ts";
export * from "./storage_layer/layer_file_writer.ts";
export * from "./storage_layer/inmemory_layer.ts";
export * from "./storage_layer/persistent_layer.ts";
export * from "./layer_map/layer_map.ts";
export * from "./read_path/get_vectored.ts";
export * from "./timeline/timeline.ts";
export * from "./timeline/metadata.ts";
export * from "./timeline/gc_info.ts";
export * from "./timeline/timeline_events.ts";
export * from "./tenant/tenant.ts";
export * from "./tenant/tenant_manager.ts";
export * from "./tenant/tenant_config.ts";
export * from "./tenant/tenant_state.ts";
export * from "./tenant/location_conf.ts";
export * from "./datadir/datadir_reader.ts";
export * from "./datadir/datadir_modification.ts";
export * from "./datadir/directory_encoding.ts";
export * from "./ingest/wal_source.ts";
export * from "./ingest/ingest_loop.ts";
export * from "./wal_generator/wal_generator.ts";
export * from "./util/duration.ts";
export * from "./util/logger.ts";
export * from "./util/gate.ts";
