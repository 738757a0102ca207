/**
 * Small per-timeline state kept in a JSON file of its own (GC blocking, archival): absent means
 * the default (not blocked, not archived), so only a timeline that holds the state has a file.
 * Writes are durable (temp file, fsync, rename, fsync the directory); a file that does not parse
 * is corruption, named, never silently the default.
 */
import { existsSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import type { z } from "zod";
import { CorruptionError } from "../errors.ts";
import { fsyncDirectory, writeFileDurably } from "./durable_fs.ts";

export function loadJsonState<T extends z.ZodType>(
  directory: string,
  fileName: string,
  schema: T,
): z.output<T> | null {
  const file = path.join(directory, fileName);
  if (!existsSync(file)) return null;
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    throw new CorruptionError(`${file} is not JSON`, { file }, error);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success)
    throw new CorruptionError(`${file} is invalid: ${parsed.error.issues[0]!.message}`, { file });
  return parsed.data;
}

/** Writes `value` durably, or removes the file when `value` is null. */
export async function saveJsonState(
  directory: string,
  fileName: string,
  value: unknown,
): Promise<void> {
  const file = path.join(directory, fileName);
  if (value === null) {
    if (!existsSync(file)) return;
    rmSync(file);
    await fsyncDirectory(directory);
    return;
  }
  await writeFileDurably(file, `${JSON.stringify(value)}\n`);
}
