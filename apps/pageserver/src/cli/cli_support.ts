/**
 * What every CLI of this package shares: argument parsing with usage errors, the exit-code
 * contract (0 ok, 1 failure with a message on stderr naming the cause, 2 bad usage), and small
 * parsers for the values our flags take (durations, byte sizes, `host:port`, connection strings).
 *
 * Why a contract: scripts and tests tell "you called it wrong" (2) from "it ran and failed" (1)
 * without parsing text, and the one line on stderr is written for a person: it names the file,
 * the server or the argument that was wrong.
 */
import { type ParseArgsConfig, parseArgs } from "node:util";
import { PageserverError } from "@pageserver/engine";

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** The command line is wrong: exit code 2 and the usage text. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

/** A failure the CLI explains itself (exit code 1): the message is printed as is. */
export class CliError extends Error {
  override readonly name = "CliError";
}

export type CliOptions = NonNullable<ParseArgsConfig["options"]>;

/** `util.parseArgs` with strict checking; its complaints become UsageErrors. */
export function parseCliArgs<T extends CliOptions>(
  args: readonly string[],
  options: T,
  positionals: { min: number; max: number },
): { values: Record<string, string | boolean | string[] | undefined>; positionals: string[] } {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: [...args], options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const count = parsed.positionals.length;
  if (count < positionals.min) throw new UsageError("missing arguments");
  if (count > positionals.max) {
    throw new UsageError(`unexpected argument '${parsed.positionals[positionals.max]}'`);
  }
  return {
    values: parsed.values as Record<string, string | boolean | string[] | undefined>,
    positionals: parsed.positionals,
  };
}

/** How a failure reads on stderr: the typed error's class and code, then its message. */
export function describeFailure(error: unknown): string {
  if (error instanceof CliError) return error.message;
  if (error instanceof PageserverError) return `${error.name} [${error.code}]: ${error.message}`;
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code ? `${error.message} (${code})` : error.message;
  }
  return String(error);
}

/**
 * Runs a CLI's main function and sets the exit code by the contract above. The process is left to
 * exit by itself (so piped stdout is flushed); a main that leaves a socket open is a bug.
 */
export async function runCli(
  name: string,
  usage: string,
  main: (args: string[]) => Promise<void>,
): Promise<void> {
  // A reader that went away (`pagectl … | head`) is not a failure of ours.
  process.stdout.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE") process.exit(EXIT_OK);
    throw error;
  });
  try {
    await main(process.argv.slice(2));
    process.exitCode = EXIT_OK;
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`${name}: ${error.message}\n\n${usage}\n`);
      process.exitCode = EXIT_USAGE;
      return;
    }
    process.stderr.write(`${name}: ${describeFailure(error)}\n`);
    process.exitCode = EXIT_FAILURE;
  }
}

/** A non-negative integer argument, or a UsageError naming the flag. */
export function parseCount(text: string | undefined, what: string, min = 0): number {
  const value = Number(text);
  if (text === undefined || text.trim() === "" || !Number.isSafeInteger(value) || value < min) {
    throw new UsageError(`${what} must be an integer ≥ ${min}, got '${text ?? ""}'`);
  }
  return value;
}

/** A finite number argument in [min, max]. */
export function parseNumber(text: string | undefined, what: string, min: number, max: number) {
  const value = Number(text);
  if (text === undefined || text.trim() === "" || !Number.isFinite(value)) {
    throw new UsageError(`${what} must be a number, got '${text ?? ""}'`);
  }
  if (value < min || value > max) throw new UsageError(`${what} must be in ${min}..${max}`);
  return value;
}

const DURATION_UNITS_MS: Record<string, number> = {
  us: 0.001,
  ms: 1,
  s: 1000,
  sec: 1000,
  m: 60_000,
  min: 60_000,
  h: 3_600_000,
};

/** A humantime-style duration (`10s`, `1m 30s`, `250ms`; a bare number is seconds) in ms. */
export function parseDurationMs(text: string, what: string): number {
  const trimmed = text.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed) * 1000;
  let total = 0;
  let matched = "";
  for (const match of trimmed.matchAll(/(\d+(?:\.\d+)?)\s*(us|ms|sec|min|s|m|h)\s*/g)) {
    total += Number(match[1]) * DURATION_UNITS_MS[match[2]!]!;
    matched += match[0];
  }
  if (matched.length !== trimmed.length || matched.length === 0) {
    throw new UsageError(`${what} must be a duration like 10s, 1m or 500ms, got '${text}'`);
  }
  return total;
}

const SIZE_UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  kib: 1024,
  kb: 1000,
  mib: 1024 ** 2,
  mb: 1000 ** 2,
  gib: 1024 ** 3,
  gb: 1000 ** 3,
};

/** A byte size: `268435456`, `256MiB`, `1GiB`, `64kb`. */
export function parseBytes(text: string, what: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([a-zA-Z]*)$/.exec(text.trim());
  const unit = SIZE_UNITS[(match?.[2] ?? "").toLowerCase()];
  if (!match || unit === undefined) {
    throw new UsageError(`${what} must be a size like 268435456 or 256MiB, got '${text}'`);
  }
  return Math.round(Number(match[1]) * unit);
}

/** `host:port` (IPv6 in brackets). */
export function parseHostPort(text: string, what: string): { host: string; port: number } {
  const match = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(text.trim());
  const port = Number(match?.[2]);
  if (!match || port < 1 || port > 65535) {
    throw new UsageError(`${what} must be host:port, got '${text}'`);
  }
  return { host: match[1]!.replace(/^\[|\]$/g, ""), port };
}

/** Bytes as a short human string: `1.5 GiB`. */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(value >= 100 ? 0 : 1)} ${units[unit]}`;
}

/** GETs JSON from a management API; failures name the URL and the server's `msg`. */
export async function fetchJson<T>(url: string, init: RequestInit = {}): Promise<T> {
  let response: Response;
  try {
    response = await fetch(url, init);
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    throw new CliError(
      `cannot reach ${url}: ${cause?.code ?? cause?.message ?? (error as Error).message}`,
    );
  }
  const text = await response.text();
  if (!response.ok) {
    let message = text.slice(0, 500);
    try {
      message = (JSON.parse(text) as { msg?: string }).msg ?? message;
    } catch {}
    throw new CliError(`${init.method ?? "GET"} ${url} failed with ${response.status}: ${message}`);
  }
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new CliError(`${url} did not answer JSON: ${text.slice(0, 200)}`);
  }
}
