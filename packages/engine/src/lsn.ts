/**
 * LSN: a position in the WAL. Neon's LSN is a u64; ours is a JS number, which is exact up to 2^53
 * (8 PiB of WAL) and far cheaper than bigint on hot paths. A value that does not fit is an input
 * error, except Neon's `u64::MAX` ("latest"), which maps to `LSN_MAX`.
 *
 * Text forms: `X/Y` (upper hex, unpadded, as PostgreSQL prints it) and 16-digit hex (layer names).
 */
import { InvalidArgumentError } from "./errors.ts";

export type Lsn = number & { readonly __brand: "Lsn" };

const TWO_POW_32 = 0x1_0000_0000;

export const LSN_INVALID = 0 as Lsn;
/** Stands for Neon's `Lsn::MAX` (u64::MAX): the highest LSN, "latest" in requests. */
export const LSN_MAX = Number.MAX_SAFE_INTEGER as Lsn;
/** WAL records start on 8-byte boundaries (MAXALIGN). */
export const LSN_ALIGNMENT = 8;

export function isValidLsnNumber(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 0;
}

/** Brands a number as an LSN, checking that it is a safe non-negative integer. */
export function asLsn(value: number): Lsn {
  if (!isValidLsnNumber(value)) {
    throw new InvalidArgumentError(`LSN ${value} is not an integer in 0..2^53-1`);
  }
  return value as Lsn;
}

export function lsnFromParts(high: number, low: number): Lsn {
  if (high === 0xffff_ffff && low === 0xffff_ffff) return LSN_MAX;
  if (high >= 0x20_0000) {
    throw new InvalidArgumentError(
      `LSN ${high.toString(16).toUpperCase()}/${low.toString(16).toUpperCase()} is above 2^53, the largest LSN this pageserver supports`,
    );
  }
  return (high * TWO_POW_32 + low) as Lsn;
}

export function lsnHigh(lsn: Lsn): number {
  return lsn === LSN_MAX ? 0xffff_ffff : Math.floor(lsn / TWO_POW_32);
}

export function lsnLow(lsn: Lsn): number {
  return lsn === LSN_MAX ? 0xffff_ffff : lsn >>> 0;
}

/** `X/Y` form, e.g. `1BC/B5734CD8`. */
export function formatLsn(lsn: Lsn): string {
  return `${lsnHigh(lsn).toString(16).toUpperCase()}/${lsnLow(lsn).toString(16).toUpperCase()}`;
}

/** 16-digit zero-padded upper hex, as in layer file names. */
export function formatLsnHex(lsn: Lsn): string {
  return (
    lsnHigh(lsn).toString(16).toUpperCase().padStart(8, "0") +
    lsnLow(lsn).toString(16).toUpperCase().padStart(8, "0")
  );
}

const LSN_TEXT = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/;
const LSN_HEX = /^[0-9A-Fa-f]{16}$/;

/** Parses `X/Y`. Anything else is an InvalidArgumentError naming the input. */
export function parseLsn(text: string): Lsn {
  const match = LSN_TEXT.exec(text);
  if (!match) {
    throw new InvalidArgumentError(`invalid LSN '${text}': expected X/Y with 1-8 hex digits each`);
  }
  return lsnFromParts(Number.parseInt(match[1]!, 16), Number.parseInt(match[2]!, 16));
}

/** Parses 16 hex digits (the layer-name form). */
export function parseLsnHex(text: string): Lsn {
  if (!LSN_HEX.test(text)) {
    throw new InvalidArgumentError(`invalid LSN '${text}': expected 16 hex digits`);
  }
  return lsnFromParts(
    Number.parseInt(text.slice(0, 8), 16),
    Number.parseInt(text.slice(8, 16), 16),
  );
}

/** Rounds up to the next multiple of 8, as PostgreSQL does for record starts. */
export function alignLsn(lsn: Lsn): Lsn {
  return (Math.ceil(lsn / LSN_ALIGNMENT) * LSN_ALIGNMENT) as Lsn;
}

export function isAlignedLsn(lsn: Lsn): boolean {
  return lsn % LSN_ALIGNMENT === 0;
}

/** Reads a big-endian u64 LSN at `offset`. */
export function readLsn(buffer: Buffer, offset: number): Lsn {
  return lsnFromParts(buffer.readUInt32BE(offset), buffer.readUInt32BE(offset + 4));
}

/** Writes an LSN as a big-endian u64 at `offset`; LSN_MAX becomes u64::MAX. */
export function writeLsn(buffer: Buffer, lsn: Lsn, offset: number): void {
  buffer.writeUInt32BE(lsnHigh(lsn), offset);
  buffer.writeUInt32BE(lsnLow(lsn), offset + 4);
}

export function minLsn(a: Lsn, b: Lsn): Lsn {
  return a < b ? a : b;
}

export function maxLsn(a: Lsn, b: Lsn): Lsn {
  return a > b ? a : b;
}

/** A half-open LSN range [start, end). */
export interface LsnRange {
  readonly start: Lsn;
  readonly end: Lsn;
}
