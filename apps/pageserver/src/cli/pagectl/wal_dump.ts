/**
 * `pagectl wal-dump <segment> [--start X/Y] [--limit N] [--stats] [--json]` — the records of a
 * PostgreSQL 15 WAL segment file, as pg_waldump prints them (rmgr, lengths, xid, LSNs, block
 * references with their images), decoded by the engine's own WAL reader: the check that the
 * pageserver sees a segment as PostgreSQL wrote it. A `.zst` file is decompressed first.
 *
 * The segment's start LSN comes from its 24-hex-digit name (timeline, log, seg; 16 MiB segments);
 * `--start` begins at a later page boundary (a segment whose head was zeroed, or a record start).
 * The end of valid WAL is reported on stderr with its reason; a record with a bad CRC fails (exit
 * 1) naming its LSN, after the records before it were printed.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { formatLsn, type Lsn, parseLsn, pgWal } from "@pageserver/engine";
import { CliError, parseCliArgs, parseCount, UsageError } from "../cli_support.ts";

const SEGMENT_NAME = /^([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})(\.zst)?$/;
const FORK_NAMES = ["main", "fsm", "vm", "init"];

function segmentStartLsn(file: string): Lsn {
  const match = SEGMENT_NAME.exec(
    path
      .basename(file)
      .toUpperCase()
      .replace(/\.ZST$/, ".zst"),
  );
  if (!match)
    throw new UsageError(
      `cannot tell the start LSN of '${path.basename(file)}': expected a WAL segment name (24 hex digits, e.g. 000000010000000000000001), or give --start`,
    );
  const log = Number.parseInt(match[2]!, 16);
  const seg = Number.parseInt(match[3]!, 16);
  return (log * 0x1_0000_0000 + seg * pgWal.DEFAULT_WAL_SEGMENT_SIZE) as Lsn;
}

function rmgrName(rmid: number): string {
  return pgWal.RMGR_NAMES[rmid] ?? `custom${rmid}`;
}

function describeBlocks(record: pgWal.DecodedRecord): string {
  return record.blocks
    .map((block) => {
      const rel = `${block.rel.spcNode}/${block.rel.dbNode}/${block.rel.relNode}`;
      let text = `blkref #${block.id}: rel ${rel} fork ${FORK_NAMES[block.forkNum] ?? block.forkNum} blk ${block.blkno}`;
      if (block.image) {
        text += block.image.apply ? " (FPW)" : " (FPW for WAL verification)";
        if (block.image.holeLength > 0)
          text += `; hole: offset: ${block.image.holeOffset}, length: ${block.image.holeLength}`;
        if (block.image.compression !== "none") text += `, compression: ${block.image.compression}`;
      }
      return text;
    })
    .join(", ");
}

function imageBytesOf(record: pgWal.DecodedRecord): number {
  let bytes = 0;
  for (const block of record.blocks) bytes += block.image?.length ?? 0;
  return bytes;
}

export async function walDumpCommand(args: string[]): Promise<void> {
  const { values, positionals } = parseCliArgs(
    args,
    {
      start: { type: "string" },
      limit: { type: "string" },
      stats: { type: "boolean", default: false },
      json: { type: "boolean", default: false },
    },
    { min: 1, max: 1 },
  );
  const file = positionals[0]!;
  let start: Lsn | null = null;
  if (typeof values.start === "string") {
    try {
      start = parseLsn(values.start);
    } catch (error) {
      throw new UsageError(`--start: ${(error as Error).message}`);
    }
  }
  const limit = typeof values.limit === "string" ? parseCount(values.limit, "--limit", 1) : null;
  const segmentStart = segmentStartLsn(file);
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch (error) {
    throw new CliError(`cannot read ${file}: ${(error as Error).message}`);
  }
  if (file.endsWith(".zst")) {
    try {
      bytes = pgWal.zstdDecompressFrame(bytes);
    } catch (error) {
      throw new CliError(`${file} is not a valid zstd file: ${(error as Error).message}`);
    }
  }
  const from = start ?? segmentStart;
  const offset = from - segmentStart;
  if (offset < 0 || offset >= bytes.length)
    throw new UsageError(
      `--start ${formatLsn(from)} is outside the segment (${formatLsn(segmentStart)}..${formatLsn((segmentStart + bytes.length) as Lsn)})`,
    );
  if (offset % pgWal.XLOG_BLCKSZ !== 0 && offset % 8 !== 0)
    throw new UsageError(`--start ${formatLsn(from)} is not 8-byte aligned`);

  const reader = new pgWal.WalReader({ startLsn: from });
  const stats = new Map<string, { count: number; recordBytes: number; imageBytes: number }>();
  let printed = 0;
  let stopped = false;
  const out: string[] = [];
  const flush = () => {
    if (out.length > 0) process.stdout.write(`${out.join("\n")}\n`);
    out.length = 0;
  };
  try {
    reader.feed(bytes.subarray(offset), (raw) => {
      if (stopped) return;
      const record = pgWal.decodeRecord(raw);
      const images = imageBytesOf(record);
      if (values.stats) {
        const type = `${rmgrName(record.rmid)}/0x${record.rmgrInfo.toString(16).padStart(2, "0")}`;
        const entry = stats.get(type) ?? { count: 0, recordBytes: 0, imageBytes: 0 };
        entry.count++;
        entry.recordBytes += record.totLen - images;
        entry.imageBytes += images;
        stats.set(type, entry);
      } else if (values.json) {
        out.push(
          JSON.stringify({
            lsn: formatLsn(record.lsn),
            end_lsn: formatLsn(record.endLsn),
            prev: formatLsn(record.prev),
            rmgr: rmgrName(record.rmid),
            info: record.info,
            xid: record.xid,
            rec_len: record.totLen - images,
            tot_len: record.totLen,
            blocks: record.blocks.map((b) => ({
              id: b.id,
              rel: `${b.rel.spcNode}/${b.rel.dbNode}/${b.rel.relNode}`,
              fork: FORK_NAMES[b.forkNum] ?? b.forkNum,
              blk: b.blkno,
              will_init: b.willInit,
              image: b.image
                ? {
                    apply: b.image.apply,
                    hole_offset: b.image.holeOffset,
                    hole_length: b.image.holeLength,
                    compression: b.image.compression,
                    bytes: b.image.length,
                  }
                : null,
              data_length: b.dataLength,
            })),
          }),
        );
      } else {
        out.push(
          `rmgr: ${rmgrName(record.rmid).padEnd(11)} len (rec/tot): ${String(record.totLen - images).padStart(6)}/${String(record.totLen).padStart(6)}, tx: ${String(record.xid).padStart(10)}, lsn: ${formatLsn(record.lsn)}, prev ${formatLsn(record.prev)}, info: 0x${record.info.toString(16).padStart(2, "0")}${record.blocks.length > 0 ? `, ${describeBlocks(record)}` : ""}`,
        );
      }
      if (out.length >= 1024) flush();
      printed++;
      if (limit !== null && printed >= limit) stopped = true;
    });
  } catch (error) {
    flush();
    throw new CliError(`${file}: ${(error as Error).message}`);
  }
  flush();
  if (values.stats) {
    const rows = [...stats].sort(([a], [b]) => (a < b ? -1 : 1));
    if (values.json) {
      process.stdout.write(
        `${JSON.stringify(Object.fromEntries(rows.map(([type, s]) => [type, s])))}\n`,
      );
    } else {
      for (const [type, s] of rows)
        process.stdout.write(
          `${type.padEnd(28)} ${String(s.count).padStart(8)} records ${String(s.recordBytes).padStart(12)} record bytes ${String(s.imageBytes).padStart(12)} FPI bytes\n`,
        );
    }
  }
  if (!stopped) {
    const end = reader.finish();
    process.stderr.write(
      `${printed} records; end of WAL at ${formatLsn(end.lsn)}: ${end.reason}${end.detail ? ` (${end.detail})` : ""}\n`,
    );
  }
}
