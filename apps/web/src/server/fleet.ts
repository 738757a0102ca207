/**
 * The fleet: which pageservers the console knows, by name. Three sources, merged in this order
 * (the first to use a name wins):
 *
 * 1. `CONSOLE_PAGESERVERS` (env), 2. the `CONSOLE_CONFIG` JSON file, 3. pageservers added from
 *    the UI, persisted in `<CONSOLE_DATA_DIR>/fleet.json` so that every browser and a restart see
 *    them.
 *
 * Only added pageservers can be removed from the UI; the others belong to whoever started the
 * console. The registry is re-read on every call (a few hundred bytes): route handlers and pages
 * may run in different module instances, and this way they never disagree.
 */
import "server-only";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { consoleEnv } from "~/env";

export const nodeNameSchema = z
  .string()
  .trim()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, {
    message: "a name is 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit",
  });

export const nodeUrlSchema = z
  .string()
  .trim()
  .url({ message: "expected an http(s) URL such as http://127.0.0.1:9898" })
  .refine((url) => /^https?:\/\//.test(url), { message: "expected an http:// or https:// URL" })
  .transform((url) => url.replace(/\/+$/, ""));

export const fleetEntrySchema = z.object({ name: nodeNameSchema, url: nodeUrlSchema });

export interface FleetEntry {
  readonly name: string;
  readonly url: string;
  readonly source: "env" | "config" | "added";
}

const fileSchema = z.object({ pageservers: z.array(fleetEntrySchema) });

function fleetFile(): string {
  return path.join(consoleEnv().dataDirectory, "fleet.json");
}

function fromEnv(text: string): FleetEntry[] {
  return text
    .split(",")
    .map((part) => part.trim())
    .filter((part) => part !== "")
    .map((part) => {
      const eq = part.indexOf("=");
      if (eq <= 0) throw new Error(`CONSOLE_PAGESERVERS: '${part}' is not name=url`);
      const entry = fleetEntrySchema.parse({ name: part.slice(0, eq), url: part.slice(eq + 1) });
      return { ...entry, source: "env" as const };
    });
}

function fromFile(file: string | null, source: "config" | "added"): FleetEntry[] {
  if (!file) return [];
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
  const parsed = fileSchema.parse(JSON.parse(text));
  return parsed.pageservers.map((entry) => ({ ...entry, source }));
}

export function listFleet(): FleetEntry[] {
  const env = consoleEnv();
  const merged = new Map<string, FleetEntry>();
  for (const entry of [
    ...fromEnv(env.pageservers),
    ...fromFile(env.configFile, "config"),
    ...fromFile(fleetFile(), "added"),
  ]) {
    if (!merged.has(entry.name)) merged.set(entry.name, entry);
  }
  return [...merged.values()];
}

export function findNode(name: string): FleetEntry | undefined {
  return listFleet().find((entry) => entry.name === name);
}

function saveAdded(entries: readonly FleetEntry[]): void {
  const file = fleetFile();
  mkdirSync(path.dirname(file), { recursive: true });
  const body = { pageservers: entries.map(({ name, url }) => ({ name, url })) };
  writeFileSync(`${file}.tmp`, `${JSON.stringify(body, null, 2)}\n`);
  renameSync(`${file}.tmp`, file);
}

export class FleetError extends Error {}

export function addNode(input: { name: string; url: string }): FleetEntry {
  const entry = fleetEntrySchema.parse(input);
  if (findNode(entry.name)) throw new FleetError(`a pageserver named '${entry.name}' exists`);
  const added = fromFile(fleetFile(), "added");
  const result: FleetEntry = { ...entry, source: "added" };
  saveAdded([...added, result]);
  return result;
}

export function removeNode(name: string): void {
  const existing = findNode(name);
  if (!existing) throw new FleetError(`no pageserver named '${name}'`);
  if (existing.source !== "added")
    throw new FleetError(
      `'${name}' comes from ${existing.source === "env" ? "CONSOLE_PAGESERVERS" : "CONSOLE_CONFIG"} and cannot be removed here`,
    );
  saveAdded(fromFile(fleetFile(), "added").filter((entry) => entry.name !== name));
}
