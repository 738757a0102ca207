/**
 * A naive model of a timeline's contents for property tests: every version of every key in a
 * sorted list, and a reconstruction written independently of the engine's redo (Test records and
 * images only: text appended to text).
 */
import type { Key } from "../src/key/key.ts";
import type { Lsn } from "../src/lsn.ts";
import type { Value } from "../src/value/value.ts";

export class TimelineModel {
  readonly versions = new Map<Key, Array<{ lsn: Lsn; value: Value }>>();

  put(key: Key, lsn: Lsn, value: Value): void {
    let list = this.versions.get(key);
    if (!list) {
      list = [];
      this.versions.set(key, list);
    }
    const last = list[list.length - 1];
    if (last && last.lsn === lsn) list[list.length - 1] = { lsn, value };
    else list.push({ lsn, value });
  }

  keys(): Key[] {
    return [...this.versions.keys()];
  }

  /** The text of `key` at `lsn` (inclusive), or null when it has no value there. */
  textAt(key: Key, lsn: Lsn): string | null {
    const list = this.versions.get(key);
    if (!list) return null;
    let i = list.length - 1;
    while (i >= 0 && list[i]!.lsn > lsn) i--;
    if (i < 0) return null;
    let start = i;
    while (start >= 0) {
      const { value } = list[start]!;
      if (value.kind === "image" || (value.record.type === "Test" && value.record.willInit)) break;
      start--;
    }
    if (start < 0) return null;
    let text = "";
    for (let j = start; j <= i; j++) {
      const { value } = list[j]!;
      if (value.kind === "image") text = value.image.toString("utf8");
      else if (value.record.type === "Test") {
        if (value.record.clear) text = "";
        text += value.record.append;
      }
    }
    return text;
  }
}
