/**
 * Shared pieces of the remote-storage and eviction tests: both backends behind one handle (a
 * local directory, and S3 through a real s3rver on 127.0.0.1), each able to go down and come back;
 * a recording wrapper that can hold operations (to observe the upload queue's order); a tenant
 * manager wired to remote storage; deterministic data and an index consistency check.
 */
import assert from "node:assert/strict";
import {
  openRemote,
  REMOTE_KINDS,
  type RemoteFixture,
  type RemoteKind,
} from "../../../test/harness/remote_backends.ts";
import { DatadirModification, DatadirState } from "../src/datadir/datadir_modification.ts";
import { generationSuffix, type TenantId, type TimelineId } from "../src/ids.ts";
import { type Key, relBlockKey } from "../src/key/key.ts";
import type { RelTag } from "../src/key/rel_tag.ts";
import type { Lsn } from "../src/lsn.ts";
import { DeletionQueue } from "../src/remote/deletion_queue.ts";
import { parseIndexPart } from "../src/remote/index_part.ts";
import {
  parseIndexGeneration,
  remoteLayerKey,
  timelinePrefix,
} from "../src/remote/remote_paths.ts";
import type { RemoteObject, RemoteStorage } from "../src/remote/remote_storage.ts";
import { formatLayerName } from "../src/storage_layer/layer_name.ts";
import { BOOTSTRAP_INITDB_LSN } from "../src/tenant/tenant.ts";
import { TenantManager } from "../src/tenant/tenant_manager.ts";
import type { Timeline } from "../src/timeline/timeline.ts";
import { silentLogger } from "../src/util/logger.ts";
import { testRecord } from "../src/value/value.ts";
import { testIo } from "./helpers.ts";
import { TimelineModel } from "./model.ts";

/** Both backends, as the cross-process tests use them (test/harness/remote_backends.ts). */
export type BackendKind = RemoteKind;
export const BACKENDS = REMOTE_KINDS;
export type Backend = RemoteFixture;
/** A fresh, empty remote storage of `kind` under `directory`, able to go down and come back. */
export const openBackend = openRemote;

type OperationName = "upload" | "download" | "list" | "delete";

/**
 * A real backend with every call recorded (`events`, in completion order) and the option to hold
 * calls until released. It changes nothing about what the backend does.
 */
export class RecordingStorage implements RemoteStorage {
  readonly events: string[] = [];
  private readonly holds: Array<{
    match: (op: OperationName, key: string) => boolean;
    gate: Promise<void>;
  }> = [];

  constructor(readonly inner: RemoteStorage) {}

  get description(): string {
    return `recording ${this.inner.description}`;
  }

  /** Holds every call matching `match` (started or not yet) until the returned release. */
  hold(match: (op: OperationName, key: string) => boolean): () => void {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const entry = { match, gate };
    this.holds.push(entry);
    return () => {
      this.holds.splice(this.holds.indexOf(entry), 1);
      release();
    };
  }

  /** For each completed index upload, in order: its key and the layer keys it names. */
  readonly indexUploads: Array<{ key: string; names: string[]; at: number }> = [];

  private async run<T>(op: OperationName, key: string, work: () => Promise<T>): Promise<T> {
    this.events.push(`start ${op} ${key}`);
    for (const hold of [...this.holds]) if (hold.match(op, key)) await hold.gate;
    const result = await work();
    this.events.push(`${op} ${key}`);
    return result;
  }

  async upload(key: string, source: { file: string } | { data: Buffer }, signal?: AbortSignal) {
    await this.run("upload", key, () => this.inner.upload(key, source, signal));
    if (
      "data" in source &&
      parseIndexGeneration(key.slice(key.lastIndexOf("/") + 1)) !== undefined
    ) {
      const index = parseIndexPart(source.data, key);
      const prefix = key.slice(0, key.lastIndexOf("/") + 1);
      this.indexUploads.push({
        key,
        at: this.events.lastIndexOf(`upload ${key}`),
        names: [...index.layers.values()].map(
          (l) =>
            prefix +
            formatLayerName(l.name) +
            (l.generation === null ? "" : `-${generationSuffix(l.generation)}`),
        ),
      });
    }
  }
  downloadToFile(key: string, file: string, signal?: AbortSignal) {
    return this.run("download", key, () => this.inner.downloadToFile(key, file, signal));
  }
  download(key: string, signal?: AbortSignal) {
    return this.run("download", key, () => this.inner.download(key, signal));
  }
  list(prefix: string, signal?: AbortSignal): Promise<RemoteObject[]> {
    return this.run("list", prefix, () => this.inner.list(prefix, signal));
  }
  delete(keys: readonly string[], signal?: AbortSignal) {
    return this.run("delete", keys.join(","), () => this.inner.delete(keys, signal));
  }

