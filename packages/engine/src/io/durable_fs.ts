/**
 * Durable file-system steps: write to a temp file, fsync, rename over the target, fsync the
 * directory. After `writeFileDurably` returns, the new content survives a crash; before, the old
 * content (or nothing) does. Temp files end in `___temp` (Neon's suffix) and are removed at load.
 */
import { closeSync, fsyncSync, openSync, renameSync, writeSync } from "node:fs";
import { open, rename, unlink } from "node:fs/promises";
import path from "node:path";
import { StorageIoError } from "../errors.ts";

export const TEMP_FILE_SUFFIX = "___temp";

export function tempPathFor(target: string): string {
  return `${target}.${TEMP_FILE_SUFFIX}`;
}

export function isTempFileName(name: string): boolean {
  return name.endsWith(TEMP_FILE_SUFFIX);
}

function ioError(what: string, file: string, error: unknown): StorageIoError {
  return new StorageIoError(`${what} ${file}: ${(error as Error).message}`, { file }, error);
}

/** fsync a directory so that a rename or create in it is durable. */
export async function fsyncDirectory(directory: string): Promise<void> {
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(directory, "r");
    await handle.sync();
  } catch (error) {
    throw ioError("cannot fsync directory", directory, error);
  } finally {
    await handle?.close();
  }
}

export function fsyncDirectorySync(directory: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(directory, "r");
    fsyncSync(fd);
  } catch (error) {
    throw ioError("cannot fsync directory", directory, error);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * Writes to one target in flight, by path. Two writers of one file (a flush and a GC both saving a
 * timeline's metadata) would share its temp file: one rename would take the other's half-written
 * temp away. Queued, they land in call order, so the file ends with the newest caller's content.
 */
const writesInFlight = new Map<string, Promise<void>>();

/** Atomically replaces `target` with `data`: temp file, fsync, rename, fsync the directory. */
export async function writeFileDurably(target: string, data: Buffer | string): Promise<void> {
  const previous = writesInFlight.get(target);
  const mine = (previous ? previous.catch(() => {}) : Promise.resolve()).then(() =>
    replaceFileDurably(target, data),
  );
  writesInFlight.set(target, mine);
  try {
    await mine;
  } finally {
    if (writesInFlight.get(target) === mine) writesInFlight.delete(target);
  }
}

async function replaceFileDurably(target: string, data: Buffer | string): Promise<void> {
  const temp = tempPathFor(target);
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(temp, "w");
    await handle.writeFile(data);
    await handle.sync();
    await handle.close();
    handle = undefined;
    await rename(temp, target);
  } catch (error) {
    await handle?.close().catch(() => {});
    await unlink(temp).catch(() => {});
    throw ioError("cannot write", target, error);
  }
  await fsyncDirectory(path.dirname(target));
}

/** The synchronous twin of `writeFileDurably`, for start-up and shutdown paths. */
export function writeFileDurablySync(target: string, data: Buffer | string): void {
  const temp = tempPathFor(target);
  let fd: number | undefined;
  try {
    fd = openSync(temp, "w");
    const bytes = typeof data === "string" ? Buffer.from(data) : data;
    let done = 0;
    while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(temp, target);
  } catch (error) {
    if (fd !== undefined) closeSync(fd);
    throw ioError("cannot write", target, error);
  }
  fsyncDirectorySync(path.dirname(target));
}
