/**
 * Reads PostgreSQL's view of a timeline at an LSN: databases, relations, relation sizes, SLRU
 * segments, and the key space they span (Neon's pgdatadir_mapping). The page service's Exists,
 * Nblocks, DbSize and GetSlruSegment, the keyspace API and the logical size are built on these.
 */
import { MissingKeyError, NotFoundError } from "../errors.ts";
import {
  CHECKPOINT_KEY,
  CONTROLFILE_KEY,
  DBDIR_KEY,
  type Key,
  keyNext,
  relBlockKey,
  relDirKey,
  relmapFileKey,
  relSizeKey,
  slruBlockKey,
  slruDirKey,
  slruSegmentSizeKey,
} from "../key/key.ts";
import { type KeyRange, KeySpace } from "../key/key_space.ts";
import { formatRelTag, type RelTag, SlruKind } from "../key/rel_tag.ts";
import { formatLsn, type Lsn } from "../lsn.ts";
import { BLCKSZ } from "../redo/pg_constants.ts";
import {
  type DbDirEntry,
  decodeBlockCount,
  decodeDbDir,
  decodeRelDir,
  decodeSlruDir,
  type RelDirEntry,
} from "./directory_encoding.ts";

/** What these functions read from: a timeline. */
export interface ValueSource {
  get(key: Key, lsn: Lsn): Promise<Buffer>;
}

/** The value, or null when the key does not exist at the LSN. */
export async function getOptional(source: ValueSource, key: Key, lsn: Lsn): Promise<Buffer | null> {
  try {
    return await source.get(key, lsn);
  } catch (error) {
    if (error instanceof MissingKeyError) return null;
    throw error;
  }
}

export async function listDatabases(source: ValueSource, lsn: Lsn): Promise<DbDirEntry[]> {
  const value = await getOptional(source, DBDIR_KEY, lsn);
  return value ? decodeDbDir(value) : [];
}

export async function listRelations(
  source: ValueSource,
  spcNode: number,
  dbNode: number,
  lsn: Lsn,
): Promise<RelTag[]> {
  const value = await getOptional(source, relDirKey(spcNode, dbNode), lsn);
  if (!value) return [];
  return decodeRelDir(value).map((entry: RelDirEntry) => ({
    spcNode,
    dbNode,
    relNode: entry.relNode,
    forkNum: entry.forkNum,
  }));
}

export async function relationExists(source: ValueSource, rel: RelTag, lsn: Lsn): Promise<boolean> {
  const value = await getOptional(source, relDirKey(rel.spcNode, rel.dbNode), lsn);
  if (!value) return false;
  return decodeRelDir(value).some(
    (entry) => entry.relNode === rel.relNode && entry.forkNum === rel.forkNum,
  );
}

/** Blocks in a relation fork; NotFoundError when it does not exist at the LSN. */
export async function relationSize(source: ValueSource, rel: RelTag, lsn: Lsn): Promise<number> {
  const value = await getOptional(source, relSizeKey(rel), lsn);
  if (!value) {
    throw new NotFoundError(
      `relation ${formatRelTag(rel)} does not exist at LSN ${formatLsn(lsn)}`,
      {
        lsn: formatLsn(lsn),
      },
    );
  }
  return decodeBlockCount(value);
}

/** Size in bytes of every relation of a database (Neon's DbSize answer). */
export async function databaseSize(
  source: ValueSource,
  spcNode: number,
  dbNode: number,
  lsn: Lsn,
): Promise<number> {
  let blocks = 0;
  for (const rel of await listRelations(source, spcNode, dbNode, lsn)) {
    const size = await getOptional(source, relSizeKey(rel), lsn);
    if (size) blocks += decodeBlockCount(size);
  }
  return blocks * BLCKSZ;
}

export async function listSlruSegments(
  source: ValueSource,
  kind: SlruKind,
  lsn: Lsn,
): Promise<number[]> {
  const value = await getOptional(source, slruDirKey(kind), lsn);
  return value ? decodeSlruDir(value) : [];
}

export async function slruSegmentSize(
  source: ValueSource,
  kind: SlruKind,
  segno: number,
  lsn: Lsn,
): Promise<number> {
  const value = await getOptional(source, slruSegmentSizeKey(kind, segno), lsn);
  if (!value) {
    throw new NotFoundError(
      `SLRU segment ${kind}/${segno} does not exist at LSN ${formatLsn(lsn)}`,
      {
        lsn: formatLsn(lsn),
      },
    );
  }
  return decodeBlockCount(value);
}

/** A whole SLRU segment, block after block (CLOG commit-timestamp trailers stripped). */
export async function getSlruSegment(
  source: ValueSource,
  kind: SlruKind,
  segno: number,
  lsn: Lsn,
): Promise<Buffer> {
  const nblocks = await slruSegmentSize(source, kind, segno, lsn);
  const segment = Buffer.alloc(nblocks * BLCKSZ);
  for (let block = 0; block < nblocks; block++) {
    const page = await getOptional(source, slruBlockKey(kind, segno, block), lsn);
    page?.copy(segment, block * BLCKSZ, 0, Math.min(page.length, BLCKSZ));
  }
  return segment;
}

function singleKey(key: Key): KeyRange {
  return { start: key, end: keyNext(key) };
}

/**
 * Every key that exists at the LSN (Neon's collect_keyspace): the directories, each relation's
 * blocks and size key, the SLRU segments, the control file and checkpoint.
 */
export async function collectKeyspace(source: ValueSource, lsn: Lsn): Promise<KeySpace> {
  const ranges: KeyRange[] = [singleKey(DBDIR_KEY)];
  for (const db of await listDatabases(source, lsn)) {
    ranges.push(
      singleKey(relmapFileKey(db.spcNode, db.dbNode)),
      singleKey(relDirKey(db.spcNode, db.dbNode)),
    );
    for (const rel of await listRelations(source, db.spcNode, db.dbNode, lsn)) {
      const size = await getOptional(source, relSizeKey(rel), lsn);
      const nblocks = size ? decodeBlockCount(size) : 0;
      if (nblocks > 0) ranges.push({ start: relBlockKey(rel, 0), end: relBlockKey(rel, nblocks) });
      ranges.push(singleKey(relSizeKey(rel)));
    }
  }
  for (const kind of [SlruKind.Clog, SlruKind.MultiXactMembers, SlruKind.MultiXactOffsets]) {
    ranges.push(singleKey(slruDirKey(kind)));
    for (const segno of await listSlruSegments(source, kind, lsn)) {
      const size = await getOptional(source, slruSegmentSizeKey(kind, segno), lsn);
      const nblocks = size ? decodeBlockCount(size) : 0;
      if (nblocks > 0)
        ranges.push({
          start: slruBlockKey(kind, segno, 0),
          end: slruBlockKey(kind, segno, nblocks),
        });
      ranges.push(singleKey(slruSegmentSizeKey(kind, segno)));
    }
  }
  if (await getOptional(source, CONTROLFILE_KEY, lsn)) ranges.push(singleKey(CONTROLFILE_KEY));
  if (await getOptional(source, CHECKPOINT_KEY, lsn)) ranges.push(singleKey(CHECKPOINT_KEY));
  return KeySpace.fromRanges(ranges);
}

/** Logical size: the bytes of every relation of every database (Neon's current_logical_size). */
export async function logicalSize(source: ValueSource, lsn: Lsn): Promise<number> {
  let total = 0;
  for (const db of await listDatabases(source, lsn))
    total += await databaseSize(source, db.spcNode, db.dbNode, lsn);
  return total;
}