  /** Completed calls of one kind, in order. */
  completed(op: OperationName): string[] {
    return this.events.filter((e) => e.startsWith(`${op} `)).map((e) => e.slice(op.length + 1));
  }
}

export interface RemoteSetup {
  readonly manager: TenantManager;
  readonly deletionQueue: DeletionQueue;
  /** Shuts the manager down (flushing or not) and the deletion queue. */
  close(options?: { flush: boolean }): Promise<void>;
}

const openSetups = new Set<RemoteSetup>();

/** Closes what a failed test left open, so its background loops do not keep the process alive. */
export async function closeOpenSetups(): Promise<void> {
  for (const setup of [...openSetups]) await setup.close().catch(() => {});
}

/** A tenant manager on `workdir` with remote storage; retries back off at most 200 ms. */
export async function remoteManager(
  workdir: string,
  storage: RemoteStorage,
  options: { detachUploadTimeoutMs?: number } = {},
): Promise<RemoteSetup> {
  const deletionQueue = new DeletionQueue(workdir, storage, silentLogger);
  deletionQueue.recover();
  const manager = new TenantManager({
    workdir,
    io: testIo(256, 32),
    waitLsnTimeoutMs: 5000,
    remote: { storage, deletionQueue, retryDelayMsMax: 200 },
    ...options,
  });
  await manager.load();
  const setup: RemoteSetup = {
    manager,
    deletionQueue,
    async close(closeOptions = { flush: false }) {
      openSetups.delete(setup);
      await manager.shutdown(closeOptions);
      await deletionQueue.shutdown();
    },
  };
  openSetups.add(setup);
  return setup;
}

/** Background loops off: tests drive compaction, GC and eviction themselves. */
export const QUIET_TENANT_CONF = { compaction_period: "0s", gc_period: "0s" };

/** The relation the tests write: blocks 0…n of one table of database 5. */
export const TEST_REL: RelTag = { spcNode: 1663, dbNode: 5, relNode: 16384, forkNum: 0 };

export function testKey(n: number): Key {
  return relBlockKey(TEST_REL, n);
}

/**
 * What a model needs besides its versions: the datadir state (so the writes are a valid
 * PostgreSQL datadir — image layers materialise only keys the directories name) and which of
 * its keys are relation blocks (the ones the tests read back).
 */
const modelState = new WeakMap<TimelineModel, { datadir: DatadirState; dataKeys: Set<Key> }>();

function stateOf(model: TimelineModel) {
  let state = modelState.get(model);
  if (!state) {
    state = { datadir: new DatadirState(), dataKeys: new Set() };
    modelState.set(model, state);
  }
  return state;
}

/** A branch's model: the parent's versions up to the branch LSN, then its own. */
export function branchModel(parent: TimelineModel, branchLsn: Lsn): TimelineModel {
  const child = new TimelineModel();
  for (const [key, versions] of parent.versions)
    for (const v of versions) if (v.lsn <= branchLsn) child.put(key, v.lsn, v.value);
  // Sharing the datadir state is right as long as no block is added after the branch point.
  const { datadir, dataKeys } = stateOf(parent);
  modelState.set(child, { datadir, dataKeys: new Set(dataKeys) });
  return child;
}

/**
 * Ingests `rounds` rounds over `keys` blocks and checkpoints after each, so every round is one
 * L0. Each value is a page image or a Test record; `padding` bytes make the layers bigger. The
 * first round of a model creates the database and the relation. Returns each round's end LSN.
 */
