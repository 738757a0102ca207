/**
 * Reconstructs a value from a base image and the records above it (oldest first). This is the
 * single place where redo happens, so that a later PostgreSQL-native redo plugs in here.
 */
import { WalRedoError } from "../errors.ts";
import { formatKey, type Key } from "../key/key.ts";
import { formatLsn, type Lsn } from "../lsn.ts";
import type { NeonWalRecord } from "../value/value.ts";
import { applyNeonRecord, PageBuffer } from "./apply_neon.ts";

export interface RedoRecord {
  readonly lsn: Lsn;
  readonly record: NeonWalRecord;
}

export interface WalRedoStats {
  records: number;
  calls: number;
}

export const walRedoStats: WalRedoStats = { records: 0, calls: 0 };

/**
 * Told the duration of every redo (seconds) once set: the process feeds its
 * `pageserver_wal_redo_seconds` histogram with it. Unset, redo reads no clock.
 */
let redoObserver: ((seconds: number) => void) | null = null;

export function setWalRedoObserver(observer: ((seconds: number) => void) | null): void {
  redoObserver = observer;
}

/**
 * Applies `records` (oldest first) on top of `baseImage` (null when the oldest record initialises
 * the page). Returns a fresh buffer; `baseImage` is never modified.
 */
export function applyRecords(
  key: Key,
  requestLsn: Lsn,
  baseImage: Buffer | null,
  records: readonly RedoRecord[],
): Buffer {
  walRedoStats.calls++;
  walRedoStats.records += records.length;
  const observer = redoObserver;
  const startedAt = observer === null ? 0 : performance.now();
  const page = new PageBuffer(baseImage);
  for (const { lsn, record } of records) {
    try {
      applyNeonRecord(record, key, lsn, page);
    } catch (error) {
      if (error instanceof WalRedoError) {
        error.context.requestLsn = formatLsn(requestLsn);
        throw error;
      }
      throw new WalRedoError(
        `redo of ${record.type} failed`,
        { key: formatKey(key), lsn: formatLsn(lsn) },
        error,
      );
    }
  }
  const result = Buffer.from(page.view());
  if (observer !== null) observer((performance.now() - startedAt) / 1000);
  return result;
}
