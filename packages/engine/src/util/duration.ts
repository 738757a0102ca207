/**
 * Durations in humantime's text form, as Neon's config files and API use them: `20s`, `10m`,
 * `1h`, `7days`, `1h 30m`, `100ms`. Parsed to milliseconds; formatted back compactly.
 */
import { InvalidArgumentError } from "../errors.ts";

const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  nsec: 1e-6,
  us: 1e-3,
  usec: 1e-3,
  ms: 1,
  msec: 1,
  millis: 1,
  s: 1000,
  sec: 1000,
  secs: 1000,
  second: 1000,
  seconds: 1000,
  m: 60_000,
  min: 60_000,
  mins: 60_000,
  minute: 60_000,
  minutes: 60_000,
  h: 3_600_000,
  hr: 3_600_000,
  hrs: 3_600_000,
  hour: 3_600_000,
  hours: 3_600_000,
  d: 86_400_000,
  day: 86_400_000,
  days: 86_400_000,
  w: 604_800_000,
  week: 604_800_000,
  weeks: 604_800_000,
};

/** Parses `1h 30m`, `20s`, `7 days`; a bare `0` is zero. */
export function parseDuration(text: string): number {
  const trimmed = text.trim();
  if (trimmed === "0") return 0;
  const part = /(\d+(?:\.\d+)?)\s*([a-zA-Z]+)/y;
  let total = 0;
  let position = 0;
  let parts = 0;
  while (position < trimmed.length) {
    while (trimmed[position] === " ") position++;
    if (position >= trimmed.length) break;
    part.lastIndex = position;
    const match = part.exec(trimmed);
    const unit = match ? UNIT_MS[match[2]!.toLowerCase()] : undefined;
    if (!match || unit === undefined) {
      throw new InvalidArgumentError(
        `invalid duration '${text}': expected e.g. 20s, 10m, 1h, 7days`,
      );
    }
    total += Number(match[1]) * unit;
    position = part.lastIndex;
    parts++;
  }
  if (parts === 0) throw new InvalidArgumentError(`invalid duration '${text}': empty`);
  return total;
}

const FORMAT_UNITS: Array<[string, number]> = [
  ["days", 86_400_000],
  ["h", 3_600_000],
  ["m", 60_000],
  ["s", 1000],
  ["ms", 1],
];

/** Formats milliseconds as humantime does (`7days`, `1h 30m`, `20s`). */
export function formatDuration(ms: number): string {
  if (ms === 0) return "0s";
  let rest = Math.round(ms);
  const parts: string[] = [];
  for (const [unit, size] of FORMAT_UNITS) {
    if (rest >= size) {
      const count = Math.floor(rest / size);
      rest -= count * size;
      parts.push(`${count}${unit === "days" && count === 1 ? "day" : unit}`);
    }
  }
  return parts.join(" ");
}