export async function ingestRounds(
  timeline: Timeline,
  model: TimelineModel,
  options: { rounds: number; keys: number; padding?: number; seed?: number },
): Promise<Lsn[]> {
  const { datadir, dataKeys } = stateOf(model);
  const ends: Lsn[] = [];
  let lsn = timeline.lastRecordLsn as number;
  const pad = "x".repeat(options.padding ?? 0);
  for (let round = 0; round < options.rounds; round++) {
    const m = new DatadirModification(datadir);
    if (datadir.databases.size === 0) {
      lsn += 8;
      m.at(lsn as Lsn).putDatabaseCreation(
        TEST_REL.spcNode,
        TEST_REL.dbNode,
        Buffer.from("relmap"),
      );
      m.putRelationCreation(TEST_REL, 0);
    }
    for (let k = 0; k < options.keys; k++) {
      lsn += 8;
      m.at(lsn as Lsn);
      const key = testKey(k);
      dataKeys.add(key);
      if ((round + k + (options.seed ?? 0)) % 3 === 0 || model.textAt(key, lsn as Lsn) === null)
        m.putRelationPageImage(TEST_REL, k, Buffer.from(`k${k}r${round}${pad};`));
      else m.putRelationWalRecord(TEST_REL, k, testRecord.append(`+r${round};`));
    }
    const values = m.take();
    for (const v of values) model.put(v.key, v.lsn, v.value);
    timeline.ingest(values, lsn as Lsn);
    await timeline.checkpoint();
    ends.push(lsn as Lsn);
  }
  return ends;
}

/** The relation blocks a model holds (what readAll reads). */
export function dataKeysOf(model: TimelineModel): Key[] {
  return [...stateOf(model).dataKeys];
}

/** Reads every key of the model at every LSN in `lsns`: `key@lsn` → text. */
export async function readAll(
  timeline: Timeline,
  model: TimelineModel,
  lsns: readonly Lsn[],
): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const keys = dataKeysOf(model);
  for (const lsn of lsns) {
    for (let at = 0; at < keys.length; at += 32) {
      const batch = keys.slice(at, at + 32);
      const values = await timeline.getVectored(batch, lsn);
      for (const key of batch) {
        const value = values.get(key)!;
        if (value instanceof Error) throw value;
        out.set(`${key}@${lsn}`, value.toString("utf8"));
      }
    }
  }
  return out;
}

/** The model's answers for the same points as readAll. */
export function expectedAll(model: TimelineModel, lsns: readonly Lsn[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const lsn of lsns)
    for (const key of dataKeysOf(model)) {
      const text = model.textAt(key, lsn);
      if (text !== null) out.set(`${key}@${lsn}`, text);
    }
  return out;
}

export const START_LSN = BOOTSTRAP_INITDB_LSN;

/**
 * Checks, straight from remote storage, that every index_part.json of the timeline names only
 * objects that exist with the size it says. Returns the newest index's layer names.
 */
export async function checkRemoteIndexes(
  storage: RemoteStorage,
  tenantId: TenantId,
  timelineId: TimelineId,
): Promise<{ newestLayers: Set<string>; indexes: number }> {
  const prefix = timelinePrefix(tenantId, timelineId);
  const objects = new Map((await storage.list(prefix)).map((o) => [o.key, o.size]));
  let newest: { generation: number; layers: Set<string> } | null = null;
  let indexes = 0;
  for (const key of objects.keys()) {
    const generation = parseIndexGeneration(key.slice(prefix.length));
    if (generation === undefined) continue;
    indexes++;
    const index = parseIndexPart(await storage.download(key), key);
    for (const layer of index.layers.values()) {
      const layerKey = remoteLayerKey(tenantId, timelineId, layer.name, layer.generation);
      assert.ok(objects.has(layerKey), `${key} names ${layerKey}, which does not exist`);
      assert.equal(objects.get(layerKey), layer.fileSize, `size of ${layerKey}`);
    }
    const g = generation ?? -1;
    if (!newest || g > newest.generation)
      newest = { generation: g, layers: new Set(index.layers.keys()) };
  }
  return { newestLayers: newest?.layers ?? new Set(), indexes };
}

/** Polls `check` every 20 ms until it holds or `timeoutMs` passes (then fails with `what`). */
export async function eventually(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export { TimelineModel };
