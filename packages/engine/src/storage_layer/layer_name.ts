/**
 * Neon's layer file names (reference §3):
 *
 *     delta: <KEYSTART>-<KEYEND>__<LSNSTART:016X>-<LSNEND:016X>     key and LSN ranges half-open
 *     image: <KEYSTART>-<KEYEND>__<LSN:016X>                         LSN range is lsn..lsn+1
 *
 * A local file adds `-v1-<gen:08x>`, a remote object `-<gen:08x>`; neither when the generation is
 * None. The parser accepts all three forms. `formatLayerName(parseLayerName(x).name) === x` for
 * every bare name (tested on the 26,690 names of a real timeline).
 */
import { InvalidArgumentError } from "../errors.ts";
import { asGeneration, type Generation, generationSuffix } from "../ids.ts";
import { formatKey, KEY_MAX, KEY_MIN, parseKey } from "../key/key.ts";
import type { KeyRange } from "../key/key_space.ts";
import { formatLsnHex, type Lsn, type LsnRange, parseLsnHex } from "../lsn.ts";

export type LayerKind = "delta" | "image";

export interface LayerName {
  readonly kind: LayerKind;
  readonly keyRange: KeyRange;
  /** Half-open; an image layer at LSN x has the range [x, x+1). */
  readonly lsnRange: LsnRange;
}

export interface ParsedLayerFileName {
  readonly name: LayerName;
  /** `undefined` when the text had no generation suffix. */
  readonly generation: Generation | undefined;
}

const NAME =
  /^([0-9A-Fa-f]{36})-([0-9A-Fa-f]{36})__([0-9A-Fa-f]{16})(?:-([0-9A-Fa-f]{16}))?(?:-v(\d+))?(?:-([0-9A-Fa-f]{8}))?$/;

/** Parses a layer name with an optional `-v1-xxxxxxxx` or `-xxxxxxxx` generation suffix. */
export function parseLayerFileName(text: string): ParsedLayerFileName {
  const match = NAME.exec(text);
  if (!match) {
    throw new InvalidArgumentError(
      `invalid layer name '${text.slice(0, 200)}': expected <KEY>-<KEY>__<LSN>[-<LSN>][-v1][-<generation>]`,
    );
  }
  const [, keyStart, keyEnd, lsnA, lsnB, version, generationHex] = match;
  if (version !== undefined && generationHex === undefined) {
    throw new InvalidArgumentError(
      `invalid layer name '${text}': -v${version} without a generation`,
    );
  }
  const keyRange = { start: parseKey(keyStart!), end: parseKey(keyEnd!) };
  if (keyRange.start >= keyRange.end) {
    throw new InvalidArgumentError(`invalid layer name '${text}': empty key range`);
  }
  const start = parseLsnHex(lsnA!);
  const end = lsnB === undefined ? ((start + 1) as Lsn) : parseLsnHex(lsnB);
  if (lsnB !== undefined && start >= end) {
    throw new InvalidArgumentError(`invalid layer name '${text}': empty LSN range`);
  }
  const generation =
    generationHex === undefined ? undefined : asGeneration(Number.parseInt(generationHex, 16));
  return {
    name: { kind: lsnB === undefined ? "image" : "delta", keyRange, lsnRange: { start, end } },
    generation,
  };
}

/** Parses a bare layer name (no generation suffix allowed). */
export function parseLayerName(text: string): LayerName {
  const parsed = parseLayerFileName(text);
  if (parsed.generation !== undefined) {
    throw new InvalidArgumentError(`invalid layer name '${text}': unexpected generation suffix`);
  }
  return parsed.name;
}

export function formatLayerName(name: LayerName): string {
  const keys = `${formatKey(name.keyRange.start)}-${formatKey(name.keyRange.end)}`;
  if (name.kind === "image") return `${keys}__${formatLsnHex(name.lsnRange.start)}`;
  return `${keys}__${formatLsnHex(name.lsnRange.start)}-${formatLsnHex(name.lsnRange.end)}`;
}

/** Local file name: `<name>-v1-<gen:08x>`, or the bare name for generation None. */
export function localLayerFileName(name: LayerName, generation: Generation): string {
  const base = formatLayerName(name);
  return generation === null ? base : `${base}-v1-${generationSuffix(generation)}`;
}

/** Remote object name: `<name>-<gen:08x>`, or the bare name for generation None. */
export function remoteLayerObjectName(name: LayerName, generation: Generation): string {
  const base = formatLayerName(name);
  return generation === null ? base : `${base}-${generationSuffix(generation)}`;
}

/** An L0 delta covers the whole key space (every flush makes one). */
export function isL0Name(name: LayerName): boolean {
  return name.kind === "delta" && name.keyRange.start === KEY_MIN && name.keyRange.end === KEY_MAX;
}

export function imageLsn(name: LayerName): Lsn {
  return name.lsnRange.start;
}

/**
 * Orders names as Neon does for loading (by LSN start, then key start, then kind): the layer map
 * build relies on LSN-start order.
 */
export function compareLayerNames(a: LayerName, b: LayerName): number {
  if (a.lsnRange.start !== b.lsnRange.start) return a.lsnRange.start - b.lsnRange.start;
  if (a.keyRange.start !== b.keyRange.start) return a.keyRange.start < b.keyRange.start ? -1 : 1;
  if (a.lsnRange.end !== b.lsnRange.end) return a.lsnRange.end - b.lsnRange.end;
  if (a.keyRange.end !== b.keyRange.end) return a.keyRange.end < b.keyRange.end ? -1 : 1;
  return a.kind === b.kind ? 0 : a.kind === "image" ? -1 : 1;
}

export function layerNamesEqual(a: LayerName, b: LayerName): boolean {
  return compareLayerNames(a, b) === 0;
}

export { KEY_MAX, KEY_MIN };
