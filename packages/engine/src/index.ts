/**
 * The storage engine's public surface. Everything the pageserver process, the API package and
 * the CLIs use is exported here; the rest of `src/` is internal.
 */
export * from "./assert.ts";
export * from "./compaction/compaction.ts";
export * from "./compaction/l0_compaction.ts";
export * from "./compaction/levels.ts";
export * from "./datadir/datadir_modification.ts";
export * from "./datadir/datadir_reader.ts";
export * from "./datadir/directory_encoding.ts";
export * from "./errors.ts";
export * from "./eviction/eviction.ts";
export * from "./gc/gc.ts";
export * from "./gc/gc_block.ts";
export * from "./gc/lsn_for_timestamp.ts";
export * from "./ids.ts";
export {
  DatadirImportError,
  type ImportOptions,
  type ImportResult,
  type ImportSource,
  importDatadir,
  parseControlFile,
} from "./import/import_datadir.ts";
export * from "./ingest/ingest_loop.ts";
export * from "./ingest/wal_source.ts";
export * from "./io/durable_fs.ts";
export * from "./io/file_descriptor_cache.ts";
export * from "./io/page_cache.ts";
export * from "./key/key.ts";
export * from "./key/key_space.ts";
export * from "./key/rel_tag.ts";
export * from "./layer_map/layer_map.ts";
export * from "./limits.ts";
export * from "./lsn.ts";
/** PostgreSQL 15 WAL decoding, as a namespace: its names (WalRecord…) are not the engine's. */
export * as pgWal from "./pg_wal/index.ts";
export * from "./read_path/get_vectored.ts";
export { BLCKSZ } from "./redo/pg_constants.ts";
export * from "./redo/walredo.ts";
export * from "./remote/deletion_queue.ts";
export * from "./remote/download_all_layers.ts";
export * from "./remote/index_part.ts";
export * from "./remote/local_fs_storage.ts";
export * from "./remote/remote_index.ts";
export * from "./remote/remote_paths.ts";
export * from "./remote/remote_storage.ts";
export * from "./remote/remote_timeline_client.ts";
export * from "./remote/s3_storage.ts";
export * from "./storage_layer/inmemory_layer.ts";
export * from "./storage_layer/layer_file_format.ts";
export * from "./storage_layer/layer_file_reader.ts";
export * from "./storage_layer/layer_file_writer.ts";
export * from "./storage_layer/layer_name.ts";
export * from "./storage_layer/persistent_layer.ts";
export * from "./tenant/location_conf.ts";
export * from "./tenant/tenant.ts";
export * from "./tenant/tenant_config.ts";
export * from "./tenant/tenant_manager.ts";
export * from "./tenant/tenant_state.ts";
export * from "./timeline/archival.ts";
export * from "./timeline/gc_info.ts";
export * from "./timeline/layer_swap_journal.ts";
export * from "./timeline/metadata.ts";
export * from "./timeline/timeline.ts";
export * from "./timeline/timeline_events.ts";
export * from "./util/abortable_sleep.ts";
export * from "./util/duration.ts";
export * from "./util/failpoints.ts";
export * from "./util/gate.ts";
export * from "./util/logger.ts";
export * from "./util/random.ts";
export * from "./value/value.ts";
export * from "./wal_generator/wal_generator.ts";
