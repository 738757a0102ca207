/**
 * Turns PostgreSQL-level changes (create a relation, write a block, extend, truncate, create a
 * database, commit a transaction in CLOG) into key/value puts, keeping the directory keys (DbDir,
 * RelDir, SlruDir) and size keys consistent (Neon's DatadirModification).
 *
 * `DatadirState` caches the directories and sizes as of last_record_lsn so that a put does not
 * read the timeline; it is loaded once from the timeline when ingest starts.
 */
import { assert } from "../assert.ts";
import { InvalidArgumentError } from "../errors.ts";
import {
  DBDIR_KEY,
  type Key,
  relBlockKey,
  relDirKey,
  relmapFileKey,
  relSizeKey,
  slruBlockKey,
  slruDirKey,
  slruSegmentSizeKey,
} from "../key/key.ts";
import { formatRelTag, type RelTag, SlruKind } from "../key/rel_tag.ts";
import type { Lsn } from "../lsn.ts";
import type { IngestValue } from "../timeline/timeline.ts";
import { imageValue, type NeonWalRecord, recordValue, type Value } from "../value/value.ts";
import {
  getOptional,
  listDatabases,
  listRelations,
  listSlruSegments,
  relationSize,
  slruSegmentSize,
  type ValueSource,
} from "./datadir_reader.ts";
import {
  encodeBlockCount,
  encodeDbDir,
  encodeRelDir,
  encodeSlruDir,
} from "./directory_encoding.ts";

function dbId(spcNode: number, dbNode: number): string {
  return `${spcNode}/${dbNode}`;
}

export class DatadirState {
  readonly databases = new Map<string, { spcNode: number; dbNode: number; hasRelmap: boolean }>();
  /** db id → relation forks ("relNode/forkNum") */
  readonly relations = new Map<string, Map<string, RelTag>>();
  readonly relationSizes = new Map<Key, number>();
  readonly slruSegments = new Map<SlruKind, Map<number, number>>([
    [SlruKind.Clog, new Map()],
    [SlruKind.MultiXactMembers, new Map()],
    [SlruKind.MultiXactOffsets, new Map()],
  ]);

  /** Reads the directories and sizes of a timeline at `lsn`. */
  static async load(source: ValueSource, lsn: Lsn): Promise<DatadirState> {
    const state = new DatadirState();
    for (const db of await listDatabases(source, lsn)) {
      state.databases.set(dbId(db.spcNode, db.dbNode), { ...db });
      const rels = new Map<string, RelTag>();
      for (const rel of await listRelations(source, db.spcNode, db.dbNode, lsn)) {
        rels.set(`${rel.relNode}/${rel.forkNum}`, rel);
        state.relationSizes.set(relSizeKey(rel), await relationSize(source, rel, lsn));
      }
      state.relations.set(dbId(db.spcNode, db.dbNode), rels);
    }
    for (const [kind, segments] of state.slruSegments) {
      for (const segno of await listSlruSegments(source, kind, lsn)) {
        segments.set(segno, await slruSegmentSize(source, kind, segno, lsn));
      }
    }
    return state;
  }

  relationSize(rel: RelTag): number | undefined {
    return this.relationSizes.get(relSizeKey(rel));
  }
}

/** Collects the puts of one or more WAL records; `take()` hands them to Timeline.ingest. */
export class DatadirModification {
  private readonly state: DatadirState;
  private values: IngestValue[] = [];
  lsn: Lsn = 0 as Lsn;

  constructor(state: DatadirState) {
    this.state = state;
  }

  /** Sets the LSN of the following puts (the record's LSN). */
  at(lsn: Lsn): this {
    assert(lsn >= this.lsn, "modification LSNs must not go backwards");
    this.lsn = lsn;
    return this;
  }

  put(key: Key, value: Value): void {
    this.values.push({ key, lsn: this.lsn, value });
  }

  get pending(): number {
    return this.values.length;
  }

  take(): IngestValue[] {
    const values = this.values;
    this.values = [];
    return values;
  }

  // --- databases and relations ---

  putDatabaseCreation(spcNode: number, dbNode: number, relmap: Buffer | null): void {
    const id = dbId(spcNode, dbNode);
    if (this.state.databases.has(id))
      throw new InvalidArgumentError(`database ${id} exists already`);
    this.state.databases.set(id, { spcNode, dbNode, hasRelmap: relmap !== null });
    this.state.relations.set(id, new Map());
    this.put(DBDIR_KEY, imageValue(encodeDbDir([...this.state.databases.values()])));
    this.put(relDirKey(spcNode, dbNode), imageValue(encodeRelDir([])));
    if (relmap) this.put(relmapFileKey(spcNode, dbNode), imageValue(relmap));
  }

