/**
 * The expected contents of a generator-fed timeline: the generator's own values, replayed into a
 * version list per key, reconstructed with the engine's redo (this model checks storage and
 * recovery, not redo, which has its own tests).
 */

import { DatadirState } from "../src/datadir/datadir_modification.ts";
import type { Key } from "../src/key/key.ts";
import type { Lsn } from "../src/lsn.ts";
import { applyRecords, type RedoRecord } from "../src/redo/walredo.ts";
import type { Value } from "../src/value/value.ts";
import { valueWillInit } from "../src/value/value.ts";
import type { WalGenerator } from "../src/wal_generator/wal_generator.ts";

export class GeneratorModel {
  readonly versions = new Map<Key, Array<{ lsn: Lsn; value: Value }>>();
  private readonly state = new DatadirState();
  transactions = 0;

  constructor(readonly generator: WalGenerator) {}

  /** Replays transactions up to (excluding) `to`. */
  advanceTo(to: number): void {
    if (to <= this.transactions) return;
    for (const { key, lsn, value } of this.generator.generate(this.state, this.transactions, to)) {
      let list = this.versions.get(key);
      if (!list) this.versions.set(key, (list = []));
      const last = list[list.length - 1];
      if (last && last.lsn === lsn) list[list.length - 1] = { lsn, value };
      else list.push({ lsn, value });
    }
    this.transactions = to;
  }

  /** Version LSNs of a key (for choosing probe points). */
  lsnsOf(key: Key): Lsn[] {
    return (this.versions.get(key) ?? []).map((v) => v.lsn);
  }

  /** The value of `key` at `lsn`, or null if it has none there. */
  valueAt(key: Key, lsn: Lsn): Buffer | null {
    const list = this.versions.get(key);
    if (!list) return null;
    let i = list.length - 1;
    while (i >= 0 && list[i]!.lsn > lsn) i--;
    if (i < 0) return null;
    const records: RedoRecord[] = [];
    for (let j = i; j >= 0; j--) {
      const { lsn: at, value } = list[j]!;
      if (value.kind === "image") {
        records.reverse();
        return records.length === 0
          ? Buffer.from(value.image)
          : applyRecords(key, lsn, value.image, records);
      }
      records.push({ lsn: at, record: value.record });
      if (valueWillInit(value)) {
        records.reverse();
        return applyRecords(key, lsn, null, records);
      }
    }
    return null;
  }
}
