/**
 * Atomic replacement of a set of layer files by another (compaction's commit), made durable with
 * a one-entry redo journal, `layer_swap.json`, in the timeline directory:
 *
 * 1. the outputs are written and fsynced as `<file>.___temp`;
 * 2. the journal `{inputs, outputs}` is written durably — the commit point;
 * 3. the outputs are renamed into place and the directory fsynced;
 * 4. (the in-memory layer map swaps them, in one synchronous step);
 * 5. the inputs are deleted and the journal removed.
 *
 * # Crash consistency
 * Before 2, loading deletes the temp outputs (nothing happened). After 2, loading rolls forward:
 * renames whatever outputs are still temp, deletes whatever inputs remain, removes the journal.
 */
import { existsSync, readFileSync, renameSync, rmSync, unlinkSync } from "node:fs";
import path from "node:path";
import { CorruptionError } from "../errors.ts";
import { fsyncDirectorySync, tempPathFor, writeFileDurably } from "../io/durable_fs.ts";

export const LAYER_SWAP_JOURNAL = "layer_swap.json";

export interface LayerSwap {
  /** File names (in the timeline directory) to remove. */
  readonly inputs: readonly string[];
  /** File names to install; each is written first as `<name>.___temp`. */
  readonly outputs: readonly string[];
}

export async function commitLayerSwap(directory: string, swap: LayerSwap): Promise<void> {
  await writeFileDurably(path.join(directory, LAYER_SWAP_JOURNAL), JSON.stringify(swap));
  for (const output of swap.outputs) {
    renameSync(tempPathFor(path.join(directory, output)), path.join(directory, output));
  }
  fsyncDirectorySync(directory);
}

export function finishLayerSwap(directory: string, swap: LayerSwap): void {
  for (const input of swap.inputs) rmSync(path.join(directory, input), { force: true });
  fsyncDirectorySync(directory);
  unlinkSync(path.join(directory, LAYER_SWAP_JOURNAL));
}

/** Rolls a committed swap forward at load; returns true if there was one. */
export function recoverLayerSwap(directory: string): boolean {
  const journal = path.join(directory, LAYER_SWAP_JOURNAL);
  if (!existsSync(journal)) return false;
  let swap: LayerSwap;
  try {
    swap = JSON.parse(readFileSync(journal, "utf8")) as LayerSwap;
  } catch (error) {
    throw new CorruptionError(`layer swap journal ${journal} is damaged`, { file: journal }, error);
  }
  for (const output of swap.outputs) {
    const temp = tempPathFor(path.join(directory, output));
    if (existsSync(temp)) renameSync(temp, path.join(directory, output));
  }
  finishLayerSwap(directory, swap);
  return true;
}
