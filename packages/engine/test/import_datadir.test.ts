/**
 * Import of a PostgreSQL 15 data directory, on real data: the shared initdb tarball (as a tar and
 * untarred as a directory) and, when PostgreSQL 15 is installed, a fresh `initdb`. Every block
 * of every relation file, every SLRU page, pg_control and the directory listings are read back
 * through the timeline's normal read path and compared with the files, before and after a
 * reload of the tenant from disk.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { readInitdbTar } from "../../../test/harness/shared_data.ts";
import {
  getSlruSegment,
  listDatabases,
  listRelations,
  listSlruSegments,
  relationSize,
} from "../src/datadir/datadir_reader.ts";
import {
  generateTenantId,
  generateTimelineId,
  type TenantId,
  type TimelineId,
} from "../src/ids.ts";
import {
  DatadirImportError,
  type ImportResult,
  importDatadir,
} from "../src/import/import_datadir.ts";
import { CHECKPOINT_KEY, CONTROLFILE_KEY, type Key, relBlockKey } from "../src/key/key.ts";
import { formatRelTag, type RelTag, SlruKind } from "../src/key/rel_tag.ts";
import type { Lsn } from "../src/lsn.ts";
import { TenantManager } from "../src/tenant/tenant_manager.ts";
import type { Timeline } from "../src/timeline/timeline.ts";
import { tempDirectory, testIo } from "./helpers.ts";

const BLCKSZ = 8192;
const INITDB = "/usr/lib/postgresql/15/bin/initdb";

/** What the data directory holds, computed from the files independently of the importer. */
interface Expected {
  /** "spc/db" → relation fork text → { rel, files in segment order } */
  databases: Map<string, Map<string, { rel: RelTag; files: string[] }>>;
  clog: Map<number, string>;
  blocks: number;
}

function scanDatadir(root: string): Expected {
  const databases = new Map<string, Map<string, { rel: RelTag; files: string[] }>>();
  let blocks = 0;
  const addDir = (directory: string, spcNode: number, dbNode: number) => {
    const rels = new Map<string, { rel: RelTag; files: string[] }>();
    const forks: Record<string, number> = { "": 0, fsm: 1, vm: 2, init: 3 };
    const names = readdirSync(directory).filter((n) => /^\d+(_(fsm|vm|init))?(\.\d+)?$/.test(n));
    names.sort((a, b) => Number(a.split(".")[1] ?? 0) - Number(b.split(".")[1] ?? 0));
    for (const name of names) {
      const [, relNode, fork] = /^(\d+)(?:_(fsm|vm|init))?/.exec(name)!;
      const rel = { spcNode, dbNode, relNode: Number(relNode), forkNum: forks[fork ?? ""]! };
      const text = formatRelTag(rel);
      if (!rels.has(text)) rels.set(text, { rel, files: [] });
      rels.get(text)!.files.push(path.join(directory, name));
      blocks += statSync(path.join(directory, name)).size / BLCKSZ;
    }
    databases.set(`${spcNode}/${dbNode}`, rels);
  };
  addDir(path.join(root, "global"), 1664, 0);
  for (const db of readdirSync(path.join(root, "base"))) {
    addDir(path.join(root, "base", db), 1663, Number(db));
  }
  const clog = new Map<number, string>();
  for (const name of readdirSync(path.join(root, "pg_xact")))
    clog.set(Number.parseInt(name, 16), path.join(root, "pg_xact", name));
  return { databases, clog, blocks };
}

/** Every manager a test started: shut down at the end even when an assertion failed midway. */
const managers: TenantManager[] = [];

async function newTimeline(workdir: string, tenantConf: Record<string, unknown> = {}) {
  const manager = new TenantManager({ workdir, io: testIo(256, 32), waitLsnTimeoutMs: 2000 });
  managers.push(manager);
  await manager.load();
  const tenantId = generateTenantId();
  const tenant = (await manager.setLocation(tenantId, { mode: "AttachedSingle", tenantConf }))!;
  const timelineId = generateTimelineId();
  const { timeline } = await tenant.createTimeline({ newTimelineId: timelineId });
  return { manager, tenantId, timelineId, timeline };
}