  private relationsOf(rel: RelTag): Map<string, RelTag> {
    const rels = this.state.relations.get(dbId(rel.spcNode, rel.dbNode));
    if (!rels)
      throw new InvalidArgumentError(`relation ${formatRelTag(rel)}: its database does not exist`);
    return rels;
  }

  private putRelDir(rel: RelTag, rels: Map<string, RelTag>): void {
    this.put(
      relDirKey(rel.spcNode, rel.dbNode),
      imageValue(
        encodeRelDir([...rels.values()].map((r) => ({ relNode: r.relNode, forkNum: r.forkNum }))),
      ),
    );
  }

  putRelationCreation(rel: RelTag, nblocks = 0): void {
    const rels = this.relationsOf(rel);
    const id = `${rel.relNode}/${rel.forkNum}`;
    if (rels.has(id))
      throw new InvalidArgumentError(`relation ${formatRelTag(rel)} exists already`);
    rels.set(id, rel);
    this.putRelDir(rel, rels);
    this.setRelationSize(rel, nblocks);
  }

  putRelationDrop(rel: RelTag): void {
    const rels = this.relationsOf(rel);
    if (!rels.delete(`${rel.relNode}/${rel.forkNum}`)) return;
    this.putRelDir(rel, rels);
    this.state.relationSizes.delete(relSizeKey(rel));
  }

  private setRelationSize(rel: RelTag, nblocks: number): void {
    this.state.relationSizes.set(relSizeKey(rel), nblocks);
    this.put(relSizeKey(rel), imageValue(encodeBlockCount(nblocks)));
  }

  /** Sets the size, as a truncation or an explicit extension does. */
  putRelationSize(rel: RelTag, nblocks: number): void {
    if (this.state.relationSize(rel) === undefined)
      throw new InvalidArgumentError(`relation ${formatRelTag(rel)} does not exist`);
    this.setRelationSize(rel, nblocks);
  }

  private extendTo(rel: RelTag, block: number): void {
    const size = this.state.relationSize(rel);
    if (size === undefined)
      throw new InvalidArgumentError(
        `write to relation ${formatRelTag(rel)}, which does not exist`,
      );
    if (block >= size) this.setRelationSize(rel, block + 1);
  }

  putRelationPageImage(rel: RelTag, block: number, page: Buffer): void {
    this.extendTo(rel, block);
    this.put(relBlockKey(rel, block), imageValue(page));
  }

  putRelationWalRecord(rel: RelTag, block: number, record: NeonWalRecord): void {
    this.extendTo(rel, block);
    this.put(relBlockKey(rel, block), recordValue(record));
  }

  // --- SLRUs ---

  putSlruSegmentCreation(kind: SlruKind, segno: number, nblocks: number): void {
    const segments = this.state.slruSegments.get(kind)!;
    if (segments.has(segno))
      throw new InvalidArgumentError(`SLRU segment ${kind}/${segno} exists already`);
    segments.set(segno, nblocks);
    this.put(slruDirKey(kind), imageValue(encodeSlruDir([...segments.keys()])));
    this.put(slruSegmentSizeKey(kind, segno), imageValue(encodeBlockCount(nblocks)));
  }

  /** Writes an SLRU page, creating or extending its segment as needed. */
  putSlruPageImage(kind: SlruKind, segno: number, block: number, page: Buffer): void {
    const segments = this.state.slruSegments.get(kind)!;
    const size = segments.get(segno);
    if (size === undefined) this.putSlruSegmentCreation(kind, segno, block + 1);
    else if (block >= size) {
      segments.set(segno, block + 1);
      this.put(slruSegmentSizeKey(kind, segno), imageValue(encodeBlockCount(block + 1)));
    }
    this.put(slruBlockKey(kind, segno, block), imageValue(page));
  }

  putSlruWalRecord(kind: SlruKind, segno: number, block: number, record: NeonWalRecord): void {
    const size = this.state.slruSegments.get(kind)!.get(segno);
    if (size === undefined || block >= size) {
      throw new InvalidArgumentError(
        `SLRU record for ${kind}/${segno} block ${block}, which does not exist`,
      );
    }
    this.put(slruBlockKey(kind, segno, block), recordValue(record));
  }

  slruSegmentSize(kind: SlruKind, segno: number): number | undefined {
    return this.state.slruSegments.get(kind)!.get(segno);
  }
}

export { getOptional };
