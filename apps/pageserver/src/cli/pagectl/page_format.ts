/**
 * Text forms of what pagectl prints: a PostgreSQL page header, a hex dump, a decoded value. Kept
 * apart from the commands so `layer print` and `get-page` describe pages the same way.
 */
import { BLCKSZ, decodeValue, type NeonWalRecord, type Value } from "@pageserver/engine";

/** `X/Y` of two u32 halves (a page's pd_lsn may be any bits: no range check, no throw). */
function formatLsnHalves(high: number, low: number): string {
  return `${high.toString(16).toUpperCase()}/${low.toString(16).toUpperCase()}`;
}

/** The fields of PostgreSQL's PageHeaderData (little-endian on every platform we serve). */
export interface PageHeaderSummary {
  readonly pdLsn: string;
  readonly pdChecksum: number;
  readonly pdFlags: number;
  readonly pdLower: number;
  readonly pdUpper: number;
  readonly pdSpecial: number;
  readonly pageSize: number;
  readonly layoutVersion: number;
  readonly pdPruneXid: number;
  readonly allZero: boolean;
}

export function pageHeader(page: Buffer): PageHeaderSummary {
  const allZero = page.every((byte) => byte === 0);
  const pagesizeVersion = page.readUInt16LE(18);
  return {
    pdLsn: formatLsnHalves(page.readUInt32LE(0), page.readUInt32LE(4)),
    pdChecksum: page.readUInt16LE(8),
    pdFlags: page.readUInt16LE(10),
    pdLower: page.readUInt16LE(12),
    pdUpper: page.readUInt16LE(14),
    pdSpecial: page.readUInt16LE(16),
    pageSize: pagesizeVersion & 0xff00,
    layoutVersion: pagesizeVersion & 0x00ff,
    pdPruneXid: page.readUInt32LE(20),
    allZero,
  };
}

/** One line: `pd_lsn 0/16B3748 lower 28 upper 8128 special 8192 …`, or `all zeros`. */
export function describePage(page: Buffer): string {
  if (page.length !== BLCKSZ) return `${page.length} bytes (not a ${BLCKSZ}-byte page)`;
  const header = pageHeader(page);
  if (header.allZero) return "all zeros (a new page)";
  return (
    `pd_lsn ${header.pdLsn} checksum ${header.pdChecksum} flags 0x${header.pdFlags.toString(16)} ` +
    `lower ${header.pdLower} upper ${header.pdUpper} special ${header.pdSpecial} ` +
    `size ${header.pageSize} version ${header.layoutVersion} prune_xid ${header.pdPruneXid}`
  );
}

/** `xxd`-style hex dump; runs of identical 16-byte lines collapse into `*`. */
export function hexDump(bytes: Buffer, limit = bytes.length): string {
  const lines: string[] = [];
  let previous = "";
  let starred = false;
  const end = Math.min(limit, bytes.length);
  for (let at = 0; at < end; at += 16) {
    const row = bytes.subarray(at, Math.min(at + 16, end));
    const hex = [...row].map((byte) => byte.toString(16).padStart(2, "0")).join(" ");
    if (hex === previous && at + 16 < end) {
      if (!starred) lines.push("*");
      starred = true;
      continue;
    }
    starred = false;
    previous = hex;
    const text = [...row]
      .map((byte) => (byte >= 0x20 && byte < 0x7f ? String.fromCharCode(byte) : "."))
      .join("");
    lines.push(`${at.toString(16).padStart(8, "0")}  ${hex.padEnd(47)}  |${text}|`);
  }
  if (end < bytes.length) lines.push(`... (${bytes.length - end} more bytes)`);
  return lines.join("\n");
}

function describeRecord(record: NeonWalRecord): string {
  switch (record.type) {
    case "Postgres":
      return `Postgres will_init=${record.willInit} ${record.rec.length} bytes`;
    case "ClearVisibilityMapFlags":
      return `ClearVisibilityMapFlags new=${record.newHeapBlkno} old=${record.oldHeapBlkno} flags=${record.flags}`;
    case "ClogSetCommitted":
      return `ClogSetCommitted xids=[${record.xids.join(",")}] timestamp=${record.timestamp}`;
    case "ClogSetAborted":
      return `ClogSetAborted xids=[${record.xids.join(",")}]`;
    case "MultixactOffsetCreate":
      return `MultixactOffsetCreate mid=${record.mid} moff=${record.moff}`;
    case "MultixactMembersCreate":
      return `MultixactMembersCreate moff=${record.moff} members=${JSON.stringify(record.members)}`;
    case "AuxFile":
      return `AuxFile ${record.filePath} ${record.content === null ? "deleted" : `${record.content.length} bytes`}`;
    case "TruncateVisibilityMap":
      return `TruncateVisibilityMap byte=${record.truncByte} offs=${record.truncOffs}`;
    case "Test":
      return `Test append=${JSON.stringify(record.append)} clear=${record.clear} will_init=${record.willInit} only_if=${JSON.stringify(record.onlyIf)}`;
  }
}

export function describeValue(value: Value): string {
  if (value.kind === "image") {
    if (value.image.length === BLCKSZ) return `image: ${describePage(value.image)}`;
    return `image ${value.image.length} bytes: ${value.image.subarray(0, 32).toString("hex")}${value.image.length > 32 ? "…" : ""}`;
  }
  return `record: ${describeRecord(value.record)}`;
}

/** Decodes an encoded value and describes it; a value that does not decode says why. */
export function describeEncodedValue(encoded: Buffer): string {
  try {
    return describeValue(decodeValue(encoded));
  } catch (error) {
    return `undecodable value (${(error as Error).message})`;
  }
}
