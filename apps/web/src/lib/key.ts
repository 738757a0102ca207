/**
 * Neon's 18-byte key in the browser: fields read from the 36-digit hex text, and `describeKey`,
 * the same decoding as the engine's (relation and block, SLRU segment and block, metadata keys),
 * for tooltips and axis labels. Browser-safe: no Buffer.
 */
const FORK_NAMES = ["", "fsm", "vm", "init"];
const SLRU_NAMES = ["pg_xact", "pg_multixact/members", "pg_multixact/offsets"];
const REL_SIZE_BLOCK = 0xffff_ffff;

function field(hex: string, start: number, end: number): number {
  return Number.parseInt(hex.slice(start, end), 16);
}

export interface KeyFields {
  readonly f1: number;
  readonly f2: number;
  readonly f3: number;
  readonly f4: number;
  readonly f5: number;
  readonly f6: number;
}

export function keyFields(key: string): KeyFields {
  return {
    f1: field(key, 0, 2),
    f2: field(key, 2, 10),
    f3: field(key, 10, 18),
    f4: field(key, 18, 26),
    f5: field(key, 26, 28),
    f6: field(key, 28, 36),
  };
}

function relText(f: KeyFields): string {
  const base = `${f.f2}/${f.f3}/${f.f4}`;
  const fork = FORK_NAMES[f.f5];
  if (fork === undefined) return `${base}_${f.f5}`;
  return fork === "" ? base : `${base}_${fork}`;
}

/** The key in PostgreSQL's terms, e.g. "rel 1663/5/16384 blk 42". */
export function describeKey(keyHex: string): string {
  const key = keyHex.toLowerCase();
  if (!/^[0-9a-f]{36}$/.test(key)) return `key ${keyHex}`;
  const f = keyFields(key);
  if (f.f1 === 0) {
    if (f.f4 !== 0)
      return f.f6 === REL_SIZE_BLOCK ? `rel ${relText(f)} size` : `rel ${relText(f)} blk ${f.f6}`;
    if (f.f2 === 0 && f.f3 === 0 && f.f6 === 0) return "db dir";
    return f.f6 === 0 ? `relmap ${f.f2}/${f.f3}` : `rel dir ${f.f2}/${f.f3}`;
  }
  if (f.f1 === 1) {
    const name = SLRU_NAMES[f.f2] ?? `slru ${f.f2}`;
    if (f.f3 === 0) return `${name} dir`;
    if (f.f6 === REL_SIZE_BLOCK) return `${name} seg ${f.f4} size`;
    return `${name} seg ${f.f4} blk ${f.f6}`;
  }
  if (f.f1 === 2) return key === "02".padEnd(36, "0") ? "twophase dir" : "twophase file";
  if (f.f1 === 3) {
    if (f.f6 === 0) return "control file";
    if (f.f6 === 1) return "checkpoint";
    if (f.f6 === 2) return "aux files (v1)";
  }
  if (f.f1 === 0x62) return "aux file";
  if (f.f1 === 0x63) return `replication origin ${f.f6}`;
  if (f.f1 === 0x65) return `rel dir v2 ${relText(f)}`;
  if (f.f1 >= 0x60 && f.f1 < 0x7f) return "metadata key";
  return `key ${key.toUpperCase()}`;
}
