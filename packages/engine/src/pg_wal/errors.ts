/**
 * Typed errors of the PostgreSQL WAL decoder. All of them are corruption of input from outside
 * (WAL bytes), so they extend the engine's CorruptionError (code PS_ERR_CORRUPTION) and name the
 * LSN of the record (or page) in `context.lsn`, in PostgreSQL's `X/Y` form. `context.walError`
 * tells them apart without instanceof.
 *
 * The end of valid WAL (zeros, a recycled page, a torn last record) is *not* an error: the reader
 * reports it as its end state.
 */
import { CorruptionError, type ErrorContext } from "../errors.ts";
import { formatLsn, type Lsn } from "../lsn.ts";

export type WalErrorKind = "crc" | "record_format" | "page_format" | "image";

export class WalDecodeError extends CorruptionError {
  readonly walError: WalErrorKind;
  readonly lsn: Lsn;

  constructor(kind: WalErrorKind, lsn: Lsn, message: string, context: ErrorContext = {}) {
    const at = formatLsn(lsn);
    super(`WAL ${kind.replace("_", " ")} error at ${at}: ${message}`, {
      ...context,
      lsn: at,
      walError: kind,
    });
    this.walError = kind;
    this.lsn = lsn;
  }
}

/** A complete record whose CRC-32C does not match its contents. */
export class WalCrcError extends WalDecodeError {
  constructor(lsn: Lsn, expected: number, actual: number) {
    super(
      "crc",
      lsn,
      `record CRC-32C mismatch: stored ${hex32(expected)}, computed ${hex32(actual)}`,
      { expectedCrc: hex32(expected), actualCrc: hex32(actual) },
    );
  }
}

/** A record's fragment headers do not parse: unknown block id, truncated header, bad lengths. */
export class WalRecordFormatError extends WalDecodeError {
  constructor(lsn: Lsn, message: string, context: ErrorContext = {}) {
    super("record_format", lsn, message, context);
  }
}

/** A page header that is ours (right magic and address) but does not fit this reader's setup. */
export class WalPageFormatError extends WalDecodeError {
  constructor(lsn: Lsn, message: string, context: ErrorContext = {}) {
    super("page_format", lsn, message, context);
  }
}

/** A block image that cannot be turned into an 8192-byte page (bad compressed data, wrong size). */
export class WalImageError extends WalDecodeError {
  constructor(lsn: Lsn, message: string, context: ErrorContext = {}) {
    super("image", lsn, message, context);
  }
}

function hex32(value: number): string {
  return `0x${(value >>> 0).toString(16).padStart(8, "0")}`;
}
