/**
 * Import of a PostgreSQL 15 data directory (a directory, or a tar of one) into a timeline at one
 * LSN (Neon's import_datadir): every page of every relation fork, relation sizes, the DbDir and
 * RelDir directory keys, the relmap files, the SLRU segments (pg_xact, pg_multixact/offsets,
 * pg_multixact/members) with their sizes and SlruDir, the control file and the checkpoint. It is
 * the inverse of basebackup.
 *
 * How the values get in. A single-LSN import cannot go through `Timeline.ingest` batch after
 * batch (each batch must be above last_record_lsn), and DatadirModification rewrites the
 * directory keys on every creation (fine for WAL, where each record has its own LSN; at one LSN
 * it would store the same key many times). So, as Neon does for its initial import, the pages go
 * straight into image layers at the import LSN:
 *
 * 1. Inventory: walk the directory (or the tar's headers; data is not read) and classify every
 *    file. Sizes are checked here: a relation or SLRU file that is not a multiple of 8 KiB is a
 *    DatadirImportError naming the file, before anything is written.
 * 2. Read pg_control: the import LSN is its checkpoint location (aligned), unless given.
 * 3. Write image layers in key order, a file at a time, in chunks of IMPORT_CHUNK_BYTES (memory
 *    stays at one chunk plus the writer's buffer): DbDir, then per database its relmap file,
 *    RelDir, and each fork's blocks followed by its size key; then per SLRU kind its SlruDir,
 *    segment blocks and size keys. Layers split at compaction_target_size. They cover the key
 *    space from KEY_MIN to just after the last SLRU key, so any key in it that the import did not
 *    write does not exist — exactly what an import means.
 * 4. Ingest the control file and checkpoint keys (the 0x03 prefix, outside the image layers) at
 *    the import LSN through the normal ingest path: that moves last_record_lsn to the import LSN.
 *    Then checkpoint: the flush writes that small L0 and moves disk_consistent_lsn to the import
 *    LSN and persists the metadata. Then the image layers (already durable files) join the map.
 *
 * Crash safety comes for free from step order: until step 4's flush, the image layers lie above
 * disk_consistent_lsn, and a restart removes them as future layers (Timeline.loadLayers); after
 * it, a restart loads them with the L0. Readers at the import LSN see the databases once
 * importDatadir has returned (the image layers join the map right after the flush).
 *
 * The timeline must be empty (no database yet) with last_record_lsn below the import LSN; a fresh
 * bootstrapped timeline (BOOTSTRAP_INITDB_LSN 0/1000028) is: initdb's checkpoint is always later.
 * Reads go through the normal read path (datadir_reader's listDatabases, listRelations,
 * relationSize, getSlruSegment; Timeline.get / getVectored).
 */

