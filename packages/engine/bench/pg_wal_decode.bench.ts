/**
 * PostgreSQL 15 WAL decoding speed on the real pgbench segment in shared/data (read in place):
 * the reader (page headers, continuations, CRC-32C of every record), the record decoder (block
 * references, main data) and a page rebuild for every full-page image.
 *
 *   - `pg_wal/decode_segment`: the segment's valid WAL (11.9 MB from its first intact page) pushed
 *     as one chunk, as from a file. MB = 10^6 bytes of WAL (page headers included).
 *   - `pg_wal/decode_segment_8k_chunks`: the same pushed page by page, as a stream would deliver
 *     it (records crossing pages are reassembled, the rest are views).
 *
 * The median of several rounds is reported. `--quick` (or BENCH_QUICK=1) runs fewer rounds.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { decompress } from "fzstd";
import { asLsn } from "../src/lsn.ts";
import { decodeRecord, rebuildPage, WalReader, type WalRecord } from "../src/pg_wal/index.ts";
import { emit, median, quick } from "./bench_util.ts";

const SEGMENT_PATH = path.resolve(
  import.meta.dirname,
  "../../../../shared/data/neon/pgbench-wal-000000010000000000000001.zst",
);
const FIRST_VALID_PAGE = 0x4b0000; // the segment's first 0x4AEC08 bytes are zeroed
const segment = decompress(readFileSync(SEGMENT_PATH));
const wal = segment.subarray(FIRST_VALID_PAGE);
const startLsn = asLsn(0x1000000 + FIRST_VALID_PAGE);
const ROUNDS = quick ? 2 : 9;

function decodeAll(chunkSize: number): { records: number; images: number } {
  const reader = new WalReader({ startLsn });
  const page = new Uint8Array(8192);
  let records = 0;
  let images = 0;
  const onRecord = (raw: WalRecord) => {
    const record = decodeRecord(raw);
    records++;
    for (const block of record.blocks) {
      if (block.image) {
        rebuildPage(block.image, record.lsn, page);
        images++;
      }
    }
  };
  for (let i = 0; i < wal.length; i += chunkSize) {
    reader.feed(wal.subarray(i, i + chunkSize), onRecord);
  }
  reader.finish();
  return { records, images };
}

for (const [name, chunkSize] of [
  ["pg_wal/decode_segment", wal.length],
  ["pg_wal/decode_segment_8k_chunks", 8192],
] as const) {
  decodeAll(chunkSize); // warm-up
  const seconds: number[] = [];
  let counts = { records: 0, images: 0 };
  for (let round = 0; round < ROUNDS; round++) {
    const t0 = process.hrtime.bigint();
    counts = decodeAll(chunkSize);
    seconds.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  const s = median(seconds);
  emit(name, wal.length / 1e6 / s, "MB/s", {
    records_per_s: Math.round(counts.records / s),
    records: counts.records,
    images: counts.images,
    wal_bytes: wal.length,
    best_MB_s: Number((wal.length / 1e6 / Math.min(...seconds)).toFixed(1)),
  });
}
