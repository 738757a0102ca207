/**
 * Every limit of the engine in one place, with its unit last (TigerBeetle's style). A test
 * (`limits.test.ts`) checks the relations between them.
 */

/** PostgreSQL's page size. */
export const PAGE_SIZE_BYTES = 8192;

/** Layer-file index nodes: one node per page-cache page. */
export const INDEX_NODE_SIZE_BYTES = 8192;

/** Keys per vectored read (Neon's `max_get_vectored_keys`). */
export const GET_VECTORED_KEYS_MAX = 32;

/** Blob bytes coalesced into one read (Neon's `max_vectored_read_bytes`, 130 KiB). */
export const VECTORED_READ_BYTES_MAX = 130 * 1024;

/** A value larger than this is refused at ingest: layers index lengths as u32. */
export const VALUE_SIZE_BYTES_MAX = 64 * 1024 * 1024;

/** Layer files are uploaded in one piece; Neon's S3 upload cap. */
export const LAYER_FILE_SIZE_BYTES_MAX = 4_500_000_000;

/** Buffered writes of layer and ephemeral files go out in chunks of this size. */
export const WRITE_BUFFER_SIZE_BYTES = 1024 * 1024;

/** The smallest page cache we allow: a B-tree descent pins at most a few nodes at once. */
export const PAGE_CACHE_PAGES_MIN = 16;

/** The smallest descriptor cache we allow (Neon's `max_file_descriptors` default is 100). */
export const FILE_DESCRIPTORS_MIN = 4;

/** Entries walked newest-first for one key in one layer before we give up as corrupt. */
export const VERSIONS_PER_KEY_MAX = 1_000_000;

/** Records applied to rebuild one value; beyond this the history is unreasonably deep. */
export const REDO_RECORDS_PER_VALUE_MAX = 1_000_000;

/** Timelines a read may fall through (ancestor chain depth). */
export const ANCESTOR_DEPTH_MAX = 1024;