/** Reads everything the data directory holds back through the timeline and compares. */
async function verify(timeline: Timeline, lsn: Lsn, root: string, expected: Expected) {
  const dbs = (await listDatabases(timeline, lsn)).map((d) => `${d.spcNode}/${d.dbNode}`).sort();
  assert.deepEqual(dbs, [...expected.databases.keys()].sort(), "databases");
  let blocksRead = 0;
  for (const db of await listDatabases(timeline, lsn)) {
    assert.equal(db.hasRelmap, true, `${db.spcNode}/${db.dbNode} has a relmap`);
    const wanted = expected.databases.get(`${db.spcNode}/${db.dbNode}`)!;
    const rels = await listRelations(timeline, db.spcNode, db.dbNode, lsn);
    assert.deepEqual(rels.map(formatRelTag).sort(), [...wanted.keys()].sort(), "relations");
    for (const { rel, files } of wanted.values()) {
      const content = Buffer.concat(files.map((f) => readFileSync(f)));
      const nblocks = content.length / BLCKSZ;
      assert.equal(await relationSize(timeline, rel, lsn), nblocks, `size of ${formatRelTag(rel)}`);
      for (let start = 0; start < nblocks; start += 32) {
        const keys: Key[] = [];
        for (let b = start; b < Math.min(nblocks, start + 32); b++) keys.push(relBlockKey(rel, b));
        const values = await timeline.getVectored(keys, lsn);
        keys.forEach((key, i) => {
          const page = values.get(key);
          assert.ok(
            Buffer.isBuffer(page),
            `${formatRelTag(rel)} blk ${start + i}: ${String(page)}`,
          );
          const block = start + i;
          assert.ok(
            page.equals(content.subarray(block * BLCKSZ, (block + 1) * BLCKSZ)),
            `${formatRelTag(rel)} blk ${block} differs`,
          );
          blocksRead++;
        });
      }
    }
  }
  assert.equal(blocksRead, expected.blocks, "every block read back");
  assert.deepEqual(await listSlruSegments(timeline, SlruKind.Clog, lsn), [...expected.clog.keys()]);
  for (const [segno, file] of expected.clog) {
    assert.ok(
      (await getSlruSegment(timeline, SlruKind.Clog, segno, lsn)).equals(readFileSync(file)),
    );
  }
  const offsets = path.join(root, "pg_multixact/offsets/0000");
  assert.ok(
    (await getSlruSegment(timeline, SlruKind.MultiXactOffsets, 0, lsn)).equals(
      readFileSync(offsets),
    ),
  );
  const control = readFileSync(path.join(root, "global/pg_control"));
  assert.ok((await timeline.get(CONTROLFILE_KEY, lsn)).equals(control), "pg_control stored");
  assert.ok(
    (await timeline.get(CHECKPOINT_KEY, lsn)).equals(control.subarray(40, 128)),
    "checkpoint",
  );
  return blocksRead;
}

function checkResult(result: ImportResult, expected: Expected) {
  assert.equal(result.databases, expected.databases.size);
  assert.equal(
    result.relations,
    [...expected.databases.values()].reduce((n, rels) => n + rels.size, 0),
  );
  assert.equal(result.blocks, expected.blocks);
  assert.equal(
    result.skippedByReason["unexpected file name"] ?? 0,
    0,
    JSON.stringify(result.skippedFiles),
  );
}

async function reloadAndVerify(
  workdir: string,
  tenantId: TenantId,
  timelineId: TimelineId,
  lsn: Lsn,
  root: string,
  expected: Expected,
) {
  const manager = new TenantManager({ workdir, io: testIo(64, 8) });
  managers.push(manager);
  await manager.load();
  try {
    const timeline = manager.get(tenantId).getTimeline(timelineId);
    assert.equal(timeline.lastRecordLsn, lsn);
    assert.equal(timeline.diskConsistentLsn, lsn);
    await verify(timeline, lsn, root, expected);
  } finally {
    await manager.shutdown({ flush: false });
  }
}

