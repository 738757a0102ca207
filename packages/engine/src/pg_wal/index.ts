/** PostgreSQL 15 WAL decoding: records out of segment bytes, their block references, their pages. */
export { lz4DecompressBlock, pglzDecompress, zstdDecompressFrame } from "./compression.ts";
export { CRC32C_INIT, crc32c, crc32cUpdate } from "./crc32c.ts";
export {
  WalCrcError,
  WalDecodeError,
  type WalErrorKind,
  WalImageError,
  WalPageFormatError,
  WalRecordFormatError,
} from "./errors.ts";
export * from "./layout.ts";
export {
  type PageHeader,
  readPageHeader,
  rebuildPage,
  setPageLsn,
} from "./page_image.ts";
export {
  type BlockImage,
  type DecodedBlock,
  type DecodedRecord,
  decodeRecord,
  type ImageCompression,
  type RawRecord,
  type RelFileNode,
} from "./record_decoder.ts";
export {
  readWalRecords,
  type WalEnd,
  type WalEndReason,
  WalReader,
  type WalReaderOptions,
  type WalRecord,
} from "./wal_reader.ts";