import type { FileHandle } from "node:fs/promises";
import { open, opendir, stat } from "node:fs/promises";
import path from "node:path";
import { getOptional, listDatabases } from "../datadir/datadir_reader.ts";
import {
  encodeBlockCount,
  encodeDbDir,
  encodeRelDir,
  encodeSlruDir,
} from "../datadir/directory_encoding.ts";
import { InvalidArgumentError } from "../errors.ts";
import {
  CHECKPOINT_KEY,
  CONTROLFILE_KEY,
  DBDIR_KEY,
  KEY_MIN,
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
import {
  DEFAULTTABLESPACE_OID,
  FSM_FORKNUM,
  GLOBALTABLESPACE_OID,
  INIT_FORKNUM,
  MAIN_FORKNUM,
  type RelTag,
  SlruKind,
  VISIBILITYMAP_FORKNUM,
} from "../key/rel_tag.ts";
import { alignLsn, formatLsn, type Lsn } from "../lsn.ts";
import { crc32c } from "../pg_wal/crc32c.ts";
import { BLCKSZ } from "../redo/pg_constants.ts";
import { LayerFileWriter } from "../storage_layer/layer_file_writer.ts";
import type { LayerName } from "../storage_layer/layer_name.ts";
import type { PersistentLayer } from "../storage_layer/persistent_layer.ts";
import type { Timeline } from "../timeline/timeline.ts";
import { encodeValue, imageValue } from "../value/value.ts";
import { DatadirImportError } from "./errors.ts";
import { readTarEntries } from "./tar_reader.ts";

export { DatadirImportError };

/** Blocks per 1 GiB relation segment file (RELSEG_SIZE). */
export const RELSEG_SIZE = 131072;
/** Bytes read from a file at a time. */
export const IMPORT_CHUNK_BYTES = 128 * BLCKSZ;

/** pg_control (PG 15): sizes, offsets of the fields read here, the version this import takes. */
const PG_CONTROL_FILE_SIZE = 8192;
const PG_CONTROL_VERSION_OFFSET = 8;
const PG_CONTROL_CHECKPOINT_OFFSET = 32;
const PG_CONTROL_CHECKPOINT_COPY_OFFSET = 40;
const CHECKPOINT_STRUCT_SIZE = 88;
/** offsetof(ControlFileData, crc): the CRC-32C covers every byte before it. */
const PG_CONTROL_CRC_OFFSET = 288;
const PG15_CONTROL_VERSION = 1300;

export type ImportSource = { directory: string } | { tarFile: string };

export interface ImportOptions {
  /** The LSN to import at; default: pg_control's checkpoint location, 8-byte aligned. */
  readonly lsn?: Lsn;
}

export interface SkippedFile {
  readonly path: string;
  readonly reason: string;
}

export interface ImportResult {
  readonly lsn: Lsn;
  readonly databases: number;
  /** Relation forks (a relation's main, fsm, vm and init forks count separately). */
  readonly relations: number;
  /** Relation blocks. */
  readonly blocks: number;
  readonly slruSegments: number;
  readonly slruBlocks: number;
  /** Bytes of file data stored: relation and SLRU pages, relmap files, pg_control. */
  readonly bytes: number;
  readonly imageLayers: number;
  /** Files not imported, by reason; `skippedFiles` lists the first SKIPPED_LIST_MAX of them. */
  readonly skipped: number;
  readonly skippedByReason: Readonly<Record<string, number>>;
  readonly skippedFiles: readonly SkippedFile[];
  readonly elapsedMs: number;
}

export const SKIPPED_LIST_MAX = 200;

// --- Sources: a directory or a tar, as a list of files that can be read at an offset ----------

interface SourceFile {
  /** Path relative to the data directory, `/`-separated. */
  readonly path: string;
  readonly size: number;
}

interface FileReader {
  /** Reads exactly `length` bytes at `offset` of the file into `buffer`. */
  read(buffer: Buffer, length: number, offset: number): Promise<void>;
  close(): Promise<void>;
}

interface DatadirSource {
  /** Every regular file; other entries (symlinks, devices) come as `skipped`. */
  walk(onFile: (file: SourceFile) => void, onSkipped: (file: SkippedFile) => void): Promise<void>;
  open(file: SourceFile): Promise<FileReader>;
  close(): Promise<void>;
}

async function readFully(
  handle: FileHandle,
  buffer: Buffer,
  length: number,
  position: number,
  name: string,
): Promise<void> {
  let done = 0;
  while (done < length) {
    const { bytesRead } = await handle.read(buffer, done, length - done, position + done);
    if (bytesRead === 0) {
      throw new DatadirImportError(
        `${name}: file ended after ${done} of ${length} bytes at offset ${position} (changed during the import?)`,
        name,
      );
    }
    done += bytesRead;
  }
}

function directorySource(root: string): DatadirSource {
  return {
    async walk(onFile, onSkipped) {
      const visit = async (relative: string): Promise<void> => {
        const directory = await opendir(path.join(root, relative));
        const names: Array<{ name: string; kind: "dir" | "file" | "other" }> = [];
        for await (const entry of directory) {
          names.push({
            name: entry.name,
            kind: entry.isDirectory() ? "dir" : entry.isFile() ? "file" : "other",
          });
        }
        names.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
        for (const { name, kind } of names) {
          const child = relative === "" ? name : `${relative}/${name}`;
          if (kind === "dir") await visit(child);
          else if (kind === "file") {
            onFile({ path: child, size: (await stat(path.join(root, child))).size });
          } else onSkipped({ path: child, reason: "not a regular file" });
        }
      };
      await visit("");
    },
    async open(file) {
      const handle = await open(path.join(root, file.path), "r");
      return {
        read: (buffer, length, offset) => readFully(handle, buffer, length, offset, file.path),
        close: () => handle.close(),
      };
    },
    async close() {},
  };
}

async function tarSource(tarFile: string): Promise<DatadirSource> {
  const handle = await open(tarFile, "r");
  const offsets = new Map<string, number>();
  return {
    async walk(onFile, onSkipped) {
      for await (const entry of readTarEntries(handle, tarFile)) {
        if (entry.name === "") continue;
        if (entry.type === "file") {
          offsets.set(entry.name, entry.dataOffset);
          onFile({ path: entry.name, size: entry.size });
        } else if (entry.type !== "directory") {
          onSkipped({ path: entry.name, reason: "not a regular file" });
        }
      }
    },
    async open(file) {
      const base = offsets.get(file.path)!;
      return {
        read: (buffer, length, offset) =>
          readFully(handle, buffer, length, base + offset, file.path),
        close: async () => {},
      };
    },
    close: () => handle.close(),
  };
}

// --- Inventory ---------------------------------------------------------------------------------

interface DatabaseInventory {
  readonly spcNode: number;
  readonly dbNode: number;
  relmap: SourceFile | null;
  /** "relNode/forkNum" → the fork and its segment files by segment number. */
  readonly forks: Map<string, { rel: RelTag; segments: Map<number, SourceFile> }>;
}

interface Inventory {
  readonly databases: Map<string, DatabaseInventory>;
  readonly slru: Map<SlruKind, Map<number, SourceFile>>;
  control: SourceFile | null;
  skipped: number;
  readonly skippedByReason: Record<string, number>;
  readonly skippedFiles: SkippedFile[];
}

const RELATION_FILE = /^([1-9][0-9]*)(?:_(fsm|vm|init))?(?:\.([1-9][0-9]*))?$/;
const DATABASE_DIR = /^[1-9][0-9]*$/;
const SLRU_SEGMENT_FILE = /^[0-9A-F]{4,6}$/;
const FORKS: Record<string, number> = {
  "": MAIN_FORKNUM,
  fsm: FSM_FORKNUM,
  vm: VISIBILITYMAP_FORKNUM,
  init: INIT_FORKNUM,
};
const SLRU_DIRECTORIES: ReadonlyArray<[string, SlruKind]> = [
  ["pg_xact", SlruKind.Clog],
  ["pg_multixact/members", SlruKind.MultiXactMembers],
  ["pg_multixact/offsets", SlruKind.MultiXactOffsets],
];

/** Top-level paths that are legitimately part of a data directory but not stored as keys. */
const NOT_STORED: ReadonlyArray<[RegExp, string]> = [
  [/^pg_wal\//, "WAL is not imported"],
  [/^pg_tblspc\//, "tablespaces other than pg_default and pg_global are not supported"],
  [/^pg_twophase\//, "two-phase state files are not imported"],
  [
    /^pg_(subtrans|commit_ts|serial|notify|snapshots|dynshmem|stat|stat_tmp|logical|replslot)\//,
    "not stored by the pageserver",
  ],
  [/^(base\/[0-9]+\/|global\/)?PG_VERSION$/, "PG_VERSION is regenerated by basebackup"],
  [
    /^[^/]+\.conf$|^postmaster\.(pid|opts)$|^backup_label|^tablespace_map|^current_logfiles$/,
    "configuration or runtime file",
  ],
  [/(^|\/)pg_internal\.init$/, "relcache init file (rebuilt by PostgreSQL)"],
  [/^base\/pgsql_tmp|\/t[0-9]+_[0-9]+/, "temporary file"],
];

function skip(inventory: Inventory, file: SkippedFile): void {
  inventory.skipped++;
  inventory.skippedByReason[file.reason] = (inventory.skippedByReason[file.reason] ?? 0) + 1;
  if (inventory.skippedFiles.length < SKIPPED_LIST_MAX) inventory.skippedFiles.push(file);
}

function databaseOf(inventory: Inventory, spcNode: number, dbNode: number): DatabaseInventory {
  const id = `${spcNode}/${dbNode}`;
  let db = inventory.databases.get(id);
  if (!db) {
    db = { spcNode, dbNode, relmap: null, forks: new Map() };
    inventory.databases.set(id, db);
  }
  return db;
}

function classify(inventory: Inventory, file: SourceFile): void {
  const parts = file.path.split("/");
  if (file.path === "global/pg_control") {
    inventory.control = file;
    return;
  }
  let db: { spcNode: number; dbNode: number } | null = null;
  let name = "";
  if (parts.length === 2 && parts[0] === "global") {
    db = { spcNode: GLOBALTABLESPACE_OID, dbNode: 0 };
    name = parts[1]!;
  } else if (parts.length === 3 && parts[0] === "base" && DATABASE_DIR.test(parts[1]!)) {
    const dbNode = Number(parts[1]);
    if (dbNode <= 0xffff_ffff) db = { spcNode: DEFAULTTABLESPACE_OID, dbNode };
    name = parts[2]!;
  }
  if (db && name === "pg_filenode.map") {
    databaseOf(inventory, db.spcNode, db.dbNode).relmap = file;
    return;
  }
  if (db) {
    const match = RELATION_FILE.exec(name);
    const relNode = match ? Number(match[1]) : 0;
    const segno = match?.[3] ? Number(match[3]) : 0;
    if (match && relNode <= 0xffff_ffff && segno < 0xffff_ffff) {
      if (file.size % BLCKSZ !== 0) {
        throw new DatadirImportError(
          `relation file ${file.path} is ${file.size} bytes, not a multiple of ${BLCKSZ} (truncated?)`,
          file.path,
          { size: file.size },
        );
      }
      const forkNum = FORKS[match[2] ?? ""]!;
      const database = databaseOf(inventory, db.spcNode, db.dbNode);
      const id = `${relNode}/${forkNum}`;
      let fork = database.forks.get(id);
      if (!fork) {
        fork = {
          rel: { spcNode: db.spcNode, dbNode: db.dbNode, relNode, forkNum },
          segments: new Map(),
        };
        database.forks.set(id, fork);
      }
      fork.segments.set(segno, file);
      return;
    }
  }
  for (const [directory, kind] of SLRU_DIRECTORIES) {
    if (parts.length === directory.split("/").length + 1 && file.path.startsWith(`${directory}/`)) {
      const segment = parts[parts.length - 1]!;
      if (!SLRU_SEGMENT_FILE.test(segment)) break;
      if (file.size % BLCKSZ !== 0) {
        throw new DatadirImportError(
          `SLRU segment ${file.path} is ${file.size} bytes, not a multiple of ${BLCKSZ} (truncated?)`,
          file.path,
          { size: file.size },
        );
      }
      inventory.slru.get(kind)!.set(Number.parseInt(segment, 16), file);
      return;
    }
  }
  for (const [pattern, reason] of NOT_STORED) {
    if (pattern.test(file.path)) {
      skip(inventory, { path: file.path, reason });
      return;
    }
  }
  skip(inventory, { path: file.path, reason: "unexpected file name" });
}

/** A fork's segment files in order; each but the last must be a full 1 GiB segment. */
function forkSegments(fork: { rel: RelTag; segments: Map<number, SourceFile> }): SourceFile[] {
  const numbers = [...fork.segments.keys()].sort((a, b) => a - b);
  const files: SourceFile[] = [];
  numbers.forEach((segno, i) => {
    const file = fork.segments.get(segno)!;
    if (segno !== i) {
      throw new DatadirImportError(
        `relation segment ${file.path}: segment ${i} of the relation is missing`,
        file.path,
      );
    }
    if (i < numbers.length - 1 && file.size !== RELSEG_SIZE * BLCKSZ) {
      throw new DatadirImportError(
        `relation segment ${file.path} is ${file.size} bytes but is followed by another segment (a full one has ${RELSEG_SIZE * BLCKSZ})`,
        file.path,
      );
    }
    files.push(file);
  });
  return files;
}

// --- pg_control ------------------------------------------------------------------------------

export interface ControlFileInfo {
  readonly controlVersion: number;
  /** The latest checkpoint's location (ControlFile.checkPoint). */
  readonly checkpointLsn: Lsn;
  /** The redo pointer of that checkpoint (checkPointCopy.redo). */
  readonly redoLsn: Lsn;
  /** The CheckPoint struct (checkPointCopy), 88 bytes: the checkpoint key's value. */
  readonly checkpoint: Buffer;
}

/** Parses and checks a PostgreSQL 15 pg_control file. */
export function parseControlFile(bytes: Buffer, file = "global/pg_control"): ControlFileInfo {
  if (bytes.length < PG_CONTROL_CRC_OFFSET + 4) {
    throw new DatadirImportError(`${file} is ${bytes.length} bytes: too short`, file);
  }
  const controlVersion = bytes.readUInt32LE(PG_CONTROL_VERSION_OFFSET);
  if (controlVersion !== PG15_CONTROL_VERSION) {
    throw new DatadirImportError(
      `${file}: pg_control_version ${controlVersion}, expected ${PG15_CONTROL_VERSION} (PostgreSQL 15)`,
      file,
    );
  }
  const stored = bytes.readUInt32LE(PG_CONTROL_CRC_OFFSET);
  const computed = crc32c(bytes, 0, PG_CONTROL_CRC_OFFSET);
  if (stored !== computed) {
    throw new DatadirImportError(
      `${file}: CRC mismatch (stored ${stored.toString(16)}, computed ${computed.toString(16)})`,
      file,
    );
  }
  return {
    controlVersion,
    checkpointLsn: Number(bytes.readBigUInt64LE(PG_CONTROL_CHECKPOINT_OFFSET)) as Lsn,
    redoLsn: Number(bytes.readBigUInt64LE(PG_CONTROL_CHECKPOINT_COPY_OFFSET)) as Lsn,
    checkpoint: Buffer.from(
      bytes.subarray(
        PG_CONTROL_CHECKPOINT_COPY_OFFSET,
        PG_CONTROL_CHECKPOINT_COPY_OFFSET + CHECKPOINT_STRUCT_SIZE,
      ),
    ),
  };
}

async function readWholeFile(
  source: DatadirSource,
  file: SourceFile,
  maxBytes: number,
): Promise<Buffer> {
  if (file.size > maxBytes) {
    throw new DatadirImportError(
      `${file.path} is ${file.size} bytes, more than ${maxBytes}`,
      file.path,
    );
  }
  const reader = await source.open(file);
  try {
    const buffer = Buffer.alloc(file.size);
    await reader.read(buffer, file.size, 0);
    return buffer;
  } finally {
    await reader.close();
  }
}

// --- Image layer output ------------------------------------------------------------------------

/** Writes keys in increasing order into image layers at one LSN, split by size. */
class ImageLayerSink {
  private writer: LayerFileWriter | null = null;
  private rangeStart: Key = KEY_MIN;
  private lastKey: Key | null = null;
  readonly layers: PersistentLayer[] = [];

  constructor(
    private readonly timeline: Timeline,
    private readonly lsn: Lsn,
    private readonly targetBytes: number,
  ) {}

  private newWriter(): LayerFileWriter {
    return new LayerFileWriter({
      directory: this.timeline.directory,
      tenantId: this.timeline.tenantId,
      timelineId: this.timeline.timelineId,
      kind: "image",
      lsnRange: { start: this.lsn, end: (this.lsn + 1) as Lsn },
    });
  }

  async put(key: Key, value: Buffer): Promise<void> {
    if (this.writer && this.writer.position >= this.targetBytes) await this.finishLayer(key);
    this.writer ??= this.newWriter();
    this.writer.put(key, this.lsn, encodeValue(imageValue(value)), true);
    this.lastKey = key;
  }

  private async finishLayer(end: Key): Promise<void> {
    const writer = this.writer!;
    this.writer = null;
    const name: LayerName = {
      kind: "image",
      keyRange: { start: this.rangeStart, end },
      lsnRange: { start: this.lsn, end: (this.lsn + 1) as Lsn },
    };
    const file = path.join(this.timeline.directory, this.timeline.newLayer(name, 0).fileName);
    const summary = await writer.finish(file, name.keyRange);
    this.layers.push(this.timeline.newLayer(name, summary.fileSize));
    this.rangeStart = end;
  }

  async finish(): Promise<PersistentLayer[]> {
    if (this.writer && this.lastKey) await this.finishLayer(keyNext(this.lastKey));
    return this.layers;
  }

  abort(): void {
    this.writer?.abort();
    this.writer = null;
  }
}

// --- The import ------------------------------------------------------------------------------

/**
 * Imports a PostgreSQL 15 data directory, or a tar of one, into `timeline` (empty, last_record_lsn
 * below the import LSN). Afterwards last_record_lsn = disk_consistent_lsn = the import LSN and
 * everything is on disk.
 */
export async function importDatadir(
  timeline: Timeline,
  source: ImportSource,
  options: ImportOptions = {},
): Promise<ImportResult> {
  const started = performance.now();
  const input =
    "directory" in source ? directorySource(source.directory) : await tarSource(source.tarFile);
  try {
    const inventory: Inventory = {
      databases: new Map(),
      slru: new Map(SLRU_DIRECTORIES.map(([, kind]) => [kind, new Map()])),
      control: null,
      skipped: 0,
      skippedByReason: {},
      skippedFiles: [],
    };
    await input.walk(
      (file) => classify(inventory, file),
      (file) => skip(inventory, file),
    );
    if (!inventory.control) {
      throw new DatadirImportError(
        "the data directory has no global/pg_control",
        "global/pg_control",
      );
    }
    const controlBytes = await readWholeFile(input, inventory.control, PG_CONTROL_FILE_SIZE);
    const control = parseControlFile(controlBytes, inventory.control.path);
    const lsn = options.lsn ?? alignLsn(control.checkpointLsn);
    await checkTimeline(timeline, lsn);

    const sink = new ImageLayerSink(timeline, lsn, timeline.config.compactionTargetSizeBytes);
    let counts: {
      relations: number;
      blocks: number;
      slruSegments: number;
      slruBlocks: number;
      bytes: number;
    };
    try {
      counts = await writeImages(input, inventory, sink);
    } catch (error) {
      sink.abort();
      throw error;
    }
    const layers = await sink.finish();
    // The control file and checkpoint go through the normal ingest path: this moves
    // last_record_lsn to the import LSN, and the checkpoint's flush moves disk_consistent_lsn
    // there (and persists it). The image layers join the layer map afterwards: an open layer
    // must not start below a historic layer's end, and historic layers go in by LSN start.
    timeline.ingest(
      [
        { key: CONTROLFILE_KEY, lsn, value: imageValue(controlBytes) },
        { key: CHECKPOINT_KEY, lsn, value: imageValue(control.checkpoint) },
      ],
      lsn,
    );
    await timeline.checkpoint();
    timeline.addLayers(layers);
    timeline.log.info(
      {
        lsn: formatLsn(lsn),
        databases: inventory.databases.size,
        relations: counts.relations,
        blocks: counts.blocks,
        layers: layers.length,
        skipped: inventory.skipped,
      },
      "imported data directory",
    );
    return {
      lsn,
      databases: inventory.databases.size,
      ...counts,
      bytes: counts.bytes + controlBytes.length,
      imageLayers: layers.length,
      skipped: inventory.skipped,
      skippedByReason: inventory.skippedByReason,
      skippedFiles: inventory.skippedFiles,
      elapsedMs: performance.now() - started,
    };
  } finally {
    await input.close();
  }
}

async function checkTimeline(timeline: Timeline, lsn: Lsn): Promise<void> {
  const context = timeline.context({ lsn: formatLsn(lsn) });
  if (timeline.state.kind !== "Active")
    throw new InvalidArgumentError(`cannot import into a ${timeline.state.kind} timeline`, context);
  if (timeline.ancestor !== null)
    throw new InvalidArgumentError("cannot import into a branch: its ancestor has data", context);
  if (lsn <= timeline.lastRecordLsn) {
    throw new InvalidArgumentError(
      `import LSN ${formatLsn(lsn)} is not above the timeline's last_record_lsn ${formatLsn(timeline.lastRecordLsn)}`,
      context,
    );
  }
  const at = timeline.lastRecordLsn;
  if (
    (await listDatabases(timeline, at)).length > 0 ||
    (await getOptional(timeline, CONTROLFILE_KEY, at))
  ) {
    throw new InvalidArgumentError("cannot import into a timeline that has data already", context);
  }
}

function byNumber<T>(map: Map<number, T>): Array<[number, T]> {
  return [...map.entries()].sort((a, b) => a[0] - b[0]);
}

/** Streams the pages of `files` (in order) as consecutive blocks. */
async function writeBlocks(
  input: DatadirSource,
  files: readonly SourceFile[],
  chunk: Buffer,
  put: (block: number, page: Buffer) => Promise<void>,
): Promise<number> {
  let block = 0;
  for (const file of files) {
    const reader = await input.open(file);
    try {
      for (let offset = 0; offset < file.size; offset += chunk.length) {
        const length = Math.min(chunk.length, file.size - offset);
        await reader.read(chunk, length, offset);
        for (let at = 0; at < length; at += BLCKSZ)
          await put(block++, chunk.subarray(at, at + BLCKSZ));
      }
    } finally {
      await reader.close();
    }
  }
  return block;
}

async function writeImages(
  input: DatadirSource,
  inventory: Inventory,
  sink: ImageLayerSink,
): Promise<{
  relations: number;
  blocks: number;
  slruSegments: number;
  slruBlocks: number;
  bytes: number;
}> {
  const chunk = Buffer.alloc(IMPORT_CHUNK_BYTES);
  let relations = 0;
  let blocks = 0;
  let slruSegments = 0;
  let slruBlocks = 0;
  let bytes = 0;
  const databases = [...inventory.databases.values()].sort(
    (a, b) => a.spcNode - b.spcNode || a.dbNode - b.dbNode,
  );
  await sink.put(
    DBDIR_KEY,
    encodeDbDir(
      databases.map((db) => ({
        spcNode: db.spcNode,
        dbNode: db.dbNode,
        hasRelmap: db.relmap !== null,
      })),
    ),
  );
  for (const db of databases) {
    if (db.relmap) {
      const relmap = await readWholeFile(input, db.relmap, 1 << 20);
      await sink.put(relmapFileKey(db.spcNode, db.dbNode), relmap);
      bytes += relmap.length;
    }
    const forks = [...db.forks.values()].sort(
      (a, b) => a.rel.relNode - b.rel.relNode || a.rel.forkNum - b.rel.forkNum,
    );
    await sink.put(
      relDirKey(db.spcNode, db.dbNode),
      encodeRelDir(forks.map((f) => ({ relNode: f.rel.relNode, forkNum: f.rel.forkNum }))),
    );
    for (const fork of forks) {
      const nblocks = await writeBlocks(input, forkSegments(fork), chunk, (block, page) =>
        sink.put(relBlockKey(fork.rel, block), page),
      );
      await sink.put(relSizeKey(fork.rel), encodeBlockCount(nblocks));
      relations++;
      blocks += nblocks;
      bytes += nblocks * BLCKSZ;
    }
  }
  for (const kind of [SlruKind.Clog, SlruKind.MultiXactMembers, SlruKind.MultiXactOffsets]) {
    const segments = byNumber(inventory.slru.get(kind)!);
    await sink.put(slruDirKey(kind), encodeSlruDir(segments.map(([segno]) => segno)));
    for (const [segno, file] of segments) {
      const nblocks = await writeBlocks(input, [file], chunk, (block, page) =>
        sink.put(slruBlockKey(kind, segno, block), page),
      );
      await sink.put(slruSegmentSizeKey(kind, segno), encodeBlockCount(nblocks));
      slruSegments++;
      slruBlocks += nblocks;
      bytes += nblocks * BLCKSZ;
    }
  }
  return { relations, blocks, slruSegments, slruBlocks, bytes };
}
