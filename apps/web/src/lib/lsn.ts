/**
 * LSNs in the browser: plain numbers (exact below 2^53, as on the server), printed and parsed in
 * PostgreSQL's `X/Y` form and the 16-digit hex form of layer names. A browser-safe twin of the
 * engine's lsn.ts (which uses Buffer and is not bundled for the browser).
 */
const TWO_POW_32 = 0x1_0000_0000;

export function formatLsn(lsn: number): string {
  const high = Math.floor(lsn / TWO_POW_32);
  const low = lsn - high * TWO_POW_32;
  return `${high.toString(16).toUpperCase()}/${low.toString(16).toUpperCase()}`;
}

/** Parses `X/Y`; null when the text is not an LSN. */
export function parseLsn(text: string): number | null {
  const match = /^\s*([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})\s*$/.exec(text);
  if (!match) return null;
  const high = Number.parseInt(match[1]!, 16);
  if (high >= 0x20_0000) return null;
  return high * TWO_POW_32 + Number.parseInt(match[2]!, 16);
}

/** Parses 16 hex digits at `offset` of `text` (the layer-name form), NaN if malformed. */
export function parseLsnHexAt(text: string, offset: number): number {
  const high = Number.parseInt(text.slice(offset, offset + 8), 16);
  const low = Number.parseInt(text.slice(offset + 8, offset + 16), 16);
  return high * TWO_POW_32 + low;
}

/** A short human form of an LSN distance: 1.5 GiB of WAL reads better than 0x60000000. */
export function formatLsnDistance(bytes: number): string {
  return formatBytes(bytes);
}

export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return "–";
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let value = Math.abs(bytes);
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  const sign = bytes < 0 ? "-" : "";
  return `${sign}${value >= 100 || unit === 0 ? value.toFixed(0) : value.toFixed(1)} ${units[unit]}`;
}
