/**
 * RelTag: a PostgreSQL relation fork (tablespace, database, relfilenode, fork). Text form as Neon's:
 * `spc/db/rel` for the main fork, `spc/db/rel_fsm|_vm|_init` otherwise.
 */
import { InvalidArgumentError } from "../errors.ts";

export const MAIN_FORKNUM = 0;
export const FSM_FORKNUM = 1;
export const VISIBILITYMAP_FORKNUM = 2;
export const INIT_FORKNUM = 3;
export const MAX_FORKNUM = INIT_FORKNUM;

/** pg_default and pg_global tablespace OIDs. */
export const DEFAULTTABLESPACE_OID = 1663;
export const GLOBALTABLESPACE_OID = 1664;

export interface RelTag {
  readonly spcNode: number;
  readonly dbNode: number;
  readonly relNode: number;
  readonly forkNum: number;
}

const FORK_NAMES = ["", "fsm", "vm", "init"] as const;

export function formatRelTag(rel: RelTag): string {
  const base = `${rel.spcNode}/${rel.dbNode}/${rel.relNode}`;
  const forkName = FORK_NAMES[rel.forkNum];
  if (forkName === undefined) return `${base}_${rel.forkNum}`;
  return forkName === "" ? base : `${base}_${forkName}`;
}

export function parseRelTag(text: string): RelTag {
  const match = /^(\d+)\/(\d+)\/(\d+)(?:_(fsm|vm|init))?$/.exec(text);
  if (!match) {
    throw new InvalidArgumentError(
      `invalid relation '${text}': expected spc/db/rel[_fsm|_vm|_init]`,
    );
  }
  const fields = [match[1], match[2], match[3]].map(Number);
  for (const field of fields) {
    if (!Number.isSafeInteger(field) || field! > 0xffff_ffff) {
      throw new InvalidArgumentError(`invalid relation '${text}': OIDs are u32`);
    }
  }
  return {
    spcNode: fields[0]!,
    dbNode: fields[1]!,
    relNode: fields[2]!,
    forkNum: match[4] ? FORK_NAMES.indexOf(match[4] as "fsm") : MAIN_FORKNUM,
  };
}

export function relTagEquals(a: RelTag, b: RelTag): boolean {
  return (
    a.spcNode === b.spcNode &&
    a.dbNode === b.dbNode &&
    a.relNode === b.relNode &&
    a.forkNum === b.forkNum
  );
}

/** SLRU kinds, as in Neon's key field2 and on the wire. */
export enum SlruKind {
  Clog = 0,
  MultiXactMembers = 1,
  MultiXactOffsets = 2,
}

export const SLRU_KIND_NAMES: Record<SlruKind, string> = {
  [SlruKind.Clog]: "pg_xact",
  [SlruKind.MultiXactMembers]: "pg_multixact/members",
  [SlruKind.MultiXactOffsets]: "pg_multixact/offsets",
};

export function asSlruKind(value: number): SlruKind {
  if (value !== 0 && value !== 1 && value !== 2) {
    throw new InvalidArgumentError(`invalid SLRU kind ${value}: expected 0 (clog), 1 or 2`);
  }
  return value as SlruKind;
}