describe("import of a PostgreSQL 15 data directory", () => {
  const scratch = tempDirectory("import-datadir-");
  const tarFile = path.join(scratch.path, "initdb.tar");
  const datadir = path.join(scratch.path, "datadir");
  let expected: Expected;

  before(() => {
    writeFileSync(tarFile, readInitdbTar());
    mkdirSync(datadir);
    execFileSync("tar", ["-xf", tarFile, "-C", datadir]);
    expected = scanDatadir(datadir);
  });
  after(async () => {
    for (const manager of managers) await manager.shutdown({ flush: false }).catch(() => {});
    scratch[Symbol.dispose]();
  });

  test("the initdb tarball, as a tar: every block, size, listing, SLRU page and pg_control reads back, also after a reload", async () => {
    using work = tempDirectory();
    const { manager, tenantId, timelineId, timeline } = await newTimeline(work.path);
    const result = await importDatadir(timeline, { tarFile });
    checkResult(result, expected);
    const control = readFileSync(path.join(datadir, "global/pg_control"));
    assert.equal(result.lsn, Number(control.readBigUInt64LE(32)), "LSN from pg_control");
    assert.equal(timeline.lastRecordLsn, result.lsn);
    assert.equal(timeline.diskConsistentLsn, result.lsn);
    assert.ok(result.skippedByReason["WAL is not imported"]! >= 1);
    const blocks = await verify(timeline, result.lsn, datadir, expected);
    console.log(
      `# tar import: ${result.databases} databases, ${result.relations} relation forks, ${blocks} blocks, ${result.slruSegments} SLRU segments, ${result.bytes} bytes, ${result.imageLayers} image layers, ${result.skipped} files skipped, ${result.elapsedMs.toFixed(0)} ms`,
    );
    await manager.shutdown({ flush: true });
    await reloadAndVerify(work.path, tenantId, timelineId, result.lsn, datadir, expected);
  });

  test("the same data directory untarred, with an explicit LSN, splitting into several image layers", async () => {
    using work = tempDirectory();
    const { manager, tenantId, timelineId, timeline } = await newTimeline(work.path, {
      compaction_target_size: 4 * 1024 * 1024,
    });
    const lsn = 0x0200_0000 as Lsn;
    const result = await importDatadir(timeline, { directory: datadir }, { lsn });
    assert.equal(result.lsn, lsn);
    assert.ok(result.imageLayers > 1, `${result.imageLayers} image layers`);
    checkResult(result, expected);
    await verify(timeline, lsn, datadir, expected);
    await manager.shutdown({ flush: true });
    await reloadAndVerify(work.path, tenantId, timelineId, lsn, datadir, expected);
  });

  test("a relation file truncated to a non-multiple of 8192 is a DatadirImportError naming it; nothing is written", async () => {
    using work = tempDirectory();
    const broken = path.join(work.path, "broken");
    mkdirSync(path.join(broken, "global"), { recursive: true });
    mkdirSync(path.join(broken, "base", "5"), { recursive: true });
    writeFileSync(
      path.join(broken, "global/pg_control"),
      readFileSync(path.join(datadir, "global/pg_control")),
    );
    writeFileSync(path.join(broken, "base/5/16384"), Buffer.alloc(3 * BLCKSZ));
    truncateSync(path.join(broken, "base/5/16384"), 2 * BLCKSZ + 100);
    const { manager, timeline } = await newTimeline(path.join(work.path, "ps"));
    await assert.rejects(importDatadir(timeline, { directory: broken }), (error: unknown) => {
      assert.ok(error instanceof DatadirImportError, String(error));
      assert.equal(error.file, "base/5/16384");
      assert.match(error.message, /base\/5\/16384.*16484 bytes/);
      return true;
    });
    assert.equal([...timeline.layers.historicLayers()].length, 0, "no layer written");
    // A damaged pg_control is refused too.
    const control = readFileSync(path.join(broken, "global/pg_control"));
    control[100] = control[100]! ^ 0xff;
    writeFileSync(path.join(broken, "global/pg_control"), control);
    writeFileSync(path.join(broken, "base/5/16384"), Buffer.alloc(BLCKSZ));
    await assert.rejects(
      importDatadir(timeline, { directory: broken }),
      /pg_control: CRC mismatch/,
    );
    await manager.shutdown({ flush: false });
  });

  test("a tar with a bad header checksum is a DatadirImportError naming the entry", async () => {
    using work = tempDirectory();
    const tar = Buffer.from(readFileSync(tarFile));
    const name = Buffer.from("base/1/1247\0");
    let header = -1;
    for (let at = 0; at < tar.length; at += 512) {
      if (tar.subarray(at, at + name.length).equals(name)) {
        header = at;
        break;
      }
    }
    assert.ok(header > 0, "found the header of base/1/1247");
    tar[header + 100] = tar[header + 100] === 0x37 ? 0x36 : 0x37; // a mode digit
    const bad = path.join(work.path, "bad.tar");
    writeFileSync(bad, tar);
    const { manager, timeline } = await newTimeline(path.join(work.path, "ps"));
    await assert.rejects(importDatadir(timeline, { tarFile: bad }), (error: unknown) => {
      assert.ok(error instanceof DatadirImportError, String(error));
      assert.equal(error.file, "base/1/1247");
      assert.match(error.message, /bad header checksum for entry 'base\/1\/1247'/);
      return true;
    });
    // A tar cut in the middle of a file's data is refused as truncated.
    writeFileSync(bad, readFileSync(tarFile).subarray(0, header + 512 + 1000));
    await assert.rejects(importDatadir(timeline, { tarFile: bad }), /truncated/);
    await manager.shutdown({ flush: false });
  });

  const initdbSkip = !existsSync(INITDB)
    ? `PostgreSQL 15 initdb not found at ${INITDB}`
    : process.getuid?.() !== 0
      ? "initdb refuses root and this test runs it as the postgres user: needs root to switch"
      : false;
  test("a data directory made by a real initdb", { skip: initdbSkip }, async () => {
    using work = tempDirectory();
    chmodSync(work.path, 0o755);
    const pgdata = path.join(work.path, "pgdata");
    mkdirSync(pgdata);
    const { uid, gid } = userIds("postgres");
    chownSync(pgdata, uid, gid);
    execFileSync(
      "runuser",
      ["-u", "postgres", "--", INITDB, "-D", pgdata, "-A", "trust", "-U", "postgres", "--no-sync"],
      {
        stdio: "ignore",
      },
    );
    const local = scanDatadir(pgdata);
    const { manager, timeline } = await newTimeline(path.join(work.path, "ps"));
    const result = await importDatadir(timeline, { directory: pgdata });
    checkResult(result, local);
    await verify(timeline, result.lsn, pgdata, local);
    await manager.shutdown({ flush: false });
  });
});

function userIds(name: string): { uid: number; gid: number } {
  const line = readFileSync("/etc/passwd", "utf8")
    .split("\n")
    .find((l) => l.startsWith(`${name}:`));
  assert.ok(line, `user ${name} exists`);
  const fields = line.split(":");
  return { uid: Number(fields[2]), gid: Number(fields[3]) };
}
